"""Prompt directives: faults any client can trigger, with no header and no admin call.

A ``positivePrompt`` may carry ``[[ltxmock:NAME=VALUE]]`` directives:

* ``error=<code>``: the task is accepted and fails when polled (after its
  latency) with that Runware error code (``timeoutProvider``, ...);
* ``latency=<seconds>``: this task's time from ack to ``success`` (0-3600);
* ``status=<http status>[:code][;retry-after=N]``: the submit is answered with
  that status, Runware-shaped (``Fault.parse``'s syntax);
* ``transport=<fault>``: ``delay:2``, ``delay:0.5-3``, ``reset``, ``truncate``
  or ``hang`` (``faults.TRANSPORT_FAULTS``).

Directives are removed from the prompt before anything else looks at it: the
task is validated, stored, hashed (a retry with the same directive is the same
task), rendered and echoed without them, so they never count against the
prompt's length limits. What is left must still be a valid prompt. A directive
that cannot be read is a 400 ``invalidDirective`` naming ``positivePrompt``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, ErrorItem, error_item
from .faults import Fault

PROMPT = "positivePrompt"
MAX_LATENCY = 3600.0
_DIRECTIVE = re.compile(r"\s*\[\[ltxmock:([^\]=]*)=([^\]]*)\]\]")
_MARK = "[[ltxmock:"
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
NAMES = ("error", "latency", "status", "transport")


@dataclass(frozen=True)
class TaskDirectives:
    """What the directives of one task ask for."""

    failure: Fault | None = None  # error=
    latency: float | None = None  # latency=
    reply: Fault | None = None  # status= (the whole request)
    transport: Fault | None = None  # transport= (the whole request)


@dataclass(frozen=True)
class Directed:
    """A request body with its directives taken out, and what they asked for."""

    body: Any
    tasks: Mapping[int, TaskDirectives]  # by position in the body

    @property
    def reply(self) -> Fault | None:
        return next((d.reply for d in self.tasks.values() if d.reply is not None), None)

    @property
    def transport(self) -> Fault | None:
        return next((d.transport for d in self.tasks.values() if d.transport is not None), None)


def extract(body: Any) -> Directed:
    """Strip every directive from the body's prompts (a copy; ``body`` is untouched).

    Raises ``ApiError`` 400 ``invalidDirective`` for one it cannot read.
    """
    if not isinstance(body, list) or not any(_has_mark(task) for task in body):
        return Directed(body, {})  # the common case: nothing copied
    cleaned: list[Any] = []
    found: dict[int, TaskDirectives] = {}
    errors: list[ErrorItem] = []
    for position, task in enumerate(body):
        if not _has_mark(task):
            cleaned.append(task)
            continue
        prompt = task[PROMPT]
        values: dict[str, str] = {}
        for match in _DIRECTIVE.finditer(prompt):
            values[match.group(1).strip().lower()] = match.group(2).strip()
        try:
            found[position] = _read(values)
        except ValueError as exc:
            errors.append(_invalid(task, str(exc)))
            continue
        stripped = _DIRECTIVE.sub("", prompt).strip()
        if _MARK in stripped:
            errors.append(_invalid(task, "write directives as [[ltxmock:NAME=VALUE]]"))
            continue
        cleaned.append({**task, PROMPT: stripped})
    if errors:
        raise ApiError(400, errors)
    return Directed(cleaned, found)


def _has_mark(task: Any) -> bool:
    return isinstance(task, dict) and isinstance(task.get(PROMPT), str) and _MARK in task[PROMPT]


def _read(values: Mapping[str, str]) -> TaskDirectives:
    unknown = sorted(set(values) - set(NAMES))
    if unknown:
        raise ValueError(f"unknown directive {unknown[0]!r}; known: {', '.join(NAMES)}")
    failure = latency = reply = transport = None
    if "error" in values:
        code = values["error"]
        if not _CODE.match(code):
            raise ValueError(
                f"error= takes a Runware error code such as timeoutProvider, not {code[:40]!r}"
            )
        failure = Fault.task_failure(code, times=None)
    if "latency" in values:
        try:
            latency = float(values["latency"])
        except ValueError:
            raise ValueError(f"latency= takes seconds, not {values['latency'][:40]!r}") from None
        if not 0 <= latency <= MAX_LATENCY:
            raise ValueError(f"latency= must be 0-{MAX_LATENCY:g} seconds")
    if "status" in values:
        reply = Fault.parse(values["status"], times=None)
        if reply.kind != "http":
            raise ValueError("status= takes an HTTP status such as 429 or 503:serviceUnavailable")
    if "transport" in values:
        transport = Fault.parse(values["transport"], times=None)
        if transport.kind != "transport":
            raise ValueError("transport= takes delay:SECONDS, reset, truncate or hang")
    return TaskDirectives(failure, latency, reply, transport)


def _invalid(task: Mapping[str, Any], reason: str) -> ErrorItem:
    task_uuid = task.get("taskUUID")
    task_type = task.get("taskType")
    return error_item(
        "invalidDirective",
        f"Invalid ltxmock directive in positivePrompt: {reason}.",
        parameter=PROMPT,
        task_uuid=task_uuid if isinstance(task_uuid, str) else None,
        task_type=task_type if isinstance(task_type, str) else None,
    )
