"""Deterministic fault injection, for users' contract tests.

Two kinds of fault:

* ``http``: the request is answered with an error status (402, 403, 429, 500,
  503, 504, ...) and a Runware-shaped body, before it is validated or run.
* ``task``: the request is accepted, and the task it submits fails when polled
  after its latency (200 ``{"errors": [{..., "status": "error"}]}``).

Ad hoc, per request: the ``X-Ltxmock-Fault`` header (``503``,
``429:inferenceRateLimitExceeded``, ``task:timeoutProvider``). As rules, shared
by every worker through the store: ``service.faults.respond_with(429, times=3)``,
``service.faults.fail_tasks("timeoutProvider")`` or ``POST /__ltxmock/faults``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ERRORS_DOCS, ErrorItem, error_item, invalid_api_key

FAULT_HEADER = "X-Ltxmock-Fault"
FaultKind = Literal["http", "task"]

# Status -> (code, message) of the documented error statuses; no Retry-After is
# ever sent, as the real API documents none.
HTTP_FAULTS: Mapping[int, tuple[str, str]] = {
    401: ("invalidApiKey", "Invalid API key. Get one at https://my.runware.ai/signup"),
    402: (
        "insufficientCredits",
        "Insufficient credits, please add your credit card and top-up your balance.",
    ),
    403: (
        "insufficientPermissions",
        "This API key does not have permission to perform this operation.",
    ),
    429: (
        "rateLimitExceeded",
        "Too many requests: the queue capacity for this model is exceeded. "
        "Retry with exponential backoff.",
    ),
    500: ("internalServerError", "An internal server error occurred. Please try again later."),
    503: (
        "serviceUnavailable",
        "The service is temporarily unavailable (capacity limit reached). Please retry.",
    ),
    504: ("timeout", "The request exceeded the maximum queue wait time and was cancelled."),
}

TASK_FAILURES: Mapping[str, str] = {
    "timeoutProvider": "The external provider did not respond within the timeout window. "
    "The request was automatically terminated.",
    "providerError": "The external provider returned an error while generating the video.",
    "providerTimeout": "The external provider timed out while generating the video.",
    "contentPolicyViolation": "The request was rejected by the provider's content policy.",
    "inferenceError": "An error occurred during inference.",
}
DEFAULT_TASK_FAILURE = "timeoutProvider"
TASK_FAILURE_DOCS = "https://runware.ai/docs/en/video-inference/api-reference"


@dataclass(frozen=True)
class Fault:
    """One fault: what to answer, how many more times (None = until removed), for what."""

    kind: FaultKind
    status: int
    code: str
    message: str
    times: int | None = 1
    task_type: str | None = None  # http faults: only requests carrying this task type
    id: int | None = None

    @classmethod
    def http(
        cls,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        times: int | None = 1,
        task_type: str | None = None,
    ) -> Fault:
        if not 400 <= status <= 599:
            raise ValueError(f"an injected HTTP status must be 400-599, not {status}")
        default_code, default_message = HTTP_FAULTS.get(status, (None, None))
        chosen = code or default_code
        if chosen is None:
            known = ", ".join(str(s) for s in HTTP_FAULTS)
            raise ValueError(f"status {status} needs an explicit code (defaults exist for {known})")
        text = message or default_message or f"Injected error {chosen} (HTTP {status})."
        return cls("http", status, chosen, text, _times(times), task_type)

    @classmethod
    def task_failure(
        cls, code: str = DEFAULT_TASK_FAILURE, *, message: str | None = None, times: int | None = 1
    ) -> Fault:
        text = message or TASK_FAILURES.get(code, f"The task failed ({code}).")
        return cls("task", 200, code, text, _times(times), "videoInference")

    @classmethod
    def parse(cls, text: str) -> Fault:
        """The header syntax: ``503``, ``429:someCode`` or ``task[:code]``."""
        head, _, code = text.strip().partition(":")
        head, code = head.strip(), code.strip()
        if head.lower() == "task":
            return cls.task_failure(code or DEFAULT_TASK_FAILURE, times=1)
        if not head.isdigit():
            raise ValueError(
                f"cannot read fault {text!r}: use a status such as '503', "
                "'429:rateLimitExceeded', or 'task:timeoutProvider'"
            )
        return cls.http(int(head), code=code or None, times=1)

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """The admin API syntax: ``{"status": 429, "times": 3}``, ``{"task": "providerError"}``."""
        if not isinstance(data, Mapping):
            raise ValueError('a fault is a JSON object such as {"status": 429, "times": 2}')
        known = {"status", "task", "code", "message", "times", "taskType"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault fields {unknown}; allowed: {sorted(known)}")
        times = data.get("times", 1)
        if times is not None and (not isinstance(times, int) or isinstance(times, bool)):
            raise ValueError("times must be a positive integer, or null for 'until removed'")
        message = _optional_str(data, "message")
        if "task" in data:
            if "status" in data:
                raise ValueError("give either status (an HTTP fault) or task (a task failure)")
            code = data["task"] if isinstance(data["task"], str) and data["task"] else None
            return cls.task_failure(code or DEFAULT_TASK_FAILURE, message=message, times=times)
        status = data.get("status")
        if not isinstance(status, int) or isinstance(status, bool):
            raise ValueError("status must be an HTTP status code such as 429")
        return cls.http(
            status,
            code=_optional_str(data, "code"),
            message=message,
            times=times,
            task_type=_optional_str(data, "taskType"),
        )

    def with_id(self, fault_id: int) -> Fault:
        return dataclasses.replace(self, id=fault_id)

    @property
    def label(self) -> str:
        """How the journal names it: ``503:serviceUnavailable`` or ``task:timeoutProvider``."""
        return f"task:{self.code}" if self.kind == "task" else f"{self.status}:{self.code}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "times": self.times,
            "taskType": self.task_type,
        }

    def error_items(self, body: Any) -> list[ErrorItem]:
        """The ``errors[]`` of an http fault: one per task of the request, scoped to it."""
        if self.code == "invalidApiKey":
            return [invalid_api_key()]
        scoped = [
            error_item(
                self.code,
                self.message,
                documentation=ERRORS_DOCS,
                task_uuid=task["taskUUID"],
                task_type=task.get("taskType") if isinstance(task.get("taskType"), str) else None,
            )
            for task in (body if isinstance(body, list) else [])
            if isinstance(task, dict) and isinstance(task.get("taskUUID"), str)
        ]
        return scoped or [error_item(self.code, self.message, documentation=ERRORS_DOCS)]

    def task_error(self, task_uuid: str, task_type: str) -> ErrorItem:
        """The poll-time ``errors[]`` item of a task this fault made fail."""
        return error_item(
            self.code,
            self.message,
            documentation=TASK_FAILURE_DOCS,
            task_uuid=task_uuid,
            task_type=task_type,
            status="error",
        )


def _times(times: int | None) -> int | None:
    if times is not None and times < 1:
        raise ValueError("times must be at least 1 (or None: until removed)")
    return times


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value or None
