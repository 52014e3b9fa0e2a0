"""Breaking the keywords of objects: required and unknown keys, dependencies, combination tables."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from itertools import product
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .breaking import Mutation, Mutator, unlisted
from .jsonvalues import JSON, Broken, Path, Task, json_type, json_values
from .schema import Flat, Group
from .values import ValueCompiler


def _without(obj: Mapping[str, JSON], *keys: str) -> Task:
    return {k: v for k, v in obj.items() if k not in keys}


def _dropped(where: Path, *keys_and_obj: Any) -> Broken:
    *keys, obj = keys_and_obj
    return _without(obj, *keys), where


def _replaced(key: str, obj: Mapping[str, JSON], value: JSON) -> Broken:
    return {**obj, key: value}, (key,)


def _required(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    valid = compiler.objects(flat)
    return [
        Mutation("required", (key,), valid.map(partial(_dropped, (key,), key)))
        for key in flat.keywords.get("required", ())
    ]


def _additional_properties(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    if flat.keywords.get("additionalProperties") is not False:
        return []
    props = flat.properties
    names = st.from_regex(r"[a-z][A-Za-z0-9]{0,11}", fullmatch=True).filter(
        lambda name: name not in props
    )
    added = st.builds(
        lambda o, name, v: ({**o, name: v}, (name,)),
        compiler.objects(flat),
        names,
        json_values(max_leaves=3),
    )
    return [Mutation("additionalProperties", None, added)]  # the unknown key is drawn


def _dependent_required(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    kw = flat.keywords
    required = list(kw.get("required", ()))
    out: list[Mutation] = []
    for trigger, needs in kw.get("dependentRequired", {}).items():
        for need in needs:
            if need in required or need == trigger:
                continue
            with_trigger = compiler.objects(flat, force={trigger})
            out.append(
                Mutation(
                    "dependentRequired",
                    (need,),
                    with_trigger.map(partial(_dropped, (need,), need)),
                )
            )
    return out


def _combination_tables(compiler: ValueCompiler, flat: Flat, kind: str) -> list[Mutation]:
    valid = compiler.objects(flat)
    required = list(flat.keywords.get("required", ()))
    out: list[Mutation] = []
    for group in flat.groups:
        out += _table_mutations(compiler, flat, group, valid, required)
    return out


def _table_mutations(
    compiler: ValueCompiler,
    flat: Flat,
    group: Group,
    valid: SearchStrategy[JSON],
    required: list[str],
) -> list[Mutation]:
    table = group.table()
    if table is None:
        return []
    keys, rows = table
    out: list[Mutation] = []
    columns = [list(dict.fromkeys(row[i] for row in rows)) for i in range(len(keys))]
    # Each value allowed on its own, the pair in no row; the validator blames the
    # value that completes the impossible combination: the last key of the table.
    mixed = [c for c in product(*columns) if c not in rows]
    if mixed:
        out.append(
            Mutation(
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
        base = compiler.flatten(flat.properties.get(key, True))
        kinds = base.types or tuple(dict.fromkeys(json_type(v) for v in columns[i]))
        outside = unlisted(columns[i], kinds, compiler.reserved).filter(compiler.check(base.source))
        out.append(Mutation(group.kind, (key,), st.builds(partial(_replaced, key), valid, outside)))
    # Every key of the table left out: each row then matches, and oneOf wants one.
    if group.kind == "oneOf" and len(rows) > 1 and not set(keys) & set(required):
        absent = valid.map(partial(_dropped, (keys[0],), *keys))
        out.append(Mutation(group.kind, (keys[0],), absent))
    return out


# In the order their mutations are listed (and so drawn).
OBJECT_RULES: tuple[Mutator, ...] = (
    _required,
    _additional_properties,
    _dependent_required,
    _combination_tables,
)
