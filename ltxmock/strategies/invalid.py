"""Invalid tasks (one schema rule broken) and invalid request bodies (one request rule broken)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ltxmock.validators import RequestValidator, default_validator

from .jsonvalues import JSON, Task, json_scalars
from .labels import InvalidRequest, InvalidTask
from .plans import AUTHENTICATION, model_plans, pick
from .printing import printable
from .valid import authentication_tasks, valid_requests, valid_tasks


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
        for plan in model_plans(validator, model)
        if (found := plan.invalid(wanted, where)) is not None
    ]
    if not options:
        raise ValueError(
            f"these models' schemas have no rule among {sorted(wanted or ['(any)'])} "
            f"at parameters {sorted(where or ['(any)'])}; see breakable_rules()"
        )
    return printable(pick(options))


def breakable_rules(
    validator: RequestValidator | None = None, model: str | None = None
) -> list[tuple[str, str]]:
    """The (rule, parameter) pairs :func:`invalid_tasks` breaks, sorted.

    A parameter ending in ``*`` stands for an unknown key added to that object.
    """
    return sorted(
        {(e.rule, e.parameter) for plan in model_plans(validator, model) for e in plan.entries()}
    )


# -- request-level rules ------------------------------------------------------------------------
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
    return printable(pick(options))
