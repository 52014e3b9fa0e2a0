"""Reading a JSON Schema resource: folding locations, taking branches, checking values, walking."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import jsonschema_rs

from ltxmock.validators.documents import resolve_pointer
from ltxmock.validators.formats import RUST_FORMAT_OVERRIDES

from .jsonvalues import JSON, Path
from .schema import SUPPORTED, UNSUPPORTED, Edge, Flat, Group, merge_keyword, merge_keywords


class SchemaReader:
    """The locations of one JSON Schema resource, folded and cached.

    ``root`` is the resource local ``$ref``s resolve against; ``reserved`` are
    strings no mutation may produce (see ``SchemaCompiler``).
    """

    def __init__(self, root: JSON, reserved: Iterable[str] = ()) -> None:
        self.root = root
        self.reserved = frozenset(reserved)
        self._flats: dict[int, tuple[JSON, Flat]] = {}
        self._branches: dict[tuple[int, int, int], Flat] = {}
        self._children_cache: dict[int, tuple[Flat, list[Edge]]] = {}
        self._checks: dict[int, tuple[JSON, Callable[[JSON], bool]]] = {}

    def resolve(self, ref: str) -> JSON:
        if not ref.startswith("#"):
            raise NotImplementedError(f"only local $refs are supported, not {ref!r}")
        return resolve_pointer(self.root, ref[1:])

    def flatten(self, schema: JSON) -> Flat:
        hit = self._flats.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        keywords: dict[str, JSON] = {}
        groups: list[Group] = []
        self._absorb(schema, keywords, groups, 0)
        flat = Flat(keywords, tuple(groups), schema)
        self._flats[id(schema)] = (schema, flat)
        return flat

    def _absorb(
        self, schema: JSON, keywords: dict[str, JSON], groups: list[Group], depth: int
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
                groups.append(Group(key, tuple(value)))
            elif key in SUPPORTED:
                merge_keyword(keywords, key, value)
            elif key in UNSUPPORTED:
                raise NotImplementedError(f"JSON Schema keyword {key!r} is not supported")
            # anything else is an annotation or an OpenAPI extension: no constraint

    def with_branch(self, flat: Flat, group: int, branch: int) -> Flat:
        """``flat`` with one branch of one of its oneOf/anyOf groups taken."""
        key = (id(flat), group, branch)
        hit = self._branches.get(key)
        if hit is not None:
            return hit
        chosen = self.flatten(flat.groups[group].branches[branch])
        rest = flat.groups[:group] + flat.groups[group + 1 :]
        merged = Flat(
            merge_keywords(flat.keywords, chosen.keywords), rest + chosen.groups, flat.source
        )
        self._branches[key] = merged
        return merged

    def branches(self, flat: Flat) -> list[Flat]:
        """``flat`` with each branch of its first oneOf/anyOf group taken, in order."""
        return [self.with_branch(flat, 0, i) for i in range(len(flat.groups[0].branches))]

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

    def declared_types(self, flat: Flat) -> tuple[str, ...] | None:
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

    def mentions(self, flat: Flat, keywords: frozenset[str], depth: int = 0) -> bool:
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

    # -- locations ------------------------------------------------------------------
    def children(self, flat: Flat) -> list[Edge]:
        hit = self._children_cache.get(id(flat))
        if hit is not None and hit[0] is flat:
            return hit[1]
        edges: list[Edge] = []
        if flat.is_object:
            edges = [Edge(key, self.flatten(sub)) for key, sub in flat.properties.items()]
        elif flat.is_array:
            if "items" in flat.keywords and flat.keywords.get("maxItems", 1) >= 1:
                edges = [Edge(0, self.flatten(flat.keywords["items"]))]
        elif flat.groups:
            for branch in self.branches(flat):
                if branch.is_object or branch.is_array:
                    edges.append(Edge(None, branch))
        self._children_cache[id(flat)] = (flat, edges)
        return edges

    def locations(self, flat: Flat, depth: int = 0) -> list[tuple[tuple[int, ...], Path, Flat]]:
        """Every location of the schema: (route through ``children``, path, node)."""
        out: list[tuple[tuple[int, ...], Path, Flat]] = [((), (), flat)]
        if depth > 16:
            return out
        for i, edge in enumerate(self.children(flat)):
            head: Path = () if edge.head is None else (edge.head,)
            for route, path, node in self.locations(edge.child, depth + 1):
                out.append(((i, *route), (*head, *path), node))
        return out
