"""Deterministic fault injection, for users' contract tests.

Three kinds of fault:

* ``http``: the request is answered with an error status (402, 403, 429, 500,
  503, 504, ...) and a Runware-shaped body, before it is validated or run;
  optionally with a ``Retry-After`` header (the real API sends none).
* ``task``: the request is accepted, and the task it submits fails when polled
  after its latency (200 ``{"errors": [{..., "status": "error"}]}``).
* ``transport``: the request is handled as usual, then the answer is delayed
  (fixed or random), cut short, lost in a connection reset, or never sent
  (a hang until the client gives up). The transport (``serve/asgi.py``,
  ``http/rest.py``) carries it out; the protocol only decides.

Selected per request by the ``X-Ltxmock-Fault`` header (``503``,
``429:inferenceRateLimitExceeded;retry-after=2``, ``task:timeoutProvider``,
``delay:0.5-2``, ``reset``), a prompt directive (``directives.py``), the API key
(``MockConfig.fault_keys``), or as rules shared by every worker through the
store: ``service.faults.respond_with(429, times=3)``,
``service.faults.fail_tasks("timeoutProvider")`` or ``POST /__ltxmock/faults``.
Rules may match a task type, body fields and the nth matching call.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ERRORS_DOCS, ErrorItem, error_item, invalid_api_key

FAULT_HEADER = "X-Ltxmock-Fault"
FaultKind = Literal["http", "task", "transport"]

# Transport faults, by the code they are named with.
DELAY, RESET, TRUNCATE, HANG = "delay", "reset", "truncate", "hang"
TRANSPORT_FAULTS: Mapping[str, str] = {
    DELAY: "the answer is sent after a delay",
    RESET: "the connection is reset instead of answering (the request was handled)",
    TRUNCATE: "the answer is cut off after half its body (the request was handled)",
    HANG: "no answer is ever sent, until the client gives up (the request was handled)",
}
MAX_DELAY = 600.0  # seconds: a delay or hang holds a connection, so it is bounded
MAX_RETRY_AFTER = 86400

# Status -> (code, message) of the documented error statuses. No Retry-After by
# default, as the real API documents none; a fault may ask for one.
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
    task_type: str | None = None  # only requests carrying a task of this type
    id: int | None = None
    # Rules only: body fields (dotted paths) a task of the request must carry,
    # and how many matching requests still pass before the rule fires (nth = after + 1).
    match: Mapping[str, Any] | None = None
    after: int = 0
    retry_after: int | None = None  # http faults: the Retry-After header, in seconds
    delay: tuple[float, float] | None = None  # transport "delay" (and "hang": its cap)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Extra HTTP headers of the answer (``Retry-After``)."""
        if self.kind == "http" and self.retry_after is not None:
            return (("Retry-After", str(self.retry_after)),)
        return ()

    @classmethod
    def http(
        cls,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        times: int | None = 1,
        task_type: str | None = None,
        retry_after: int | None = None,
    ) -> Fault:
        if not 400 <= status <= 599:
            raise ValueError(f"an injected HTTP status must be 400-599, not {status}")
        default_code, default_message = HTTP_FAULTS.get(status, (None, None))
        chosen = code or default_code
        if chosen is None:
            known = ", ".join(str(s) for s in HTTP_FAULTS)
            raise ValueError(f"status {status} needs an explicit code (defaults exist for {known})")
        text = message or default_message or f"Injected error {chosen} (HTTP {status})."
        if retry_after is not None and not 0 <= retry_after <= MAX_RETRY_AFTER:
            raise ValueError(f"retry-after must be 0-{MAX_RETRY_AFTER} seconds")
        return cls("http", status, chosen, text, _times(times), task_type, retry_after=retry_after)

    @classmethod
    def transport(
        cls,
        code: str,
        *,
        delay: tuple[float, float] | None = None,
        times: int | None = 1,
        task_type: str | None = None,
    ) -> Fault:
        """``delay`` (seconds, fixed or a range), ``reset``, ``truncate`` or ``hang``."""
        if code not in TRANSPORT_FAULTS:
            raise ValueError(f"unknown transport fault {code!r}; one of {sorted(TRANSPORT_FAULTS)}")
        if code == DELAY and delay is None:
            raise ValueError("a delay fault needs its seconds, e.g. delay:2 or delay:0.5-3")
        if delay is not None:
            low, high = delay
            if not 0 <= low <= high <= MAX_DELAY:
                raise ValueError(f"delay seconds must satisfy 0 <= low <= high <= {MAX_DELAY:g}")
        elif code == HANG:
            delay = (MAX_DELAY, MAX_DELAY)
        message = TRANSPORT_FAULTS[code]
        return cls("transport", 0, code, message, _times(times), task_type, delay=delay)

    @classmethod
    def task_failure(
        cls, code: str = DEFAULT_TASK_FAILURE, *, message: str | None = None, times: int | None = 1
    ) -> Fault:
        text = message or TASK_FAILURES.get(code, f"The task failed ({code}).")
        return cls("task", 200, code, text, _times(times), "videoInference")

    @classmethod
    def parse(cls, text: str, *, times: int | None = 1) -> Fault:
        """The header syntax: ``503``, ``429:someCode``, ``429;retry-after=2``,
        ``task[:code]``, ``delay:SECONDS``, ``delay:LOW-HIGH``, ``reset``,
        ``truncate``, ``hang[:SECONDS]``."""
        spec, _, option = text.strip().partition(";")
        head, _, code = spec.strip().partition(":")
        head, code = head.strip(), code.strip()
        retry_after = _retry_after_option(option) if option.strip() else None
        lowered = head.lower()
        if retry_after is not None and not head.isdigit():
            raise ValueError("retry-after goes with an HTTP status, e.g. 429;retry-after=2")
        if lowered == "task":
            return cls.task_failure(code or DEFAULT_TASK_FAILURE, times=times)
        if lowered in TRANSPORT_FAULTS:
            delay = _seconds_range(code) if code else None
            return cls.transport(lowered, delay=delay, times=times)
        if not head.isdigit():
            raise ValueError(
                f"cannot read fault {text[:80]!r}: use a status such as '503', "
                "'429:rateLimitExceeded', '429;retry-after=2', 'task:timeoutProvider', "
                "'delay:2', 'delay:0.5-3', 'reset', 'truncate' or 'hang'"
            )
        return cls.http(int(head), code=code or None, times=times, retry_after=retry_after)

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """The admin API syntax: ``{"status": 429, "times": 3}``, ``{"task": "providerError"}``."""
        if not isinstance(data, Mapping):
            raise ValueError('a fault is a JSON object such as {"status": 429, "times": 2}')
        known = {
            "status", "task", "transport", "code", "message", "times", "taskType",
            "match", "nth", "retryAfter", "delay",
        }  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault fields {unknown}; allowed: {sorted(known)}")
        times = data.get("times", 1)
        if times is not None and not _is_int(times):
            raise ValueError("times must be a positive integer, or null for 'until removed'")
        nth = data.get("nth", 1)
        if not _is_int(nth) or nth < 1:
            raise ValueError("nth must be a positive integer: the rule fires from that match on")
        match = data.get("match")
        if match is not None and (
            not isinstance(match, Mapping) or not all(isinstance(k, str) and k for k in match)
        ):
            raise ValueError('match is an object of body fields, e.g. {"duration": 10}')
        kinds = [name for name in ("status", "task", "transport") if name in data]
        if len(kinds) != 1:
            raise ValueError(
                "give one of status (an HTTP fault), task (a task failure) "
                "or transport (delay, reset, truncate, hang)"
            )
        message = _optional_str(data, "message")
        task_type = _optional_str(data, "taskType")
        fault: Fault
        if "task" in data:
            code = data["task"] if isinstance(data["task"], str) and data["task"] else None
            fault = cls.task_failure(code or DEFAULT_TASK_FAILURE, message=message, times=times)
        elif "transport" in data:
            name = data["transport"]
            if not isinstance(name, str):
                raise ValueError(f"transport must be one of {sorted(TRANSPORT_FAULTS)}")
            fault = cls.transport(
                name, delay=_delay_field(data.get("delay")), times=times, task_type=task_type
            )
        else:
            status = data.get("status")
            if not isinstance(status, int) or isinstance(status, bool):
                raise ValueError("status must be an HTTP status code such as 429")
            retry_after = data.get("retryAfter")
            if retry_after is not None and not _is_int(retry_after):
                raise ValueError("retryAfter must be a whole number of seconds")
            fault = cls.http(
                status,
                code=_optional_str(data, "code"),
                message=message,
                times=times,
                task_type=task_type,
                retry_after=retry_after,
            )
        return dataclasses.replace(fault, match=dict(match) if match else None, after=nth - 1)

    def with_id(self, fault_id: int) -> Fault:
        return dataclasses.replace(self, id=fault_id)

    @property
    def label(self) -> str:
        """How the journal names it: ``503:serviceUnavailable``, ``task:timeoutProvider``,
        ``transport:reset``."""
        if self.kind == "http":
            return f"{self.status}:{self.code}"
        return f"{self.kind}:{self.code}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "times": self.times,
            "taskType": self.task_type,
            "match": dict(self.match) if self.match else None,
            "nth": self.after + 1,
            "retryAfter": self.retry_after,
            "delay": list(self.delay) if self.delay else None,
        }

    def matches(self, tasks: Sequence[Any]) -> bool:
        """Whether a request with these tasks is one this rule applies to: a task of
        its ``task_type`` (if set) carrying every ``match`` field (if set)."""
        if self.task_type is None and not self.match:
            return True
        return any(
            isinstance(task, Mapping)
            and (self.task_type is None or task.get("taskType") == self.task_type)
            and all(_field(task, path) == value for path, value in (self.match or {}).items())
            for task in tasks
        )

    def pause(self, rng: random.Random) -> float:
        """The seconds a delay (or hang) fault holds the answer back."""
        if self.delay is None:
            return 0.0
        low, high = self.delay
        return low if low == high else rng.uniform(low, high)

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


_MISSING = object()
_NUMBER = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_RANGE = re.compile(rf"^\s*{_NUMBER}\s*(?:-\s*{_NUMBER}\s*)?$")


def _field(task: Mapping[str, Any], path: str) -> Any:
    """A dotted path's value in a task (``providerSettings.lightricks.generateAudio``)."""
    value: Any = task
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a number of seconds") from None
    if not math.isfinite(value):
        raise ValueError("seconds must be a finite number")
    return value


def _seconds_range(text: str) -> tuple[float, float]:
    """``2`` -> (2, 2); ``0.5-3`` -> (0.5, 3) (exponents allowed: ``1e-3-2``)."""
    found = _RANGE.match(text)
    if found is None:
        raise ValueError(f"{text[:40]!r} is not SECONDS or LOW-HIGH")
    first = _seconds(found.group(1))
    return (first, _seconds(found.group(2))) if found.group(2) else (first, first)


def _delay_field(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (float(value), float(value))
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        return (float(value[0]), float(value[1]))
    raise ValueError("delay is seconds (2) or a range [0.5, 3]")


def _retry_after_option(option: str) -> int:
    name, _, value = option.strip().partition("=")
    if name.strip().lower() != "retry-after" or not value.strip().isdigit():
        raise ValueError(f"unknown fault option {option.strip()[:40]!r}; use retry-after=SECONDS")
    return int(value.strip())


def _times(times: int | None) -> int | None:
    if times is not None and times < 1:
        raise ValueError("times must be at least 1 (or None: until removed)")
    return times


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value or None
