"""Breaking one rule: the mutation record, and the rules any JSON type has.

A mutation is a strategy for a broken value at a location, with the keyword it
breaks. The rules any type has are ``type``, ``const``/``enum`` and a
``oneOf``/``anyOf`` of values; the keyword rules of one JSON type are in
``value_rules`` and ``object_rules``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .jsonvalues import JSON, Broken, Path, fits_types, json_equal, json_type, other_spellings
from .near import near_values
from .schema import Flat
from .values import ValueCompiler


@dataclass(frozen=True)
class Mutation:
    rule: str  # the JSON Schema keyword broken
    where: Path | None  # what is blamed, relative to the location (None: drawn)
    broken: SearchStrategy[Broken]


# The rules of one JSON type: (compiler, location, its type) -> mutations, in drawing order.
Mutator = Callable[[ValueCompiler, Flat, str], list[Mutation]]


def here(values: SearchStrategy[JSON]) -> SearchStrategy[Broken]:
    """``values`` as broken values blamed on the location itself."""
    return values.map(lambda v: (v, ()))


def wrong_types(types: Sequence[str]) -> SearchStrategy[JSON]:
    """Small values of every JSON type but ``types``."""
    allowed = set(types) | ({"integer"} if "number" in types else set())
    samples: dict[str, SearchStrategy[JSON]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "integer": st.integers(-5, 5),
        "number": st.builds(lambda i, f: i + f, st.integers(-5, 5), st.sampled_from([0.5, 0.25])),
        "string": st.text(max_size=6),
        "array": st.lists(st.none() | st.integers(0, 3), max_size=2),
        "object": st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
    }
    return st.one_of([s for kind, s in samples.items() if kind not in allowed])


def unlisted(
    values: Sequence[JSON], kinds: Sequence[str], reserved: frozenset[str]
) -> SearchStrategy[JSON]:
    """Values of the given JSON types equal to none of ``values`` (nor ``reserved``)."""
    options: list[SearchStrategy[JSON]] = []
    texts = [v for v in values if isinstance(v, str)]
    if "string" in kinds:
        if texts:
            options.append(st.sampled_from(other_spellings(texts) + [t[:-1] for t in texts]))
        options.append(st.text(max_size=12))
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    center = numbers or [0]
    if "integer" in kinds or "number" in kinds:
        options.append(st.integers(int(min(center)) - 8, int(max(center)) + 8))
    if "number" in kinds:
        options.append(
            st.floats(min(center) - 8, max(center) + 8, allow_nan=False, allow_infinity=False)
        )
    if "boolean" in kinds:
        options.append(st.booleans())
    if "null" in kinds:
        options.append(st.none())
    return st.one_of(options).filter(
        lambda x: (
            not any(json_equal(x, v) for v in values) and not (isinstance(x, str) and x in reserved)
        )
    )


def type_rule(types: Sequence[str]) -> Mutation:
    """``type``: a value of another JSON type."""
    return Mutation("type", (), here(wrong_types(types)))


def alternatives_rule(
    compiler: ValueCompiler, flat: Flat, types: Sequence[str] | None
) -> list[Mutation]:
    """``oneOf``/``anyOf`` of values: a value no alternative accepts."""
    group = flat.groups[0]
    consts = group.constants()
    if consts is not None:
        kinds = types or tuple(dict.fromkeys(json_type(c) for c in consts))
        return [Mutation(group.kind, (), here(unlisted(consts, kinds, compiler.reserved)))]
    outside = _outside(compiler, flat, types)
    return [] if outside is None else [Mutation(group.kind, (), here(outside))]


def _outside(
    compiler: ValueCompiler, flat: Flat, types: Sequence[str] | None
) -> SearchStrategy[JSON] | None:
    """Values of the node's own type that none of its alternatives accept."""
    scalar = [b for b in compiler.branches(flat) if not (b.is_object or b.is_array)]
    if not scalar:
        return None
    return st.one_of([near_values(compiler, b, include_valid=False) for b in scalar]).filter(
        lambda v: fits_types(v, types)
    )


def listed_rule(compiler: ValueCompiler, flat: Flat, types: Sequence[str] | None) -> Mutation:
    """``const`` or ``enum``: a value of the same type that is not listed."""
    kw = flat.keywords
    rule = "const" if "const" in kw else "enum"
    listed = [kw["const"]] if rule == "const" else kw["enum"]
    kinds = types or tuple(dict.fromkeys(json_type(v) for v in listed))
    return Mutation(rule, (), here(unlisted(listed, kinds, compiler.reserved)))
