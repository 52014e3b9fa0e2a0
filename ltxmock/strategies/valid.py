"""Valid tasks and request bodies."""

from __future__ import annotations

import uuid

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ltxmock.validators import RequestValidator, default_validator

from .jsonvalues import JSON, Task
from .plans import AUTHENTICATION, model_plans, pick, plans_for, utility_plans
from .printing import printable


def valid_tasks(
    validator: RequestValidator | None = None, model: str | None = None
) -> SearchStrategy[Task]:
    """A model task (e.g. a videoInference task) the validator accepts."""
    return printable(pick([plan.valid() for plan in model_plans(validator, model)]))


def utility_tasks(
    validator: RequestValidator | None = None, task_type: str | None = None
) -> SearchStrategy[Task]:
    """A valid platform task no model document describes (``getResponse``, ``ping``)."""
    return printable(pick([plan.valid() for plan in utility_plans(validator, task_type)]))


def authentication_tasks(validator: RequestValidator | None = None) -> SearchStrategy[Task]:
    """A valid ``{"taskType": "authentication", "apiKey": ...}`` element."""
    v = validator if validator is not None else default_validator()
    plan = plans_for(v).get(AUTHENTICATION)
    if plan is None:
        raise ValueError("no loaded document describes an AuthenticationTask")
    return printable(plan.valid())


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
    if with_utility_tasks and utility_plans(v, None):
        task = pick([models, models, models, utility_tasks(v)])
    tasks = st.lists(task, min_size=min_tasks, max_size=max_tasks, unique_by=_uuid_key)
    if with_authentication is False or v.auth is None:
        if with_authentication:
            raise ValueError("no loaded document describes an AuthenticationTask")
        return printable(tasks)
    auth = authentication_tasks(v)
    leading: SearchStrategy[Task | None] = auth if with_authentication else st.none() | auth
    return printable(st.builds(_with_auth, leading, tasks))


def _fresh_uuid(task: Task) -> Task:
    return {**task, "taskUUID": str(uuid.uuid4())}


def submittable_tasks(
    validator: RequestValidator | None = None, model: str | None = None
) -> SearchStrategy[Task]:
    """A model task that can be sent to the mock as it is: valid, with a fresh
    random ``taskUUID`` in every example (never one an earlier example used, so
    no ``conflictTaskUUID``), URLs on reserved hosts only (nothing is sent)."""
    return printable(valid_tasks(validator, model).map(_fresh_uuid))


def submittable_requests(
    min_tasks: int = 1,
    max_tasks: int = 3,
    *,
    validator: RequestValidator | None = None,
    model: str | None = None,
) -> SearchStrategy[list[Task]]:
    """A request body of ``submittable_tasks`` (no utility task, no authentication
    element: send the key in the ``Authorization`` header)."""
    return printable(
        st.lists(submittable_tasks(validator, model), min_size=min_tasks, max_size=max_tasks)
    )
