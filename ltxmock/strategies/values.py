"""Valid values: strategies for what a schema location accepts, built by JSON type."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from itertools import product

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ltxmock.validators.formats import ecma_regex

from .jsonvalues import JSON, Task, fits_types, json_equal, json_values
from .reader import SchemaReader
from .schema import Flat
from .text import texts, uri_strings, uuid_strings


def int_bounds(kw: Mapping[str, JSON]) -> tuple[int, int]:
    """The whole numbers the numeric bounds of ``kw`` allow (a 2**31 range when open)."""
    low: int | None = None
    high: int | None = None
    if "minimum" in kw:
        low = math.ceil(kw["minimum"])
    if "exclusiveMinimum" in kw:
        low = max(low if low is not None else -(2**63), math.floor(kw["exclusiveMinimum"]) + 1)
    if "maximum" in kw:
        high = math.floor(kw["maximum"])
    if "exclusiveMaximum" in kw:
        bound = math.ceil(kw["exclusiveMaximum"]) - 1
        high = min(high if high is not None else 2**63, bound)
    low = low if low is not None else (high if high is not None else 0) - 2**31
    high = high if high is not None else low + 2**31
    return low, high


def item_counts(kw: Mapping[str, JSON]) -> tuple[int, int]:
    """How many items to generate: ``minItems`` up to at most three more."""
    low = int(kw.get("minItems", 0))
    return low, min(int(kw.get("maxItems", low + 3)), low + 3)


def _inferred_types(flat: Flat) -> tuple[str, ...] | None:
    kw = flat.keywords
    if "properties" in kw or "required" in kw:
        return ("object",)
    if "items" in kw or "minItems" in kw or "maxItems" in kw:
        return ("array",)
    if {"minLength", "maxLength", "pattern", "format"} & kw.keys():
        return ("string",)
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & kw.keys():
        return ("number",)
    return None


def _closure(keys: Iterable[str], deps: Mapping[str, Sequence[str]]) -> set[str]:
    out = set(keys)
    todo = list(out)
    while todo:
        for need in deps.get(todo.pop(), ()):
            if need not in out:
                out.add(need)
                todo.append(need)
    return out


def _assemble(
    order: tuple[str, ...], fixed: Mapping[str, JSON], bundles: Mapping[str, Task]
) -> Task:
    merged: Task = dict(fixed)
    for bundle in bundles.values():
        for key, value in bundle.items():
            merged.setdefault(key, value)
    ranked = {key: i for i, key in enumerate(order)}
    return {k: merged[k] for k in sorted(merged, key=lambda k: ranked.get(k, len(ranked)))}


class ValueCompiler(SchemaReader):
    """Strategies for the values the locations of one JSON Schema resource accept."""

    def __init__(self, root: JSON, reserved: Iterable[str] = ()) -> None:
        super().__init__(root, reserved)
        self._values: dict[int, tuple[Flat, SearchStrategy[JSON]]] = {}

    def values(self, schema: JSON) -> SearchStrategy[JSON]:
        """Values that ``schema`` accepts."""
        return self.values_of(self.flatten(schema))

    def values_of(self, flat: Flat) -> SearchStrategy[JSON]:
        hit = self._values.get(id(flat))
        if hit is not None and hit[0] is flat:
            return hit[1]
        strategy = st.deferred(lambda: self._build_values(flat))
        self._values[id(flat)] = (flat, strategy)
        return strategy

    def _build_values(self, flat: Flat) -> SearchStrategy[JSON]:
        kw = flat.keywords
        if flat.groups and not flat.is_object:
            group = flat.groups[0]
            strategy = st.one_of([self.values_of(branch) for branch in self.branches(flat)])
            consts = group.constants()
            distinct = consts is not None and all(
                not json_equal(a, b) for i, a in enumerate(consts) for b in consts[i + 1 :]
            )
            if group.kind == "oneOf" and not distinct:
                strategy = strategy.filter(self.check(flat.source))
            return strategy
        if kw.get("enum") == []:
            raise NotImplementedError(f"unsatisfiable schema {flat.source!r}")
        types = flat.types
        if "const" in kw:
            strategy = st.just(kw["const"])
        elif "enum" in kw:
            strategy = st.sampled_from([v for v in kw["enum"] if fits_types(v, types)])
        else:
            kinds = types or _inferred_types(flat)
            if kinds is None:
                strategy = json_values()
            else:
                strategy = st.one_of([self.values_of_type(kind, flat) for kind in kinds])
        for extra in kw.get("_also", ()):
            strategy = strategy.filter(self.check(extra))
        default = kw.get("default")
        if "default" in kw and self.check(flat.source)(default):
            strategy = st.one_of(st.just(default), strategy)
        return strategy

    def values_of_type(self, kind: str, flat: Flat) -> SearchStrategy[JSON]:
        """Values of JSON type ``kind`` meeting the keywords of ``flat`` for that type."""
        builders: dict[str, Callable[[Flat], SearchStrategy[JSON]]] = {
            "null": lambda _f: st.none(),
            "boolean": lambda _f: st.booleans(),
            "integer": self._integers,
            "number": self._numbers,
            "string": self._strings,
            "array": self._arrays,
            "object": self.objects,
        }
        if kind not in builders:
            raise NotImplementedError(f"unknown JSON type {kind!r}")
        return builders[kind](flat)

    def _integers(self, flat: Flat) -> SearchStrategy[JSON]:
        low, high = int_bounds(flat.keywords)
        return st.integers(low, high)

    def _numbers(self, flat: Flat) -> SearchStrategy[JSON]:
        kw = flat.keywords
        low = kw.get("minimum", kw.get("exclusiveMinimum"))
        high = kw.get("maximum", kw.get("exclusiveMaximum"))
        floats = st.floats(
            min_value=low,
            max_value=high,
            exclude_min=low is not None and "exclusiveMinimum" in kw,
            exclude_max=high is not None and "exclusiveMaximum" in kw,
            allow_nan=False,
            allow_infinity=False,
        )
        ilow, ihigh = int_bounds(kw)
        return st.one_of(st.integers(ilow, ihigh), floats) if ilow <= ihigh else floats

    def _strings(self, flat: Flat) -> SearchStrategy[JSON]:
        kw = flat.keywords
        low, high = int(kw.get("minLength", 0)), kw.get("maxLength")
        fmt, pattern = kw.get("format"), kw.get("pattern")
        generated: SearchStrategy[str]
        if fmt == "uuid":
            generated = uuid_strings()
        elif fmt == "uri":
            generated = uri_strings()
        elif pattern is not None:
            generated = st.from_regex(ecma_regex(pattern))
        else:
            return texts(low, high).filter(self.check(flat.source)) if fmt else texts(low, high)
        if (fmt is not None and pattern is not None) or low or high is not None:
            generated = generated.filter(self.check({k: v for k, v in kw.items() if k != "_also"}))
        return generated

    def _arrays(self, flat: Flat) -> SearchStrategy[JSON]:
        kw = flat.keywords
        low, high = item_counts(kw)
        return st.lists(self.values(kw.get("items", True)), min_size=low, max_size=high)

    def objects(
        self,
        flat: Flat,
        force: Iterable[str] = (),
        override: Mapping[str, SearchStrategy[JSON]] | None = None,
    ) -> SearchStrategy[JSON]:
        """Objects ``flat`` accepts; ``force`` keys always present, ``override`` values used.

        Each oneOf/anyOf group of the object (e.g. a width/height combination
        table) is settled by taking one branch and making its keys present:
        with a table's keys absent every row would match and oneOf would fail.
        """
        variants = []
        for choice in product(*(range(len(g.branches)) for g in flat.groups)):
            merged, forced = flat, set(force)
            for branch in choice:
                forced |= set(self.flatten(merged.groups[0].branches[branch]).properties)
                merged = self.with_branch(merged, 0, branch)
            variants.append(self._object_variant(merged, forced, override or {}))
        strategy = st.one_of(variants)
        exact = all(g.kind == "anyOf" or g.is_distinct_table() for g in flat.groups)
        if override is None and not exact:
            strategy = strategy.filter(self.check(flat.source))
        return strategy

    def _object_variant(
        self, flat: Flat, forced: set[str], override: Mapping[str, SearchStrategy[JSON]]
    ) -> SearchStrategy[JSON]:
        kw = flat.keywords
        props = flat.properties
        deps: Mapping[str, Sequence[str]] = kw.get("dependentRequired", {})
        present = _closure(forced | set(kw.get("required", ())), deps)
        order = (*props, *sorted(k for k in present if k not in props))

        def value(key: str) -> SearchStrategy[JSON]:
            return override[key] if key in override else self.values(props.get(key, True))

        fixed = {k: value(k) for k in order if k in present}
        bundles = {
            k: st.fixed_dictionaries(
                {j: value(j) for j in order if j in _closure({k}, deps) and j not in present}
            )
            for k in props
            if k not in present
        }
        strategy = st.builds(
            partial(_assemble, order),
            st.fixed_dictionaries(fixed),
            st.fixed_dictionaries({}, optional=bundles),
        )
        for extra in kw.get("_also", ()):
            if not override:
                strategy = strategy.filter(self.check(extra))
        return strategy
