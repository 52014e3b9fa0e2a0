"""Breaking the keywords of strings, numbers and arrays, one keyword per mutation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial

from hypothesis import strategies as st

from ltxmock.validators.formats import ecma_regex, is_uri, is_uuid

from .breaking import Mutation, Mutator, here
from .schema import Flat
from .text import long_texts, pattern_variant, texts, uri_near_misses, uuid_near_misses
from .values import ValueCompiler


# -- strings --------------------------------------------------------------------------------
def _min_length(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    kw = flat.keywords
    if kw.get("minLength", 0) <= 0:
        return []
    return [Mutation("minLength", (), here(texts(0, kw["minLength"] - 1)))]


def _max_length(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    kw = flat.keywords
    if "maxLength" not in kw:
        return []
    too_long = long_texts(kw["maxLength"] + 1, kw["maxLength"] + 16)
    return [Mutation("maxLength", (), here(too_long))]


def _format(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    fmt = flat.keywords.get("format")
    if fmt == "uuid":
        return [Mutation("format", (), here(uuid_near_misses().filter(lambda s: not is_uuid(s))))]
    if fmt == "uri":
        return [Mutation("format", (), here(uri_near_misses().filter(lambda s: not is_uri(s))))]
    return []


def _pattern(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    pattern = flat.keywords.get("pattern")
    if pattern is None:
        return []
    regex = ecma_regex(pattern)
    bad = st.builds(pattern_variant, compiler.values_of_type("string", flat), st.integers(1, 6))
    return [Mutation("pattern", (), here(bad.filter(lambda s: not regex.search(s))))]


def _without_alternatives(rule: Mutator) -> Mutator:
    """``rule`` for strings with no oneOf/anyOf (with one, the alternatives rule breaks it)."""

    def guarded(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
        return [] if flat.groups else rule(compiler, flat, kind)

    return guarded


# -- numbers --------------------------------------------------------------------------------
def _shifted(first: float, sign: int, distance: float) -> float:
    return first + sign * distance


def _whole_beyond(edge: float, value: float) -> int:
    return math.floor(value) if value < edge else math.ceil(value)


def _beyond(key: str, sign: int, compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    """A number past the bound ``key``: the first one past it, or further (``sign``: which way)."""
    kw = flat.keywords
    if key not in kw:
        return []
    whole = st.integers(1, 1000)
    step = whole if kind == "integer" else st.one_of(whole, st.floats(0.001, 1000))
    edge = kw[key]
    first = edge if key.startswith("exclusive") else edge + sign
    beyond = st.one_of(st.just(first), step.map(partial(_shifted, first, sign)))
    if kind == "integer":
        beyond = beyond.map(partial(_whole_beyond, edge))
    return [Mutation(key, (), here(beyond))]


# -- arrays ---------------------------------------------------------------------------------
def _min_items(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    kw = flat.keywords
    if kw.get("minItems", 0) <= 0:
        return []
    items = compiler.values(kw.get("items", True))
    return [Mutation("minItems", (), here(st.lists(items, max_size=kw["minItems"] - 1)))]


def _max_items(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    kw = flat.keywords
    if "maxItems" not in kw:
        return []
    high = kw["maxItems"]
    items = compiler.values(kw.get("items", True))
    too_many = st.lists(items, min_size=high + 1, max_size=high + 2)
    return [Mutation("maxItems", (), here(too_many))]


_NUMBER_RULES: tuple[Mutator, ...] = tuple(
    partial(_beyond, key, sign)
    for key, sign in (
        ("minimum", -1),
        ("exclusiveMinimum", -1),
        ("maximum", 1),
        ("exclusiveMaximum", 1),
    )
)

# Each type's rules, in the order their mutations are listed (and so drawn).
VALUE_RULES: Mapping[str, tuple[Mutator, ...]] = {
    "string": tuple(
        _without_alternatives(rule) for rule in (_min_length, _max_length, _format, _pattern)
    ),
    "integer": _NUMBER_RULES,
    "number": _NUMBER_RULES,
    "array": (_min_items, _max_items),
}
