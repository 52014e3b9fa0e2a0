"""Runware-shaped error items, and ApiError: a request that fails as a whole.

Every error the mock emits is a dict like the real API's ``errors[]`` entries
(``code``, ``message`` and, where they apply, ``parameter``, ``type``,
``documentation``, ``taskUUID``, ``taskType``, ``status``).
"""

from __future__ import annotations

from typing import Any

ERRORS_DOCS = "https://runware.ai/docs/platform/errors"
CONNECT_DOCS = "https://runware.ai/docs/en/getting-started/how-to-connect"
TASK_RESPONSES_DOCS = "https://runware.ai/docs/en/utilities/task-responses"
VIDEO_DOCS = "https://runware.ai/docs/en/video-inference/api-reference"

ErrorItem = dict[str, Any]


def error_item(
    code: str,
    message: str,
    *,
    parameter: str | None = None,
    type: str | None = None,
    documentation: str | None = None,
    task_uuid: str | None = None,
    task_type: str | None = None,
    status: str | None = None,
) -> ErrorItem:
    """One ``errors[]`` entry; absent fields are left out, never null."""
    item: ErrorItem = {"code": code, "message": message}
    optional = {
        "parameter": parameter,
        "type": type,
        "documentation": documentation,
        "taskUUID": task_uuid,
        "taskType": task_type,
        "status": status,
    }
    item.update({key: value for key, value in optional.items() if value is not None})
    return item


class ApiError(Exception):
    """The whole request fails with ``status`` and these ``errors`` (never empty)."""

    def __init__(
        self,
        status: int,
        errors: list[ErrorItem],
        *,
        fault: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ):
        if not errors:
            raise ValueError("an ApiError needs at least one error item")
        super().__init__(f"HTTP {status}: {errors[0]['code']}")
        self.status = status
        self.errors = errors
        self.fault = fault
        self.headers = headers  # extra HTTP headers of the answer (an injected Retry-After)

    @classmethod
    def single(cls, status: int, code: str, message: str, **fields: Any) -> ApiError:
        return cls(status, [error_item(code, message, **fields)])


def invalid_api_key() -> ErrorItem:
    # Byte for byte the body the docs show for a missing or bad key.
    return error_item(
        "invalidApiKey",
        "Invalid API key. Get one at https://my.runware.ai/signup",
        parameter="apiKey",
        task_type="authentication",
    )


def invalid_json(detail: str) -> ApiError:
    return ApiError.single(
        400,
        "invalidJson",
        f"The request body is not valid JSON: {detail}. Send a JSON array of task objects.",
        documentation=CONNECT_DOCS,
    )


def unsupported_content_type(content_type: str | None) -> ApiError:
    got = f"got {content_type!r}" if content_type else "no Content-Type header was sent"
    return ApiError.single(
        400,
        "unsupportedContentType",
        f"Requests must be sent with 'Content-Type: application/json' ({got}).",
        parameter="Content-Type",
        documentation=CONNECT_DOCS,
    )


def payload_too_large(limit: int) -> ApiError:
    return ApiError.single(
        413,
        "payloadTooLarge",
        f"The request body exceeds the limit of {limit} bytes.",
        documentation=CONNECT_DOCS,
    )


def internal_server_error() -> ErrorItem:
    return error_item(
        "internalServerError",
        "An unexpected error occurred in the ltxmock server; its log has the details.",
        documentation=ERRORS_DOCS,
    )


def task_not_found(task_uuid: str) -> ErrorItem:
    return error_item(
        "taskNotFound",
        f"No task with taskUUID {task_uuid} was found for this API key. It was never "
        "submitted, or its results expired after their time-to-live.",
        parameter="taskUUID",
        documentation=TASK_RESPONSES_DOCS,
        task_uuid=task_uuid,
        task_type="getResponse",
    )


def conflict_task_uuid(task_uuid: str, task_type: str) -> ErrorItem:
    return error_item(
        "conflictTaskUUID",
        f"Invalid value for taskUUID parameter. Task UUID {task_uuid} is already used by a "
        "task with different parameters; resend exactly the same task to retry it, or use "
        "a new UUID v4 for a new task.",
        parameter="taskUUID",
        type="string",
        documentation=VIDEO_DOCS,
        task_uuid=task_uuid,
        task_type=task_type,
    )


def http_error(status: int, description: str) -> ErrorItem:
    """The body for a routing-level failure (unknown path, wrong method)."""
    codes = {404: "notFound", 405: "methodNotAllowed", 413: "payloadTooLarge"}
    return error_item(
        codes.get(status, "badRequest" if status < 500 else "internalServerError"),
        description,
        documentation=CONNECT_DOCS,
    )
