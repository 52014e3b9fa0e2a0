"""Hypothesis strategies compiled from the OpenAPI documents the validator loads.

Nothing here lists a model's parameters or values: every strategy is built by
walking the JSON Schema of a task (``RequestValidator`` routes each task type
and model to one), so a second model document yields strategies for its tasks
with no code change. The walk supports the subset of JSON Schema the Runware
documents use: ``$ref`` (local), ``type``, ``const``, ``enum``, numeric bounds,
string lengths, ``pattern`` (ECMA-262 meaning), ``format`` uuid/uri,
``properties``/``required``/``additionalProperties``, ``items`` with
``minItems``/``maxItems``, ``anyOf``/``oneOf`` (lists of consts, alternative
value shapes, and "combination tables" of objects pinning several properties),
``allOf`` with ``dependentRequired``, and ``default``.

Public strategies::

    valid_tasks()          one task the validator accepts (a model task)
    utility_tasks()        a valid getResponse / ping task
    authentication_tasks() a valid leading authentication element
    valid_requests()       a whole valid request body (list of tasks)
    invalid_tasks()        InvalidTask: a task breaking exactly one schema rule
    breakable_rules()      the (rule, parameter) pairs invalid_tasks() can break
    invalid_requests()     InvalidRequest: a body breaking one request-level rule
    boundary_tasks()       a task with one value near its schema's edge (either side)
    tasks_with_arbitrary_values()  a task with arbitrary JSON under one known key
    json_values()          arbitrary JSON

Every function takes ``validator`` (default: the packaged validator) and, where
it makes sense, ``model`` (an AIR id; default: every model the validator knows).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import product
from typing import Any

import jsonschema_rs
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ltxmock.validators import RequestValidator, TaskSchema, default_validator
from ltxmock.validators.documents import resolve_pointer
from ltxmock.validators.formats import RUST_FORMAT_OVERRIDES, ecma_regex, is_uri, is_uuid
from ltxmock.validators.shapes import branch_constants, combination_table

__all__ = [
    "InvalidRequest",
    "InvalidTask",
    "SchemaCompiler",
    "authentication_tasks",
    "boundary_tasks",
    "breakable_rules",
    "invalid_requests",
    "invalid_tasks",
    "json_equal",
    "json_values",
    "parameter_name",
    "tasks_with_arbitrary_values",
    "uri_near_misses",
    "uri_strings",
    "utility_tasks",
    "uuid_near_misses",
    "uuid_strings",
    "valid_requests",
    "valid_tasks",
]

JSON = Any
Path = tuple[str | int, ...]
Task = dict[str, JSON]
Broken = tuple[JSON, Path]  # a value and the path (relative to it) of what is wrong

AUTHENTICATION = "authentication"


# -- labelled examples ----------------------------------------------------------
@dataclass(frozen=True)
class InvalidTask:
    """A task that breaks exactly one rule of its model's schema.

    ``rule`` is the JSON Schema keyword that fails (``"type"``, ``"enum"``,
    ``"required"``, ``"oneOf"``, ...); ``parameter`` names the value or key at
    fault the way the validator reports it (``"inputs.frameImages[0]"``);
    ``path`` is the same location as a tuple of keys and indices.
    """

    task: Task
    rule: str
    parameter: str
    path: Path = ()


@dataclass(frozen=True)
class InvalidRequest:
    """A request body that breaks one request-level rule (its tasks are fine).

    Rules: ``notArray``, ``emptyArray``, ``notObject``, ``authenticationNotFirst``,
    ``conflictTaskUUID``, ``unsupportedTaskType``. ``parameter`` is the task
    parameter at fault, or None when the body itself is.
    """

    body: JSON
    rule: str
    parameter: str | None = None


def parameter_name(path: Iterable[str | int]) -> str:
    """``("inputs", "frameImages", 0)`` -> ``"inputs.frameImages[0]"``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# -- arbitrary JSON ---------------------------------------------------------------
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


def _json_type(value: JSON) -> str:
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


def _fits_types(value: JSON, types: Sequence[str] | None) -> bool:
    if types is None:
        return True
    kind = _json_type(value)
    return kind in types or (kind == "integer" and "number" in types)


# -- small value builders -----------------------------------------------------------
def _repeat_to(seed: str, length: int) -> str:
    return (seed * (length // len(seed) + 1))[:length]


def _text(min_size: int, max_size: int | None) -> SearchStrategy[str]:
    """Text of ``min_size..max_size`` code points: mostly short, sometimes long.

    Long strings repeat a short drawn seed, so a 10 000 character prompt costs a
    handful of choices, not ten thousand.
    """
    short_max = min_size + 24 if max_size is None else min(max_size, min_size + 24)
    short = st.text(min_size=min_size, max_size=short_max)
    if max_size is None or max_size <= short_max:
        return short
    long = st.builds(
        _repeat_to,
        st.text(min_size=1, max_size=8),
        st.integers(max(short_max + 1, max_size - 16), max_size),
    )
    return st.integers(0, 9).flatmap(lambda n: long if n == 9 else short)


def _long_text(min_size: int, max_size: int) -> SearchStrategy[str]:
    return st.builds(_repeat_to, st.text(min_size=1, max_size=8), st.integers(min_size, max_size))


def _uuid_text(value: Any, upper: bool) -> str:
    text = str(value)
    return text.upper() if upper else text


def uuid_strings() -> SearchStrategy[str]:
    """Canonical 8-4-4-4-12 UUIDs, in either case."""
    return st.builds(_uuid_text, st.uuids(), st.sampled_from([False, True]))


_UUID_VARIANTS: tuple[Callable[[str], str], ...] = (
    lambda u: u,
    str.upper,
    lambda u: u.replace("-", ""),
    lambda u: "{" + u + "}",
    lambda u: "urn:uuid:" + u,
    lambda u: u + "\n",
    lambda u: u[:-1],
    lambda u: u + "0",
    lambda u: u[:-2] + "-" + u[-2:],  # a stray hyphen: uuid.UUID() accepts it
    lambda u: u + "}",  # a stray brace: uuid.UUID() accepts it
    lambda u: u[:9] + "g" + u[10:],
    lambda u: "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in u),  # fullwidth
    lambda u: " " + u,
    lambda u: u[:8] + u[9:13] + "-" + u[13:],
)


def uuid_near_misses() -> SearchStrategy[str]:
    """Strings that look like UUIDs: canonical ones and common near misses."""
    return st.builds(
        lambda u, i: _UUID_VARIANTS[i](str(u)),
        st.uuids(),
        st.integers(0, len(_UUID_VARIANTS) - 1),
    )


def uri_strings() -> SearchStrategy[str]:
    """Absolute http(s) URIs with a small host, path and optional query."""
    host = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True)
    segment = st.from_regex(r"[A-Za-z0-9._~-]{1,10}", fullmatch=True)
    query = st.none() | st.from_regex(r"[a-z]{1,5}=[A-Za-z0-9]{0,8}", fullmatch=True)
    return st.builds(
        lambda scheme, h, segments, q: (
            f"{scheme}://{h}/{'/'.join(segments)}" + (f"?{q}" if q else "")
        ),
        st.sampled_from(["https", "http"]),
        host,
        st.lists(segment, max_size=3),
        query,
    ).filter(is_uri)


_URI_VARIANTS: tuple[Callable[[str], str], ...] = (
    lambda u: u,
    lambda u: u + "\n",
    lambda u: u + "\r\n",
    lambda u: "\n" + u,
    lambda u: u + " ",
    lambda u: u.replace("//", "// ", 1),
    lambda u: u.split(":", 1)[1],  # a relative reference, no scheme
    lambda u: u + "%zz",
    lambda u: u + "é",
    lambda u: "1" + u,
    lambda u: u + "#a#b",
    lambda u: u.upper(),
    lambda u: u + "?q=a b",
)


def uri_near_misses() -> SearchStrategy[str]:
    """Strings that look like URIs: absolute URIs and common near misses."""
    return st.builds(
        lambda u, i: _URI_VARIANTS[i](u), uri_strings(), st.integers(0, len(_URI_VARIANTS) - 1)
    )


def _pattern_variant(value: str, i: int) -> str:
    return (value, value + "\n", "\n" + value, value + " ", value[:-1], value + "!", "")[i]


def _other_spellings(values: Sequence[JSON]) -> list[JSON]:
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


# -- reading a schema ---------------------------------------------------------------
_SUPPORTED = frozenset(
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
_UNSUPPORTED = frozenset(
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
class _Group:
    kind: str  # "oneOf" or "anyOf"
    branches: tuple[JSON, ...]


@dataclass(eq=False)
class _Flat:
    """One schema location with ``$ref`` and ``allOf`` folded into a keyword map."""

    keywords: dict[str, JSON]
    groups: tuple[_Group, ...]
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
class _Edge:
    head: str | int | None  # property, item index, or None: "the value takes this branch"
    child: _Flat


@dataclass(frozen=True)
class _Mutation:
    rule: str  # the JSON Schema keyword broken
    where: Path | None  # what is blamed, relative to the location (None: drawn)
    broken: SearchStrategy[Broken]


@dataclass(frozen=True)
class _Carrier:
    broken: Broken


def _intersect_types(a: JSON, b: JSON) -> list[str]:
    left = [a] if isinstance(a, str) else list(a)
    right = [b] if isinstance(b, str) else list(b)
    out = [t for t in left if t in right or (t == "integer" and "number" in right)]
    out += [t for t in right if t == "integer" and "number" in left and t not in out]
    return out


def _merge_keyword(keywords: dict[str, JSON], key: str, value: JSON) -> None:
    if key not in keywords:
        keywords[key] = dict(value) if isinstance(value, Mapping) else value
        return
    old = keywords[key]
    if key == "properties":
        merged = dict(old)
        for name, sub in value.items():
            merged[name] = {"allOf": [merged[name], sub]} if name in merged else sub
        keywords[key] = merged
    elif key == "required":
        keywords[key] = [*old, *(k for k in value if k not in old)]
    elif key == "dependentRequired":
        merged = {k: list(v) for k, v in old.items()}
        for k, needs in value.items():
            merged[k] = [*merged.get(k, []), *(n for n in needs if n not in merged.get(k, []))]
        keywords[key] = merged
    elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems"):
        keywords[key] = max(old, value)
    elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems"):
        keywords[key] = min(old, value)
    elif key == "type":
        keywords[key] = _intersect_types(old, value)
    elif key == "enum":
        keywords[key] = [v for v in old if any(json_equal(v, w) for w in value)]
    elif key == "const":
        if not json_equal(old, value):
            keywords["enum"] = []  # nothing can equal two different constants
    elif key == "additionalProperties":
        keywords[key] = False if (old is False or value is False) else old
    elif key == "default":
        pass  # an annotation: the first one wins
    elif old != value:
        keywords.setdefault("_also", []).append({key: value})


def _merge_keywords(a: Mapping[str, JSON], b: Mapping[str, JSON]) -> dict[str, JSON]:
    out = dict(a)
    for key, value in b.items():
        if key == "_also":
            out["_also"] = [*out.get("_also", []), *value]
        else:
            _merge_keyword(out, key, value)
    return out


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


def _without(obj: Mapping[str, JSON], *keys: str) -> Task:
    return {k: v for k, v in obj.items() if k not in keys}


def _pull(head: str | int, built: JSON) -> Broken:
    """Replace the carrier at ``head`` with its value; return it with the broken path."""
    carrier = built[head]
    assert isinstance(carrier, _Carrier)
    value, where = carrier.broken
    if isinstance(built, dict):
        return {**built, head: value}, (head, *where)
    copy = list(built)
    copy[int(head)] = value
    return copy, (head, *where)


def _dropped(where: Path, *keys_and_obj: Any) -> Broken:
    *keys, obj = keys_and_obj
    return _without(obj, *keys), where


def _replaced(key: str, obj: Mapping[str, JSON], value: JSON) -> Broken:
    return {**obj, key: value}, (key,)


def _shifted(first: float, sign: int, distance: float) -> float:
    return first + sign * distance


def _whole_beyond(edge: float, value: float) -> int:
    return math.floor(value) if value < edge else math.ceil(value)


def _here(values: SearchStrategy[JSON]) -> SearchStrategy[Broken]:
    return values.map(lambda v: (v, ()))


def _branch_constants(group: _Group) -> list[JSON] | None:
    return branch_constants(group.branches)


def _table(group: _Group) -> tuple[list[str], list[tuple[JSON, ...]]] | None:
    return combination_table(group.branches)


def _distinct_table(group: _Group) -> bool:
    table = _table(group)
    if table is None:
        return False
    _, rows = table
    return all(
        not all(json_equal(a, b) for a, b in zip(r, s, strict=True))
        for i, r in enumerate(rows)
        for s in rows[i + 1 :]
    )


class SchemaCompiler:
    """Strategies for the values of one JSON Schema resource.

    ``root`` is the resource local ``$ref``s resolve against (a whole OpenAPI
    document plus a ``$ref``, as ``TaskSchema.schema`` is, or a standalone
    schema). ``reserved`` are strings no mutation may produce, because the
    validator would route a task holding them elsewhere (task types, models).
    """

    def __init__(self, root: JSON, reserved: Iterable[str] = ()) -> None:
        self.root = root
        self.reserved = frozenset(reserved)
        self._flats: dict[int, tuple[JSON, _Flat]] = {}
        self._branches: dict[tuple[int, int, int], _Flat] = {}
        self._children_cache: dict[int, tuple[_Flat, list[_Edge]]] = {}
        self._values: dict[int, tuple[_Flat, SearchStrategy[JSON]]] = {}
        self._checks: dict[int, tuple[JSON, Callable[[JSON], bool]]] = {}

    # -- schema reading --------------------------------------------------------
    def resolve(self, ref: str) -> JSON:
        if not ref.startswith("#"):
            raise NotImplementedError(f"only local $refs are supported, not {ref!r}")
        return resolve_pointer(self.root, ref[1:])

    def flatten(self, schema: JSON) -> _Flat:
        hit = self._flats.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        keywords: dict[str, JSON] = {}
        groups: list[_Group] = []
        self._absorb(schema, keywords, groups, 0)
        flat = _Flat(keywords, tuple(groups), schema)
        self._flats[id(schema)] = (schema, flat)
        return flat

    def _absorb(
        self, schema: JSON, keywords: dict[str, JSON], groups: list[_Group], depth: int
    ) -> None:
        if depth > 32:
            raise NotImplementedError("schema nesting too deep (a cyclic $ref?)")
        if schema is True:
            return
        if schema is False or not isinstance(schema, Mapping):
            raise NotImplementedError(f"unsupported schema {schema!r}")
        for key, value in schema.items():
            if key == "$ref":
                self._absorb(self.resolve(value), keywords, groups, depth + 1)
            elif key == "allOf":
                for part in value:
                    self._absorb(part, keywords, groups, depth + 1)
            elif key in ("oneOf", "anyOf"):
                groups.append(_Group(key, tuple(value)))
            elif key in _SUPPORTED:
                _merge_keyword(keywords, key, value)
            elif key in _UNSUPPORTED:
                raise NotImplementedError(f"JSON Schema keyword {key!r} is not supported")
            # anything else is an annotation or an OpenAPI extension: no constraint

    def with_branch(self, flat: _Flat, group: int, branch: int) -> _Flat:
        """``flat`` with one branch of one of its oneOf/anyOf groups taken."""
        key = (id(flat), group, branch)
        hit = self._branches.get(key)
        if hit is not None:
            return hit
        chosen = self.flatten(flat.groups[group].branches[branch])
        rest = flat.groups[:group] + flat.groups[group + 1 :]
        merged = _Flat(
            _merge_keywords(flat.keywords, chosen.keywords), rest + chosen.groups, flat.source
        )
        self._branches[key] = merged
        return merged

    def check(self, schema: JSON) -> Callable[[JSON], bool]:
        """A compiled acceptance test for ``schema`` (same engine as the validator)."""
        hit = self._checks.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        if schema is self.root:
            document = schema
        else:
            document = {
                **{
                    k: self.root[k]
                    for k in ("components", "$defs", "definitions")
                    if k in self.root
                },
                "allOf": [schema],
            }
        compiled = jsonschema_rs.Draft202012Validator(
            document, validate_formats=True, formats=RUST_FORMAT_OVERRIDES
        )
        accepts: Callable[[JSON], bool] = compiled.is_valid
        self._checks[id(schema)] = (schema, accepts)
        return accepts

    def rejects(self, schema: JSON) -> Callable[[JSON], bool]:
        accepts = self.check(schema)
        return lambda value: not accepts(value)

    def declared_types(self, flat: _Flat) -> tuple[str, ...] | None:
        """The node's types, or the union of its branches' when each branch declares one."""
        if flat.types is not None:
            return flat.types
        if not flat.groups:
            return None
        union: list[str] = []
        for i in range(len(flat.groups[0].branches)):
            types = self.with_branch(flat, 0, i).types
            if types is None:
                return None
            union += [t for t in types if t not in union]
        return tuple(union)

    def mentions(self, flat: _Flat, keywords: frozenset[str], depth: int = 0) -> bool:
        """Whether the node, or a branch of its alternatives, uses one of ``keywords``."""
        if keywords & flat.keywords.keys() or (
            {"oneOf", "anyOf"} & keywords and any(g.kind in keywords for g in flat.groups)
        ):
            return True
        if not flat.groups or flat.is_object or depth > 8:
            return False
        return any(
            self.mentions(self.with_branch(flat, 0, i), keywords, depth + 1)
            for i in range(len(flat.groups[0].branches))
        )

    # -- valid values ------------------------------------------------------------
    def values(self, schema: JSON) -> SearchStrategy[JSON]:
        """Values that ``schema`` accepts."""
        return self.values_of(self.flatten(schema))

    def values_of(self, flat: _Flat) -> SearchStrategy[JSON]:
        hit = self._values.get(id(flat))
        if hit is not None and hit[0] is flat:
            return hit[1]
        strategy = st.deferred(lambda: self._build_values(flat))
        self._values[id(flat)] = (flat, strategy)
        return strategy

    def _build_values(self, flat: _Flat) -> SearchStrategy[JSON]:
        kw = flat.keywords
        if flat.groups and not flat.is_object:
            group = flat.groups[0]
            options = [
                self.values_of(self.with_branch(flat, 0, i)) for i in range(len(group.branches))
            ]
            strategy = st.one_of(options)
            consts = _branch_constants(group)
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
            strategy = st.sampled_from([v for v in kw["enum"] if _fits_types(v, types)])
        else:
            kinds = types or self._inferred_types(flat)
            if kinds is None:
                strategy = json_values()
            else:
                strategy = st.one_of([self._values_of_type(kind, flat) for kind in kinds])
        for extra in kw.get("_also", ()):
            strategy = strategy.filter(self.check(extra))
        default = kw.get("default")
        if "default" in kw and self.check(flat.source)(default):
            strategy = st.one_of(st.just(default), strategy)
        return strategy

    @staticmethod
    def _inferred_types(flat: _Flat) -> tuple[str, ...] | None:
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

    def _values_of_type(self, kind: str, flat: _Flat) -> SearchStrategy[JSON]:
        builders: dict[str, Callable[[_Flat], SearchStrategy[JSON]]] = {
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

    @staticmethod
    def _int_bounds(kw: Mapping[str, JSON]) -> tuple[int, int]:
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

    def _integers(self, flat: _Flat) -> SearchStrategy[JSON]:
        low, high = self._int_bounds(flat.keywords)
        return st.integers(low, high)

    def _numbers(self, flat: _Flat) -> SearchStrategy[JSON]:
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
        ilow, ihigh = self._int_bounds(kw)
        return st.one_of(st.integers(ilow, ihigh), floats) if ilow <= ihigh else floats

    def _strings(self, flat: _Flat) -> SearchStrategy[JSON]:
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
            return _text(low, high).filter(self.check(flat.source)) if fmt else _text(low, high)
        if (fmt is not None and pattern is not None) or low or high is not None:
            generated = generated.filter(self.check({k: v for k, v in kw.items() if k != "_also"}))
        return generated

    def _arrays(self, flat: _Flat) -> SearchStrategy[JSON]:
        kw = flat.keywords
        low = int(kw.get("minItems", 0))
        high = min(int(kw.get("maxItems", low + 3)), low + 3)
        return st.lists(self.values(kw.get("items", True)), min_size=low, max_size=high)

    def objects(
        self,
        flat: _Flat,
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
        exact = all(g.kind == "anyOf" or _distinct_table(g) for g in flat.groups)
        if override is None and not exact:
            strategy = strategy.filter(self.check(flat.source))
        return strategy

    def _object_variant(
        self, flat: _Flat, forced: set[str], override: Mapping[str, SearchStrategy[JSON]]
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

    # -- locations ------------------------------------------------------------------
    def children(self, flat: _Flat) -> list[_Edge]:
        hit = self._children_cache.get(id(flat))
        if hit is not None and hit[0] is flat:
            return hit[1]
        edges: list[_Edge] = []
        if flat.is_object:
            edges = [_Edge(key, self.flatten(sub)) for key, sub in flat.properties.items()]
        elif flat.is_array:
            if "items" in flat.keywords and flat.keywords.get("maxItems", 1) >= 1:
                edges = [_Edge(0, self.flatten(flat.keywords["items"]))]
        elif flat.groups:
            for i in range(len(flat.groups[0].branches)):
                branch = self.with_branch(flat, 0, i)
                if branch.is_object or branch.is_array:
                    edges.append(_Edge(None, branch))
        self._children_cache[id(flat)] = (flat, edges)
        return edges

    def locations(self, flat: _Flat, depth: int = 0) -> list[tuple[tuple[int, ...], Path, _Flat]]:
        """Every location of the schema: (route through ``children``, path, node)."""
        out: list[tuple[tuple[int, ...], Path, _Flat]] = [((), (), flat)]
        if depth > 16:
            return out
        for i, edge in enumerate(self.children(flat)):
            head: Path = () if edge.head is None else (edge.head,)
            for route, path, node in self.locations(edge.child, depth + 1):
                out.append(((i, *route), (*head, *path), node))
        return out

    def edited(
        self, flat: _Flat, route: Sequence[int], leaf: SearchStrategy[Broken]
    ) -> SearchStrategy[Broken]:
        """Valid values of ``flat`` except at ``route``, where ``leaf`` supplies the value."""
        if not route:
            return leaf
        edge = self.children(flat)[route[0]]
        inner = self.edited(edge.child, route[1:], leaf)
        if edge.head is None:
            return inner
        head = edge.head
        carried = inner.map(_Carrier)
        if isinstance(head, str):
            built = self.objects(flat, force={head}, override={head: carried})
        else:
            kw = flat.keywords
            low = int(kw.get("minItems", 0))
            high = min(int(kw.get("maxItems", low + 3)), low + 3)
            built = st.builds(
                lambda first, rest: [first, *rest],
                carried,
                st.lists(
                    self.values(kw.get("items", True)),
                    min_size=max(low - 1, 0),
                    max_size=max(high - 1, 0),
                ),
            )
        return built.map(partial(_pull, head))

    # -- values just inside and just outside ------------------------------------------
    def near_values(self, flat: _Flat, include_valid: bool = True) -> SearchStrategy[JSON]:
        """Values at the edge of what ``flat`` accepts: valid or not, mostly close calls."""
        kw = flat.keywords
        options: list[SearchStrategy[JSON]] = [self.values_of(flat)] if include_valid else []
        if flat.groups and not flat.is_object:
            options += [
                self.near_values(self.with_branch(flat, 0, i), include_valid)
                for i in range(len(flat.groups[0].branches))
            ]
            consts = _branch_constants(flat.groups[0])
            if consts:
                options.append(st.sampled_from(_other_spellings(consts)))
        pinned = [kw["const"]] if "const" in kw else list(kw.get("enum", []))
        if pinned:
            options.append(st.sampled_from(pinned + _other_spellings(pinned)))
        types = flat.types or ()
        if "string" in types or kw.get("format") or kw.get("pattern"):
            options += self._near_strings(flat)
        if "integer" in types or "number" in types:
            edges = [
                kw[k]
                for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
                if k in kw
            ]
            if edges:
                options.append(st.sampled_from([*edges, *_other_spellings(edges)]))
        if "boolean" in types:
            options.append(st.sampled_from([0, 1, 0.0, "true", None]))
        return st.one_of(options) if options else self.values_of(flat)

    def _near_strings(self, flat: _Flat) -> list[SearchStrategy[JSON]]:
        kw = flat.keywords
        out: list[SearchStrategy[JSON]] = []
        if kw.get("format") == "uuid":
            out.append(uuid_near_misses())
        if kw.get("format") == "uri":
            out.append(uri_near_misses())
        if kw.get("pattern") is not None:
            out.append(
                st.builds(
                    _pattern_variant,
                    st.from_regex(ecma_regex(kw["pattern"])),
                    st.integers(0, 6),
                )
            )
        for key, delta in (("minLength", -1), ("minLength", 0), ("maxLength", 0), ("maxLength", 1)):
            if key in kw and kw[key] + delta >= 0:
                out.append(_long_text(kw[key] + delta, kw[key] + delta))
        return out

    # -- one broken rule -------------------------------------------------------------
    def mutations(self, flat: _Flat) -> list[_Mutation]:
        """Ways to break exactly one rule of ``flat``: (keyword, broken value and where)."""
        out: list[_Mutation] = []
        rejected = self.rejects(flat.source)
        kw = flat.keywords
        types = self.declared_types(flat)
        if types:
            out.append(_Mutation("type", (), _here(self._wrong_types(types))))
        if flat.groups and not flat.is_object:
            group = flat.groups[0]
            consts = _branch_constants(group)
            if consts is not None:
                kinds = types or tuple(dict.fromkeys(_json_type(c) for c in consts))
                out.append(_Mutation(group.kind, (), _here(self._unlisted(consts, kinds))))
            else:
                outside = self._outside(flat, types)
                if outside is not None:
                    out.append(_Mutation(group.kind, (), _here(outside)))
        if "const" in kw:
            kinds = types or (_json_type(kw["const"]),)
            out.append(_Mutation("const", (), _here(self._unlisted([kw["const"]], kinds))))
        elif "enum" in kw:
            kinds = types or tuple(dict.fromkeys(_json_type(v) for v in kw["enum"]))
            out.append(_Mutation("enum", (), _here(self._unlisted(kw["enum"], kinds))))
        elif types is not None and len(types) == 1:
            out += self._typed_mutations(flat, types[0])
        return [_Mutation(m.rule, m.where, m.broken.filter(lambda b: rejected(b[0]))) for m in out]

    def _typed_mutations(self, flat: _Flat, kind: str) -> list[_Mutation]:
        kw = flat.keywords
        out: list[_Mutation] = []
        if kind == "string" and not flat.groups:
            if kw.get("minLength", 0) > 0:
                out.append(_Mutation("minLength", (), _here(_text(0, kw["minLength"] - 1))))
            if "maxLength" in kw:
                too_long = _long_text(kw["maxLength"] + 1, kw["maxLength"] + 16)
                out.append(_Mutation("maxLength", (), _here(too_long)))
            if kw.get("format") == "uuid":
                out.append(
                    _Mutation(
                        "format", (), _here(uuid_near_misses().filter(lambda s: not is_uuid(s)))
                    )
                )
            elif kw.get("format") == "uri":
                out.append(
                    _Mutation(
                        "format", (), _here(uri_near_misses().filter(lambda s: not is_uri(s)))
                    )
                )
            if kw.get("pattern") is not None:
                regex = ecma_regex(kw["pattern"])
                bad = st.builds(_pattern_variant, self._strings(flat), st.integers(1, 6))
                out.append(
                    _Mutation("pattern", (), _here(bad.filter(lambda s: not regex.search(s))))
                )
        if kind in ("integer", "number"):
            whole = st.integers(1, 1000)
            step = whole if kind == "integer" else st.one_of(whole, st.floats(0.001, 1000))
            for key, sign in (
                ("minimum", -1),
                ("exclusiveMinimum", -1),
                ("maximum", 1),
                ("exclusiveMaximum", 1),
            ):
                if key in kw:
                    edge = kw[key]
                    first = edge if key.startswith("exclusive") else edge + sign
                    beyond = st.one_of(st.just(first), step.map(partial(_shifted, first, sign)))
                    if kind == "integer":
                        beyond = beyond.map(partial(_whole_beyond, edge))
                    out.append(_Mutation(key, (), _here(beyond)))
        if kind == "array":
            items = self.values(kw.get("items", True))
            if kw.get("minItems", 0) > 0:
                out.append(
                    _Mutation("minItems", (), _here(st.lists(items, max_size=kw["minItems"] - 1)))
                )
            if "maxItems" in kw:
                high = kw["maxItems"]
                too_many = st.lists(items, min_size=high + 1, max_size=high + 2)
                out.append(_Mutation("maxItems", (), _here(too_many)))
        if kind == "object":
            out += self._object_mutations(flat)
        return out

    def _object_mutations(self, flat: _Flat) -> list[_Mutation]:
        kw = flat.keywords
        props = flat.properties
        required: list[str] = list(kw.get("required", ()))
        valid = self.objects(flat)
        out: list[_Mutation] = []
        for key in required:
            out.append(_Mutation("required", (key,), valid.map(partial(_dropped, (key,), key))))
        if kw.get("additionalProperties") is False:
            names = st.from_regex(r"[a-z][A-Za-z0-9]{0,11}", fullmatch=True).filter(
                lambda name: name not in props
            )
            out.append(
                _Mutation(
                    "additionalProperties",
                    None,  # the unknown key is drawn
                    st.builds(
                        lambda o, name, v: ({**o, name: v}, (name,)),
                        valid,
                        names,
                        json_values(max_leaves=3),
                    ),
                )
            )
        for trigger, needs in kw.get("dependentRequired", {}).items():
            for need in needs:
                if need in required or need == trigger:
                    continue
                with_trigger = self.objects(flat, force={trigger})
                out.append(
                    _Mutation(
                        "dependentRequired",
                        (need,),
                        with_trigger.map(partial(_dropped, (need,), need)),
                    )
                )
        for group in flat.groups:
            out += self._table_mutations(flat, group, valid, required)
        return out

    def _table_mutations(
        self, flat: _Flat, group: _Group, valid: SearchStrategy[JSON], required: list[str]
    ) -> list[_Mutation]:
        table = _table(group)
        if table is None:
            return []
        keys, rows = table
        out: list[_Mutation] = []
        columns = [list(dict.fromkeys(row[i] for row in rows)) for i in range(len(keys))]
        # Each value allowed on its own, the pair in no row; the validator blames the
        # value that completes the impossible combination: the last key of the table.
        mixed = [c for c in product(*columns) if c not in rows]
        if mixed:
            out.append(
                _Mutation(
                    group.kind,
                    (keys[-1],),
                    st.builds(
                        lambda o, combo: (
                            {**o, **dict(zip(keys, combo, strict=True))},
                            (keys[-1],),
                        ),
                        valid,
                        st.sampled_from(mixed),
                    ),
                )
            )
        # One value outside its column (but of the property's own type).
        for i, key in enumerate(keys):
            base = self.flatten(flat.properties.get(key, True))
            kinds = base.types or tuple(dict.fromkeys(_json_type(v) for v in columns[i]))
            outside = self._unlisted(columns[i], kinds).filter(self.check(base.source))
            out.append(
                _Mutation(
                    group.kind,
                    (key,),
                    st.builds(partial(_replaced, key), valid, outside),
                )
            )
        # Every key of the table left out: each row then matches, and oneOf wants one.
        if group.kind == "oneOf" and len(rows) > 1 and not set(keys) & set(required):
            absent = valid.map(partial(_dropped, (keys[0],), *keys))
            out.append(_Mutation(group.kind, (keys[0],), absent))
        return out

    def _wrong_types(self, types: Sequence[str]) -> SearchStrategy[JSON]:
        allowed = set(types) | ({"integer"} if "number" in types else set())
        samples: dict[str, SearchStrategy[JSON]] = {
            "null": st.none(),
            "boolean": st.booleans(),
            "integer": st.integers(-5, 5),
            "number": st.builds(
                lambda i, f: i + f, st.integers(-5, 5), st.sampled_from([0.5, 0.25])
            ),
            "string": st.text(max_size=6),
            "array": st.lists(st.none() | st.integers(0, 3), max_size=2),
            "object": st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
        }
        return st.one_of([s for kind, s in samples.items() if kind not in allowed])

    def _unlisted(self, values: Sequence[JSON], kinds: Sequence[str]) -> SearchStrategy[JSON]:
        """Values of the given JSON types equal to none of ``values``."""
        options: list[SearchStrategy[JSON]] = []
        texts = [v for v in values if isinstance(v, str)]
        if "string" in kinds:
            if texts:
                options.append(st.sampled_from(_other_spellings(texts) + [t[:-1] for t in texts]))
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
        reserved = self.reserved
        return st.one_of(options).filter(
            lambda x: (
                not any(json_equal(x, v) for v in values)
                and not (isinstance(x, str) and x in reserved)
            )
        )

    def _outside(self, flat: _Flat, types: Sequence[str] | None) -> SearchStrategy[JSON] | None:
        """Values of the node's own type that none of its alternatives accept."""
        scalar = [
            self.with_branch(flat, 0, i)
            for i in range(len(flat.groups[0].branches))
            if not (self.with_branch(flat, 0, i).is_object or self.with_branch(flat, 0, i).is_array)
        ]
        if not scalar:
            return None
        return st.one_of([self.near_values(b, include_valid=False) for b in scalar]).filter(
            lambda v: _fits_types(v, types)
        )


# -- the validator's schemas ---------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    rule: str
    parameter: str  # as the validator names it; ``*`` stands for a drawn unknown key
    strategy: SearchStrategy[InvalidTask]


@dataclass(eq=False)
class _Plan:
    """Strategies for one task schema the validator routes to (built once, then reused)."""

    target: TaskSchema
    compiler: SchemaCompiler
    flat: _Flat = field(init=False)
    _cache: dict[object, SearchStrategy[Any] | None] = field(init=False, default_factory=dict)
    _entries: list[_Entry] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.flat = self.compiler.flatten(self.target.schema)

    def _once(self, key: object, build: Callable[[], SearchStrategy[Any] | None]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def valid(self) -> SearchStrategy[Task]:
        strategy: SearchStrategy[Task] = self._once(
            "valid",
            lambda: self.compiler.values_of(self.flat).filter(self.target.compiled.is_valid),
        )
        return strategy

    def entries(self) -> list[_Entry]:
        """Every (rule, location) this schema can break, each with its strategy."""
        if self._entries is not None:
            return self._entries
        entries: list[_Entry] = []
        typed: set[Path] = set()
        for route, path, node in self.compiler.locations(self.flat):
            for mutation in self.compiler.mutations(node):
                if mutation.rule == "type" and (not path or path in typed):
                    # Not the task itself (that is a request-level problem), and once per
                    # location: a branch of an anyOf repeats its parent's type rule.
                    continue
                if mutation.rule == "type":
                    typed.add(path)
                parameter = (
                    parameter_name((*path, *mutation.where))
                    if mutation.where is not None
                    else parameter_name((*path, "*"))
                )
                labelled = self.compiler.edited(self.flat, route, mutation.broken).map(
                    partial(_label, mutation.rule)
                )
                entries.append(_Entry(mutation.rule, parameter, labelled))
        self._entries = entries
        return entries

    def invalid(
        self, rules: frozenset[str] | None, parameters: frozenset[str] | None
    ) -> SearchStrategy[InvalidTask] | None:
        def build() -> SearchStrategy[InvalidTask] | None:
            by_rule: dict[str, list[SearchStrategy[InvalidTask]]] = {}
            for entry in self.entries():
                if (rules is None or entry.rule in rules) and (
                    parameters is None or entry.parameter in parameters
                ):
                    by_rule.setdefault(entry.rule, []).append(entry.strategy)
            if not by_rule:
                return None
            # Rule first, then location: rare rules (one minLength) are drawn as often
            # as common ones (a type rule at every location).
            return (
                st.sampled_from(sorted(by_rule))
                .flatmap(lambda rule: _pick(by_rule[rule]))
                .filter(lambda bad: not self.target.compiled.is_valid(bad.task))
            )

        strategy: SearchStrategy[InvalidTask] | None = self._once(
            ("invalid", rules, parameters), build
        )
        return strategy

    def at_some_location(
        self,
        leaf: Callable[[_Flat], SearchStrategy[JSON]],
        keywords: frozenset[str] | None = None,
    ) -> SearchStrategy[Task] | None:
        def build() -> SearchStrategy[Task] | None:
            options = [
                self.compiler.edited(self.flat, route, _here(leaf(node))).map(_first)
                for route, path, node in self.compiler.locations(self.flat)
                if path and (keywords is None or self.compiler.mentions(node, keywords))
            ]
            return _pick(options) if options else None

        strategy: SearchStrategy[Task] | None = self._once((leaf, keywords), build)
        return strategy


def _first(broken: Broken) -> JSON:
    return broken[0]


def _identity(strategy: SearchStrategy[Any]) -> SearchStrategy[Any]:
    return strategy


def _pick(options: Sequence[SearchStrategy[Any]]) -> SearchStrategy[Any]:
    """One of ``options``, chosen uniformly (``st.one_of`` favours some branches)."""
    return options[0] if len(options) == 1 else st.sampled_from(options).flatmap(_identity)


def _label(rule: str, broken: Broken) -> InvalidTask:
    task, where = broken  # ``edited`` prefixed the location's path to ``where``
    return InvalidTask(task=task, rule=rule, parameter=parameter_name(where), path=where)


_PLANS: weakref.WeakKeyDictionary[RequestValidator, dict[str, _Plan]] = weakref.WeakKeyDictionary()


def _plans_for(validator: RequestValidator) -> dict[str, _Plan]:
    """One plan per model (keyed by AIR id) and per utility task (keyed by task type)."""
    plans = _PLANS.get(validator)
    if plans is not None:
        return plans
    reserved = {*validator.task_types, *validator.models}
    plans = {}
    for doc in validator.documents:
        target = validator.route({"taskType": doc.task_type, "model": doc.air_id}, 1)
        if isinstance(target, TaskSchema):
            plans[doc.air_id] = _Plan(target, SchemaCompiler(target.schema, reserved))
    for task_type in validator.task_types:
        target = validator.route({"taskType": task_type}, 1)
        if isinstance(target, TaskSchema) and target.model is None:
            plans[task_type] = _Plan(target, SchemaCompiler(target.schema, reserved))
    if validator.auth is not None:
        plans[AUTHENTICATION] = _Plan(
            validator.auth, SchemaCompiler(validator.auth.schema, reserved)
        )
    _PLANS[validator] = plans
    return plans


def _model_plans(validator: RequestValidator | None, model: str | None) -> list[_Plan]:
    v = validator if validator is not None else default_validator()
    plans = _plans_for(v)
    if model is None:
        return [plans[m] for m in v.models if m in plans]
    if model not in v.models or model not in plans:
        raise ValueError(f"unknown model {model!r}; the validator knows {', '.join(v.models)}")
    return [plans[model]]


def _utility_plans(validator: RequestValidator | None, task_type: str | None) -> list[_Plan]:
    v = validator if validator is not None else default_validator()
    plans = _plans_for(v)
    found = [
        plan
        for key, plan in plans.items()
        if key not in v.models and key != AUTHENTICATION and task_type in (None, key)
    ]
    if not found and task_type is not None:
        raise ValueError(f"{task_type!r} is not a utility task type of this validator")
    return found


# -- public strategies ------------------------------------------------------------------------
def valid_tasks(
    validator: RequestValidator | None = None, model: str | None = None
) -> SearchStrategy[Task]:
    """A model task (e.g. a videoInference task) the validator accepts."""
    return _pick([plan.valid() for plan in _model_plans(validator, model)])


def utility_tasks(
    validator: RequestValidator | None = None, task_type: str | None = None
) -> SearchStrategy[Task]:
    """A valid platform task no model document describes (``getResponse``, ``ping``)."""
    return _pick([plan.valid() for plan in _utility_plans(validator, task_type)])


def authentication_tasks(validator: RequestValidator | None = None) -> SearchStrategy[Task]:
    """A valid ``{"taskType": "authentication", "apiKey": ...}`` element."""
    v = validator if validator is not None else default_validator()
    plan = _plans_for(v).get(AUTHENTICATION)
    if plan is None:
        raise ValueError("no loaded document describes an AuthenticationTask")
    return plan.valid()


def _uuid_key(task: JSON) -> object:
    uuid = task.get("taskUUID") if isinstance(task, dict) else None
    return uuid.lower() if isinstance(uuid, str) else object()


def _with_auth(auth: Task | None, tasks: list[Task]) -> list[Task]:
    return [auth, *tasks] if auth is not None else tasks


def valid_requests(
    min_tasks: int = 1,
    max_tasks: int = 3,
    with_authentication: bool | None = None,
    *,
    validator: RequestValidator | None = None,
    model: str | None = None,
    with_utility_tasks: bool = True,
) -> SearchStrategy[list[Task]]:
    """A valid request body: tasks with unique taskUUIDs, maybe led by authentication.

    ``with_authentication``: True always adds the leading authentication element,
    False never does, None sometimes does. Utility tasks (getResponse, ping) are
    mixed in about one time in four unless ``with_utility_tasks`` is False.
    """
    v = validator if validator is not None else default_validator()
    models = valid_tasks(v, model)
    task = models
    if with_utility_tasks and _utility_plans(v, None):
        task = _pick([models, models, models, utility_tasks(v)])
    tasks = st.lists(task, min_size=min_tasks, max_size=max_tasks, unique_by=_uuid_key)
    if with_authentication is False or v.auth is None:
        if with_authentication:
            raise ValueError("no loaded document describes an AuthenticationTask")
        return tasks
    auth = authentication_tasks(v)
    leading: SearchStrategy[Task | None] = auth if with_authentication else st.none() | auth
    return st.builds(_with_auth, leading, tasks)


def invalid_tasks(
    validator: RequestValidator | None = None,
    model: str | None = None,
    rules: Iterable[str] | None = None,
    parameters: Iterable[str] | None = None,
) -> SearchStrategy[InvalidTask]:
    """A model task that breaks exactly one rule of its schema, labelled with the rule.

    ``rules`` limits the rules broken (JSON Schema keywords, e.g. ``{"enum"}``) and
    ``parameters`` the parameters they are broken at (as :func:`breakable_rules`
    names them, e.g. ``{"duration", "inputs.*"}``).
    """
    wanted = frozenset(rules) if rules is not None else None
    where = frozenset(parameters) if parameters is not None else None
    options = [
        found
        for plan in _model_plans(validator, model)
        if (found := plan.invalid(wanted, where)) is not None
    ]
    if not options:
        raise ValueError(
            f"these models' schemas have no rule among {sorted(wanted or ['(any)'])} "
            f"at parameters {sorted(where or ['(any)'])}; see breakable_rules()"
        )
    return _pick(options)


def breakable_rules(
    validator: RequestValidator | None = None, model: str | None = None
) -> list[tuple[str, str]]:
    """The (rule, parameter) pairs :func:`invalid_tasks` breaks, sorted.

    A parameter ending in ``*`` stands for an unknown key added to that object.
    """
    return sorted(
        {(e.rule, e.parameter) for plan in _model_plans(validator, model) for e in plan.entries()}
    )


def boundary_tasks(
    validator: RequestValidator | None = None,
    model: str | None = None,
    keywords: Iterable[str] | None = None,
) -> SearchStrategy[Task]:
    """A task whose value at one location sits at its schema's edge (valid or not).

    Other spellings of allowed numbers (``6.0``, ``true`` for ``1``), UUIDs and
    URIs with stray characters or a trailing newline, strings at length limits.
    ``keywords`` limits the locations to those whose schema uses one of them,
    e.g. ``{"format", "pattern"}`` or ``{"enum", "const"}``.
    """
    wanted = frozenset(keywords) if keywords is not None else None
    options = [
        found
        for plan in _model_plans(validator, model)
        if (found := plan.at_some_location(plan.compiler.near_values, wanted)) is not None
    ]
    if not options:
        raise ValueError(f"no location of these models' schemas uses any of {sorted(wanted or ())}")
    return _pick(options)


def tasks_with_arbitrary_values(
    validator: RequestValidator | None = None, model: str | None = None
) -> SearchStrategy[Task]:
    """A valid task except for arbitrary JSON under one of the keys its schema knows."""
    options = [plan.at_some_location(_any_json) for plan in _model_plans(validator, model)]
    return _pick([found for found in options if found is not None])


def _any_json(_node: _Flat) -> SearchStrategy[JSON]:
    return json_values()


def _non_objects() -> SearchStrategy[JSON]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
        st.lists(json_scalars(), max_size=3),
    )


def _insert(body: Sequence[JSON], item: JSON, where: int, first: int = 0) -> list[JSON]:
    """``body`` with ``item`` at position ``first + where`` (wrapped to fit)."""
    index = first + where % (len(body) + 1 - first)
    return [*body[:index], item, *body[index:]]


def _leads_with_auth(body: Sequence[JSON]) -> int:
    head = body[0] if body else None
    return 1 if isinstance(head, dict) and head.get("taskType") == AUTHENTICATION else 0


def _not_object_inside(body: list[Task], item: JSON, where: int) -> InvalidRequest:
    return InvalidRequest(_insert(body, item, where, _leads_with_auth(body)), "notObject")


def _repeated_uuid(body: list[Task], task: Task, where: int, upper: bool) -> InvalidRequest:
    owners = [i for i, t in enumerate(body) if isinstance(t.get("taskUUID"), str)]
    source = owners[where % len(owners)]
    uuid: str = body[source]["taskUUID"]
    copy = {**task, "taskUUID": uuid.upper() if upper else uuid}
    return InvalidRequest(_insert(body, copy, where, source + 1), "conflictTaskUUID", "taskUUID")


def _unknown_task_type(body: list[Task], task: Task, name: JSON, where: int) -> InvalidRequest:
    broken = {**task, "taskType": name}
    return InvalidRequest(_insert(body, broken, where), "unsupportedTaskType", "taskType")


def _late_authentication(body: list[Task], auth: Task, where: int) -> InvalidRequest:
    return InvalidRequest(_insert(body, auth, where, 1), "authenticationNotFirst", "taskType")


def invalid_requests(validator: RequestValidator | None = None) -> SearchStrategy[InvalidRequest]:
    """A request body that breaks one request-level rule; each task in it is valid."""
    v = validator if validator is not None else default_validator()
    bodies = valid_requests(validator=v, with_authentication=False)
    model_tasks = valid_tasks(v)
    unknown_names = st.one_of(
        st.text(min_size=1, max_size=16).filter(lambda n: n not in v.task_types),
        _non_objects().filter(lambda n: not isinstance(n, str)),
    )
    options: list[SearchStrategy[InvalidRequest]] = [
        st.one_of(_non_objects().filter(lambda b: not isinstance(b, list)), model_tasks).map(
            lambda b: InvalidRequest(b, "notArray")
        ),
        st.just(InvalidRequest([], "emptyArray")),
        st.builds(
            _not_object_inside, valid_requests(validator=v), _non_objects(), st.integers(0, 3)
        ),
        st.builds(
            _repeated_uuid,
            valid_requests(validator=v, with_utility_tasks=False),
            model_tasks.filter(lambda t: isinstance(t.get("taskUUID"), str)),
            st.integers(0, 3),
            st.booleans(),
        ),
        st.builds(_unknown_task_type, bodies, model_tasks, unknown_names, st.integers(0, 3)),
    ]
    if v.auth is not None:
        options.append(
            st.builds(_late_authentication, bodies, authentication_tasks(v), st.integers(0, 3))
        )
    return _pick(options)
