"""Values just inside and just outside what a schema location accepts."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ltxmock.validators.formats import ecma_regex

from .jsonvalues import JSON, other_spellings
from .schema import Flat
from .text import long_texts, pattern_variant, uri_near_misses, uuid_near_misses
from .values import ValueCompiler


def near_values(
    compiler: ValueCompiler, flat: Flat, include_valid: bool = True
) -> SearchStrategy[JSON]:
    """Values at the edge of what ``flat`` accepts: valid or not, mostly close calls."""
    kw = flat.keywords
    options: list[SearchStrategy[JSON]] = [compiler.values_of(flat)] if include_valid else []
    if flat.groups and not flat.is_object:
        options += [
            near_values(compiler, branch, include_valid) for branch in compiler.branches(flat)
        ]
        consts = flat.groups[0].constants()
        if consts:
            options.append(st.sampled_from(other_spellings(consts)))
    pinned = [kw["const"]] if "const" in kw else list(kw.get("enum", []))
    if pinned:
        options.append(st.sampled_from(pinned + other_spellings(pinned)))
    types = flat.types or ()
    if "string" in types or kw.get("format") or kw.get("pattern"):
        options += near_strings(flat)
    if "integer" in types or "number" in types:
        edges = [
            kw[k] for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") if k in kw
        ]
        if edges:
            options.append(st.sampled_from([*edges, *other_spellings(edges)]))
    if "boolean" in types:
        options.append(st.sampled_from([0, 1, 0.0, "true", None]))
    return st.one_of(options) if options else compiler.values_of(flat)


def near_strings(flat: Flat) -> list[SearchStrategy[JSON]]:
    """Strings near the format, pattern and length limits of ``flat``."""
    kw = flat.keywords
    out: list[SearchStrategy[JSON]] = []
    if kw.get("format") == "uuid":
        out.append(uuid_near_misses())
    if kw.get("format") == "uri":
        out.append(uri_near_misses())
    if kw.get("pattern") is not None:
        out.append(
            st.builds(
                pattern_variant,
                st.from_regex(ecma_regex(kw["pattern"])),
                st.integers(0, 6),
            )
        )
    for key, delta in (("minLength", -1), ("minLength", 0), ("maxLength", 0), ("maxLength", 1)):
        if key in kw and kw[key] + delta >= 0:
            out.append(long_texts(kw[key] + delta, kw[key] + delta))
    return out
