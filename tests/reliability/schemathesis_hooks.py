"""Schemathesis hooks for ``test_schemathesis.py`` (loaded through ``SCHEMATHESIS_HOOKS``).

The document says of ``taskUUID`` "Must be unique per task", which no JSON Schema can
express: Schemathesis draws UUIDs from a seeded generator and so replays the same few
for tasks with different parameters, which the mock (like the real API) answers with
``conflictTaskUUID``. Those rejections would hide what the run is for, so before each
call every UUID-shaped ``taskUUID`` gets a fresh one. A UUID repeated inside one body
maps to one fresh UUID, so a duplicate within a request stays a duplicate; a value
that is not a UUID is left alone, so negative cases stay negative.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    body = case.body
    tasks = body if isinstance(body, list) else [body]
    fresh: dict[str, str] = {}
    for task in tasks:
        if not isinstance(task, dict):
            continue
        given = task.get("taskUUID")
        if isinstance(given, str) and _is_uuid(given):
            task["taskUUID"] = fresh.setdefault(given, str(uuid.uuid4()))


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False
