"""A schema location as the compiler reads it: ``$ref`` and ``allOf`` folded into one keyword map.

``allOf`` parts are merged keyword by keyword (``MERGES`` says how each keyword
combines with an earlier one); ``oneOf``/``anyOf`` stay as groups of branches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ltxmock.validators.shapes import branch_constants, combination_table

from .jsonvalues import JSON, json_equal

SUPPORTED = frozenset(
    {
        "type",
        "const",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "dependentRequired",
        "default",
    }
)
UNSUPPORTED = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "multipleOf",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "prefixItems",
        "patternProperties",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "dependentSchemas",
        "unevaluatedProperties",
        "unevaluatedItems",
        "$dynamicRef",
    }
)


@dataclass(frozen=True)
class Group:
    """One ``oneOf`` or ``anyOf`` of a location, its branches as written."""

    kind: str  # "oneOf" or "anyOf"
    branches: tuple[JSON, ...]

    def constants(self) -> list[JSON] | None:
        """The branches' constants, when every branch pins one value."""
        return branch_constants(self.branches)

    def table(self) -> tuple[list[str], list[tuple[JSON, ...]]] | None:
        """The (keys, rows) of a combination table of objects pinning several properties."""
        return combination_table(self.branches)

    def is_distinct_table(self) -> bool:
        """A combination table no two rows of which are equal (so oneOf holds by construction)."""
        table = self.table()
        if table is None:
            return False
        _, rows = table
        return all(
            not all(json_equal(a, b) for a, b in zip(r, s, strict=True))
            for i, r in enumerate(rows)
            for s in rows[i + 1 :]
        )


@dataclass(eq=False)
class Flat:
    """One schema location with ``$ref`` and ``allOf`` folded into a keyword map."""

    keywords: dict[str, JSON]
    groups: tuple[Group, ...]
    source: JSON  # the schema as written, to check values against

    @property
    def types(self) -> tuple[str, ...] | None:
        declared = self.keywords.get("type")
        if declared is None:
            return None
        return (declared,) if isinstance(declared, str) else tuple(declared)

    @property
    def properties(self) -> Mapping[str, JSON]:
        props = self.keywords.get("properties", {})
        return props if isinstance(props, Mapping) else {}

    @property
    def is_object(self) -> bool:
        types = self.types
        return types == ("object",) or (types is None and "properties" in self.keywords)

    @property
    def is_array(self) -> bool:
        types = self.types
        return types == ("array",) or (types is None and "items" in self.keywords)


@dataclass(frozen=True)
class Edge:
    """A step from a location to one below it."""

    head: str | int | None  # property, item index, or None: "the value takes this branch"
    child: Flat


# -- merging keywords (allOf, and a branch taken into its location) ----------------------------
Merge = Callable[[dict[str, JSON], str, JSON], None]


def _combined(combine: Callable[[JSON, JSON], JSON]) -> Merge:
    def merge(keywords: dict[str, JSON], key: str, value: JSON) -> None:
        keywords[key] = combine(keywords[key], value)

    return merge


def _properties(old: JSON, value: JSON) -> JSON:
    merged = dict(old)
    for name, sub in value.items():
        merged[name] = {"allOf": [merged[name], sub]} if name in merged else sub
    return merged


def _required(old: JSON, value: JSON) -> JSON:
    return [*old, *(k for k in value if k not in old)]


def _dependent_required(old: JSON, value: JSON) -> JSON:
    merged = {k: list(v) for k, v in old.items()}
    for k, needs in value.items():
        merged[k] = [*merged.get(k, []), *(n for n in needs if n not in merged.get(k, []))]
    return merged


def _types(a: JSON, b: JSON) -> JSON:
    left = [a] if isinstance(a, str) else list(a)
    right = [b] if isinstance(b, str) else list(b)
    out = [t for t in left if t in right or (t == "integer" and "number" in right)]
    out += [t for t in right if t == "integer" and "number" in left and t not in out]
    return out


def _enum(old: JSON, value: JSON) -> JSON:
    return [v for v in old if any(json_equal(v, w) for w in value)]


def _additional_properties(old: JSON, value: JSON) -> JSON:
    return False if (old is False or value is False) else old


def _const(keywords: dict[str, JSON], key: str, value: JSON) -> None:
    if not json_equal(keywords[key], value):
        keywords["enum"] = []  # nothing can equal two different constants


def _default(keywords: dict[str, JSON], key: str, value: JSON) -> None:
    pass  # an annotation: the first one wins


MERGES: Mapping[str, Merge] = {
    "properties": _combined(_properties),
    "required": _combined(_required),
    "dependentRequired": _combined(_dependent_required),
    **{key: _combined(max) for key in ("minimum", "exclusiveMinimum", "minLength", "minItems")},
    **{key: _combined(min) for key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems")},
    "type": _combined(_types),
    "enum": _combined(_enum),
    "const": _const,
    "additionalProperties": _combined(_additional_properties),
    "default": _default,
}


def merge_keyword(keywords: dict[str, JSON], key: str, value: JSON) -> None:
    """Add ``key: value`` to ``keywords``, combined with a value already there.

    A keyword with no merge rule that differs from the one already there is kept
    under ``_also``: values are then checked against it (by filtering).
    """
    if key not in keywords:
        keywords[key] = dict(value) if isinstance(value, Mapping) else value
        return
    merge = MERGES.get(key)
    if merge is not None:
        merge(keywords, key, value)
    elif keywords[key] != value:
        keywords.setdefault("_also", []).append({key: value})


def merge_keywords(a: Mapping[str, JSON], b: Mapping[str, JSON]) -> dict[str, JSON]:
    out = dict(a)
    for key, value in b.items():
        if key == "_also":
            out["_also"] = [*out.get("_also", []), *value]
        else:
            merge_keyword(out, key, value)
    return out
