"""Drift: where the upstream's answers leave the document or the protocol this project knows.

``Rules`` sees every request the proxy forwarded and every answer (REST
response or WebSocket frame) and returns the ``Drift``s it finds:

* ``response-schema``: openapi-core rejects the answer (``contract``);
* ``request-schema``: openapi-core rejects a request the gate's validator passed
  and the proxy forwarded (the validator and the document disagree; checked by
  the ``Checker``, not by ``Rules``);
* ``ack-shape``: a submit's acknowledgement is not exactly ``{taskType, taskUUID}``
  (or a REST answer has neither an ack nor an error for a submitted task);
* ``cumulative-getresponse``: a poll forgets a result an earlier poll reported
  (fewer successes, a videoUUID gone, success back to processing);
* ``number-results``: more results than ``numberResults``, or a finished task
  with another number of them;
* ``error-task-uuid``: a task's error item without the taskUUID of a task the
  client sent (request-wide statuses 401, 402, 403, 429 and 5xx aside).

``DriftLog`` keeps the last ones (bounded) and counts them all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("ltxmock.proxy.drift")

RULES = (
    "response-schema",
    "request-schema",
    "ack-shape",
    "cumulative-getresponse",
    "number-results",
    "error-task-uuid",
)
REQUEST_WIDE = frozenset({401, 402, 403, 429})  # and every 5xx: answers about the request
ACK_KEYS = frozenset({"taskType", "taskUUID"})
MAX_TASKS = 10_000  # tasks whose state the rules remember (oldest forgotten)
VIDEO_INFERENCE, GET_RESPONSE = "videoInference", "getResponse"


@dataclass(frozen=True)
class Drift:
    """One mismatch between the upstream and what this project knows of the API."""

    rule: str
    message: str
    transport: str
    at: float
    task_uuid: str | None = None
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON shape (the API's spelling: ``taskUUID``)."""
        fields = asdict(self)
        fields["taskUUID"] = fields.pop("task_uuid")
        return {k: v for k, v in fields.items() if v is not None}


@dataclass
class _Task:
    number_results: int
    acked: bool = False
    successes: int = 0
    videos: frozenset[str] = frozenset()


class Rules:
    """The protocol rules, with the state they need (tasks seen, bounded)."""

    def __init__(self) -> None:
        self._tasks: OrderedDict[str, _Task] = OrderedDict()
        self._lock = threading.Lock()

    def sent(self, body: Any) -> None:
        """A request was forwarded: remember its submits."""
        with self._lock:
            for task in tasks_of(body):
                if task.get("taskType") == VIDEO_INFERENCE and isinstance(
                    task.get("taskUUID"), str
                ):
                    number = task.get("numberResults", 1)
                    key = task["taskUUID"].lower()
                    self._tasks[key] = _Task(number if isinstance(number, int) else 1)
                    self._tasks.move_to_end(key)
            while len(self._tasks) > MAX_TASKS:
                self._tasks.popitem(last=False)

    def answered(
        self, request: Any, status: int, payload: Any, *, transport: str, at: float
    ) -> list[Drift]:
        """Check one answer. ``request``: the body it answers (REST), or None (a WebSocket
        frame: it answers whatever the socket sent before)."""
        found: list[Drift] = []

        def drift(rule: str, message: str, task_uuid: str | None = None) -> None:
            found.append(Drift(rule, message, transport, at, task_uuid, status))

        if not isinstance(payload, Mapping):
            return found  # not JSON: the schema check reports it
        data = [i for i in payload.get("data") or [] if isinstance(i, Mapping)]
        errors = [i for i in payload.get("errors") or [] if isinstance(i, Mapping)]
        sent = tasks_of(request)
        with self._lock:
            self._check_acks(sent, data, errors, status, transport, drift)
            self._check_results(data, errors, drift)
            self._check_errors(sent, errors, status, drift)
        return found

    def _check_acks(
        self,
        sent: list[Mapping[str, Any]],
        data: list[Mapping[str, Any]],
        errors: list[Mapping[str, Any]],
        status: int,
        transport: str,
        drift: Any,
    ) -> None:
        for item in data:
            uuid = item.get("taskUUID")
            state = self._tasks.get(uuid.lower()) if isinstance(uuid, str) else None
            if state is None or "status" in item or state.acked:
                continue
            state.acked = True
            if set(item) != ACK_KEYS or item.get("taskType") != VIDEO_INFERENCE:
                drift(
                    "ack-shape",
                    f"the acknowledgement of {uuid} has the keys {sorted(item)}; "
                    "expected exactly ['taskType', 'taskUUID'] with taskType videoInference",
                    uuid,
                )
        if transport != "rest" or status >= 400:
            return
        answered = {
            i.get("taskUUID") for i in [*data, *errors] if isinstance(i.get("taskUUID"), str)
        }
        answered_lower = {u.lower() for u in answered if isinstance(u, str)}
        for task in sent:
            uuid = task.get("taskUUID")
            if (
                task.get("taskType") == VIDEO_INFERENCE
                and isinstance(uuid, str)
                and uuid.lower() not in answered_lower
            ):
                drift("ack-shape", f"the answer has no acknowledgement for task {uuid}", uuid)

    def _check_results(
        self, data: list[Mapping[str, Any]], errors: list[Mapping[str, Any]], drift: Any
    ) -> None:
        by_task: dict[str, list[Mapping[str, Any]]] = {}
        for item in data:
            uuid = item.get("taskUUID")
            if isinstance(uuid, str) and "status" in item:
                by_task.setdefault(uuid.lower(), []).append(item)
        failed = {e["taskUUID"].lower() for e in errors if isinstance(e.get("taskUUID"), str)}
        for key, items in by_task.items():
            state = self._tasks.get(key)
            if state is None:
                continue
            uuid = str(items[0].get("taskUUID"))
            successes = [i for i in items if i.get("status") == "success"]
            videos = frozenset(str(i.get("videoUUID")) for i in successes)
            if len(successes) > state.number_results or len(videos) < len(successes):
                drift(
                    "number-results",
                    f"{len(successes)} success item(s) ({len(videos)} distinct videoUUIDs) "
                    f"for {uuid}, which asked for numberResults={state.number_results}",
                    uuid,
                )
            finished = all(i.get("status") != "processing" for i in items)
            if finished and key not in failed and len(successes) != state.number_results:
                drift(
                    "number-results",
                    f"{uuid} finished with {len(successes)} result(s); "
                    f"numberResults={state.number_results} asked for that many",
                    uuid,
                )
            lost = state.videos - videos
            if len(successes) < state.successes or lost:
                drift(
                    "cumulative-getresponse",
                    f"a poll of {uuid} reports {len(successes)} success item(s) after "
                    f"{state.successes}; getResponse must repeat every finished result"
                    + (f" (videoUUIDs gone: {sorted(lost)})" if lost else ""),
                    uuid,
                )
            state.successes = max(state.successes, len(successes))
            state.videos |= videos

    def _check_errors(
        self,
        sent: list[Mapping[str, Any]],
        errors: list[Mapping[str, Any]],
        status: int,
        drift: Any,
    ) -> None:
        if not errors or status in REQUEST_WIDE or status >= 500:
            return
        known = {t["taskUUID"].lower() for t in sent if isinstance(t.get("taskUUID"), str)}
        for error in errors:
            uuid = error.get("taskUUID")
            if not isinstance(uuid, str):
                if known or not sent:  # a request without tasks' UUIDs may get bare errors
                    drift(
                        "error-task-uuid",
                        f"error {error.get('code')!r} carries no taskUUID; each error "
                        "must name the task it is about",
                    )
            elif uuid.lower() not in known and uuid.lower() not in self._tasks:
                drift(
                    "error-task-uuid",
                    f"error {error.get('code')!r} names taskUUID {uuid}, which no task sent has",
                    uuid,
                )


def tasks_of(body: Any) -> list[Mapping[str, Any]]:
    """The tasks of a request body: a task array, or one task (a WebSocket frame)."""
    if isinstance(body, Mapping):
        body = [body]
    return [t for t in body if isinstance(t, Mapping)] if isinstance(body, list) else []


class DriftLog:
    """Every drift is logged and counted; the last ``limit`` are kept for the admin API."""

    def __init__(self, limit: int = 1000) -> None:
        self._recent: deque[Drift] = deque(maxlen=limit)
        self._counts: dict[str, int] = dict.fromkeys(RULES, 0)
        self._lock = threading.Lock()
        self.unchecked = 0  # exchanges not checked: the checker's queue was full, or it died

    def add(self, drifts: Iterable[Drift]) -> None:
        for drift in drifts:
            log.warning("drift %s: %s", drift.rule, drift.message)
            with self._lock:
                self._recent.append(drift)
                self._counts[drift.rule] = self._counts.get(drift.rule, 0) + 1

    def skipped(self) -> None:
        """An exchange went unchecked (a full queue, or no checker process)."""
        with self._lock:
            self.unchecked += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._counts.values()),
                "byRule": dict(self._counts),
                "unchecked": self.unchecked,
                "drift": [d.to_dict() for d in self._recent],
                "at": time.time(),
            }
