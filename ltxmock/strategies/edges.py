"""Tasks valid but at one location: a value at its schema's edge, or arbitrary JSON."""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis.strategies import SearchStrategy

from ltxmock.validators import RequestValidator

from .jsonvalues import JSON, Task, json_values
from .plans import model_plans, pick
from .printing import printable
from .schema import Flat


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
        for plan in model_plans(validator, model)
        if (found := plan.at_some_location(plan.compiler.near_values, wanted)) is not None
    ]
    if not options:
        raise ValueError(f"no location of these models' schemas uses any of {sorted(wanted or ())}")
    return printable(pick(options))


def tasks_with_arbitrary_values(
    validator: RequestValidator | None = None, model: str | None = None
) -> SearchStrategy[Task]:
    """A valid task except for arbitrary JSON under one of the keys its schema knows."""
    options = [plan.at_some_location(_any_json) for plan in model_plans(validator, model)]
    return printable(pick([found for found in options if found is not None]))


def _any_json(_node: Flat) -> SearchStrategy[JSON]:
    return json_values()
