"""JSON values for property tests, and an exact reading of them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # including integers far beyond 64 bits
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def exact(value: Any) -> str:
    """Tells 1 from 1.0 and 0.0 from -0.0, which == does not."""
    return json.dumps(value, sort_keys=True)
