"""Bounds on what one request may cost: how many tasks it holds, how many errors a reply shows.

The real API documents no cap on tasks per request, and the official SDKs send one
task (or an authentication element and one task) per request. Validating an
invalid task costs the mock far more than parsing it, so a request with more
tasks than ``MockConfig.max_tasks_per_request`` is refused before any task is
looked at. Every reply built from errors shows at most
``MockConfig.max_error_items`` of them, the last one saying how many were left out.
"""

from __future__ import annotations

from typing import Any

from .auth import AUTHENTICATION
from .errors import CONNECT_DOCS, ApiError, ErrorItem, error_item

__all__ = ["MORE_ERRORS", "TOO_MANY_TASKS", "cap_errors", "task_count", "too_many_tasks"]

TOO_MANY_TASKS = "tooManyTasks"
MORE_ERRORS = "moreErrors"


def task_count(body: list[Any]) -> int:
    """The tasks of a request body: its elements, a leading authentication element aside.

    Constant time: only the first element is looked at.
    """
    first = body[0] if body else None
    leading_auth = isinstance(first, dict) and first.get("taskType") == AUTHENTICATION
    return len(body) - 1 if leading_auth else len(body)


def too_many_tasks(body: Any, limit: int) -> ApiError | None:
    """The 400 for a task array over ``limit`` tasks; None for anything else.

    Bodies that are not arrays are left to validation, which explains them.
    """
    if not isinstance(body, list):
        return None
    count = task_count(body)
    if count <= limit:
        return None
    return ApiError(
        400,
        [
            error_item(
                TOO_MANY_TASKS,
                f"Too many tasks in one request: {count:,}; the limit is {limit:,}. "
                f"Send at most {limit:,} tasks per request (an authentication element "
                "is not counted), or start the mock with a higher --max-tasks-per-request.",
                type="array",
                documentation=CONNECT_DOCS,
            )
        ],
    )


def cap_errors(errors: list[ErrorItem], limit: int) -> list[ErrorItem]:
    """At most ``limit`` (>= 2) items: ``errors`` itself, or its first ``limit - 1`` items
    and one ``moreErrors`` item saying how many more there were.

    The first items are kept because the SDKs report ``errors[0]``. The summary
    carries the taskUUID (and taskType) only when every error it stands for has
    the same one: over the WebSocket the SDKs hand an error without a taskUUID to
    every task they are waiting for.
    """
    if len(errors) <= limit:
        return errors
    shown, hidden = errors[: limit - 1], errors[limit - 1 :]
    task_uuid = _shared(hidden, "taskUUID")
    summary = error_item(
        MORE_ERRORS,
        f"... and {len(hidden):,} more errors (this reply shows the first {len(shown):,} "
        f"of {len(errors):,}).",
        task_uuid=task_uuid,
        task_type=_shared(hidden, "taskType") if task_uuid is not None else None,
    )
    return [*shown, summary]


def _shared(items: list[ErrorItem], name: str) -> str | None:
    """The one string every item has for ``name``, or None."""
    values = {value if isinstance(value := item.get(name), str) else None for item in items}
    return values.pop() if len(values) == 1 else None
