"""JSON values: the aliases the strategies share, arbitrary JSON, JSON's own types and equality."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

JSON = Any
Path = tuple[str | int, ...]
Task = dict[str, JSON]
Broken = tuple[JSON, Path]  # a value and the path (relative to it) of what is wrong


def json_scalars() -> SearchStrategy[JSON]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )


def json_values(max_leaves: int = 12) -> SearchStrategy[JSON]:
    """Any JSON value: null, booleans, numbers, strings, arrays and objects."""
    return st.recursive(
        json_scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(max_size=10), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def json_type(value: JSON) -> str:
    """The JSON Schema type of ``value`` (``6.0`` is an integer, as JSON Schema says)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_equal(a: JSON, b: JSON) -> bool:
    """JSON equality: ``6 == 6.0`` but ``true != 1`` (unlike Python's ``==``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def fits_types(value: JSON, types: Sequence[str] | None) -> bool:
    """Whether ``value`` is of one of ``types`` (None: any type; integers are numbers)."""
    if types is None:
        return True
    kind = json_type(value)
    return kind in types or (kind == "integer" and "number" in types)


def other_spellings(values: Sequence[JSON]) -> list[JSON]:
    """Near spellings of values: ``6 -> 6.0``, ``1 -> true``, ``0 -> "0"``, ``"URL" -> "url"``."""
    out: list[JSON] = []
    for v in values:
        if isinstance(v, bool):
            out += [int(v), float(v), str(v).lower()]
        elif isinstance(v, int):
            out += [float(v), str(v), v + 1, v - 1]
            if v in (0, 1):
                out.append(bool(v))
        elif isinstance(v, float):
            out += [str(v), v + 0.5]
            if v.is_integer():
                out.append(int(v))
        elif isinstance(v, str):
            out += [v.upper(), v.lower(), v + " ", v + "\n"]
    return out
