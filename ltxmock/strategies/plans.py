"""One plan per task schema the validator routes to: its strategies, built once and reused."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ltxmock.validators import RequestValidator, TaskSchema, default_validator

from .breaking import here
from .compiler import SchemaCompiler
from .jsonvalues import JSON, Broken, Path, Task
from .labels import InvalidTask, parameter_name
from .schema import Flat

AUTHENTICATION = "authentication"


def pick(options: Sequence[SearchStrategy[Any]]) -> SearchStrategy[Any]:
    """One of ``options``, chosen uniformly (``st.one_of`` favours some branches)."""
    return options[0] if len(options) == 1 else st.sampled_from(options).flatmap(_identity)


def _identity(strategy: SearchStrategy[Any]) -> SearchStrategy[Any]:
    return strategy


def _first(broken: Broken) -> JSON:
    return broken[0]


def _label(rule: str, broken: Broken) -> InvalidTask:
    task, where = broken  # ``edited`` prefixed the location's path to ``where``
    return InvalidTask(task=task, rule=rule, parameter=parameter_name(where), path=where)


@dataclass(frozen=True)
class Entry:
    """A rule a task schema can break, where, and the strategy breaking it there."""

    rule: str
    parameter: str  # as the validator names it; ``*`` stands for a drawn unknown key
    strategy: SearchStrategy[InvalidTask]


@dataclass(eq=False)
class Plan:
    """Strategies for one task schema the validator routes to (built once, then reused)."""

    target: TaskSchema
    compiler: SchemaCompiler
    flat: Flat = field(init=False)
    _cache: dict[object, SearchStrategy[Any] | None] = field(init=False, default_factory=dict)
    _entries: list[Entry] | None = field(init=False, default=None)

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

    def entries(self) -> list[Entry]:
        """Every (rule, location) this schema can break, each with its strategy."""
        if self._entries is not None:
            return self._entries
        entries: list[Entry] = []
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
                entries.append(Entry(mutation.rule, parameter, labelled))
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
                .flatmap(lambda rule: pick(by_rule[rule]))
                .filter(lambda bad: not self.target.compiled.is_valid(bad.task))
            )

        strategy: SearchStrategy[InvalidTask] | None = self._once(
            ("invalid", rules, parameters), build
        )
        return strategy

    def at_some_location(
        self,
        leaf: Callable[[Flat], SearchStrategy[JSON]],
        keywords: frozenset[str] | None = None,
    ) -> SearchStrategy[Task] | None:
        def build() -> SearchStrategy[Task] | None:
            options = [
                self.compiler.edited(self.flat, route, here(leaf(node))).map(_first)
                for route, path, node in self.compiler.locations(self.flat)
                if path and (keywords is None or self.compiler.mentions(node, keywords))
            ]
            return pick(options) if options else None

        strategy: SearchStrategy[Task] | None = self._once((leaf, keywords), build)
        return strategy


_PLANS: weakref.WeakKeyDictionary[RequestValidator, dict[str, Plan]] = weakref.WeakKeyDictionary()


def plans_for(validator: RequestValidator) -> dict[str, Plan]:
    """One plan per model (keyed by AIR id) and per utility task (keyed by task type)."""
    plans = _PLANS.get(validator)
    if plans is not None:
        return plans
    reserved = {*validator.task_types, *validator.models}
    plans = {}
    for doc in validator.documents:
        target = validator.route({"taskType": doc.task_type, "model": doc.air_id}, 1)
        if isinstance(target, TaskSchema):
            plans[doc.air_id] = Plan(target, SchemaCompiler(target.schema, reserved))
    for task_type in validator.task_types:
        target = validator.route({"taskType": task_type}, 1)
        if isinstance(target, TaskSchema) and target.model is None:
            plans[task_type] = Plan(target, SchemaCompiler(target.schema, reserved))
    if validator.auth is not None:
        auth = validator.auth
        plans[AUTHENTICATION] = Plan(auth, SchemaCompiler(auth.schema, reserved))
    _PLANS[validator] = plans
    return plans


def model_plans(validator: RequestValidator | None, model: str | None) -> list[Plan]:
    """The plans of ``model`` (an AIR id), or of every model the validator knows."""
    v = validator if validator is not None else default_validator()
    plans = plans_for(v)
    if model is None:
        return [plans[m] for m in v.models if m in plans]
    if model not in v.models or model not in plans:
        raise ValueError(f"unknown model {model!r}; the validator knows {', '.join(v.models)}")
    return [plans[model]]


def utility_plans(validator: RequestValidator | None, task_type: str | None) -> list[Plan]:
    """The plans of the utility task ``task_type``, or of every utility task."""
    v = validator if validator is not None else default_validator()
    plans = plans_for(v)
    found = [
        plan
        for key, plan in plans.items()
        if key not in v.models and key != AUTHENTICATION and task_type in (None, key)
    ]
    if not found and task_type is not None:
        raise ValueError(f"{task_type!r} is not a utility task type of this validator")
    return found
