"""Examples that print as the JSON they are.

Hypothesis shows a failing example as the calls that built it when it can
(``functools.partial(_assemble, ...)(...)``): it records each ``map`` and
``builds`` call on the object it made. Every public strategy ends in
``printable``: a copy of the value, drawn through ``flatmap`` and ``just``,
which record no call, so the example prints as its plain repr.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

T = TypeVar("T")


def printable(strategy: SearchStrategy[T]) -> SearchStrategy[T]:
    """``strategy``, its values copied so that they print as themselves."""
    return strategy.flatmap(_just_a_copy)


def _just_a_copy(value: Any) -> SearchStrategy[Any]:
    return st.just(_copy(value))


def _copy(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value,
            **{f.name: copy.deepcopy(getattr(value, f.name)) for f in dataclasses.fields(value)},
        )
    return copy.deepcopy(value)
