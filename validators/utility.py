"""Schemas of the platform's utility tasks, which no model document describes.

``getResponse`` and ``ping`` are documented by Runware's platform pages rather
than by a model's OpenAPI document (the task-responses and connection pages), so
their small schemas live here.
"""

from __future__ import annotations

from typing import Any

TASK_RESPONSES_DOCS = "https://runware.ai/docs/en/utilities/task-responses"
CONNECTION_DOCS = "https://runware.ai/docs/en/getting-started/how-to-connect"

UTILITY_SCHEMAS: dict[str, dict[str, Any]] = {
    "getResponse": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Get Response",
        "type": "object",
        "properties": {
            "taskType": {"title": "Task Type", "const": "getResponse"},
            "taskUUID": {
                "title": "Task UUID",
                "description": "UUID of the inference task whose results to return.",
                "type": "string",
                "format": "uuid",
            },
        },
        "required": ["taskType", "taskUUID"],
        "additionalProperties": False,
    },
    "ping": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Ping",
        "type": "object",
        "properties": {
            "taskType": {"title": "Task Type", "const": "ping"},
            "ping": {"title": "Ping", "type": "boolean"},
            "taskUUID": {"title": "Task UUID", "type": "string", "format": "uuid"},
        },
        "required": ["taskType"],
        "additionalProperties": False,
    },
}

UTILITY_DOCS = {"getResponse": TASK_RESPONSES_DOCS, "ping": CONNECTION_DOCS}
