"""Recognise the schema shapes that read as choices rather than as alternatives.

Shared by the explainer (to phrase errors as "must be one of ...") and by the
Hypothesis strategies (to generate from the same reading of the document).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Keywords a combination-table branch may carry besides its pinned properties.
_ANNOTATIONS = {"properties", "title", "description"}


def branch_constants(branches: Iterable[Any]) -> list[Any] | None:
    """The allowed values when every branch of a oneOf/anyOf pins a constant (or an enum)."""
    values: list[Any] = []
    for branch in branches:
        if isinstance(branch, Mapping) and "const" in branch:
            values.append(branch["const"])
        elif isinstance(branch, Mapping) and isinstance(branch.get("enum"), list):
            values.extend(branch["enum"])
        else:
            return None
    return values


def combination_table(branches: Iterable[Any]) -> tuple[list[str], list[tuple[Any, ...]]] | None:
    """Read a oneOf whose branches each pin several properties (e.g. width + height).

    Returns the property names and one row of values per branch, or None when
    the branches are anything else.
    """
    keys: list[str] = []
    rows: list[dict[str, Any]] = []
    for branch in branches:
        props = branch.get("properties") if isinstance(branch, Mapping) else None
        if not isinstance(props, Mapping) or not props or set(branch) - _ANNOTATIONS:
            return None
        row: dict[str, Any] = {}
        for key, sub in props.items():
            if not isinstance(sub, Mapping) or "const" not in sub:
                return None
            row[key] = sub["const"]
            if key not in keys:
                keys.append(key)
        rows.append(row)
    if len(keys) < 2 or any(set(row) != set(keys) for row in rows):
        return None
    return keys, [tuple(row[k] for k in keys) for row in rows]
