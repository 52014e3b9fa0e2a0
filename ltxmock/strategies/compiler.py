"""``SchemaCompiler``: valid values, values near the edge, and one-rule mutations of a schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .breaking import Mutation, Mutator, alternatives_rule, listed_rule, type_rule
from .jsonvalues import JSON, Broken
from .near import near_values
from .object_rules import OBJECT_RULES
from .schema import Flat
from .value_rules import VALUE_RULES
from .values import ValueCompiler, item_counts

# The keyword rules of each JSON type (a location of one declared type gets its type's).
RULES_BY_TYPE: Mapping[str, tuple[Mutator, ...]] = {**VALUE_RULES, "object": OBJECT_RULES}


@dataclass(frozen=True)
class _Carrier:
    broken: Broken


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


class SchemaCompiler(ValueCompiler):
    """Strategies for the values of one JSON Schema resource.

    ``root`` is the resource local ``$ref``s resolve against (a whole OpenAPI
    document plus a ``$ref``, as ``TaskSchema.schema`` is, or a standalone
    schema). ``reserved`` are strings no mutation may produce, because the
    validator would route a task holding them elsewhere (task types, models).
    """

    def edited(
        self, flat: Flat, route: Sequence[int], leaf: SearchStrategy[Broken]
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
            low, high = item_counts(kw)
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

    def near_values(self, flat: Flat, include_valid: bool = True) -> SearchStrategy[JSON]:
        """Values at the edge of what ``flat`` accepts: valid or not, mostly close calls."""
        return near_values(self, flat, include_valid)

    def mutations(self, flat: Flat) -> list[Mutation]:
        """Ways to break exactly one rule of ``flat``: (keyword, broken value and where)."""
        out: list[Mutation] = []
        rejected = self.rejects(flat.source)
        kw = flat.keywords
        types = self.declared_types(flat)
        if types:
            out.append(type_rule(types))
        if flat.groups and not flat.is_object:
            out += alternatives_rule(self, flat, types)
        if "const" in kw or "enum" in kw:
            out.append(listed_rule(self, flat, types))
        elif types is not None and len(types) == 1:
            for rule in RULES_BY_TYPE.get(types[0], ()):
                out += rule(self, flat, types[0])
        return [Mutation(m.rule, m.where, m.broken.filter(lambda b: rejected(b[0]))) for m in out]
