"""The rows the protocol keeps: accepted tasks, result files, deliveries and their attempts,
and the journal's exchanges.

Plain immutable values, shared by the protocol (``core``) and the storage
adapters (``store``) that persist them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskRecord:
    """What was accepted: everything needed to compute the task's state later."""

    task_uuid: str
    task_type: str
    key_fingerprint: str
    params: Mapping[str, Any]
    params_hash: str
    submitted_at: float
    latency: float
    seed: int
    number_results: int
    ttl: float
    failure_code: str | None = None
    failure_message: str | None = None

    @property
    def completes_at(self) -> float:
        return self.submitted_at + self.latency

    @property
    def expires_at(self) -> float:
        return self.completes_at + self.ttl


@dataclass(frozen=True)
class MediaRow:
    """Result ``result_index`` of a task: its file in the media directory."""

    video_uuid: str
    task_uuid: str
    result_index: int
    file_name: str  # "<64 hex>.<ext>", a RenderCache entry
    content_type: str
    expires_at: float
    error: str | None = None  # why its render failed


@dataclass(frozen=True)
class NewDelivery:
    """A webhook POST or upload PUT to store with the task that asks for it."""

    task_uuid: str
    result_index: int
    kind: str  # "upload" | "webhook"
    url: str
    base_url: str  # prefix of the videoURL the webhook announces
    created_at: float
    due_at: float


@dataclass(frozen=True)
class DeliveryRow:
    """A webhook POST or upload PUT and where it stands."""

    id: int
    task_uuid: str
    result_index: int
    kind: str
    url: str
    base_url: str
    created_at: float
    due_at: float
    attempts: int
    state: str  # pending | delivered | failed | skipped | captured
    lease_owner: str | None = None
    lease_until: float | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Capture:
    """What a delivery to a reserved name would have sent (it was kept, not sent)."""

    delivery_id: int
    content_type: str
    size: int
    sha256: str
    body: bytes | None  # None: larger than the capture limit (size and hash only)


@dataclass(frozen=True)
class CreditAccount:
    """One API key's balance in USD (None: unlimited) and what it has spent."""

    owner: str
    balance: float | None
    spent: float


@dataclass(frozen=True)
class AttemptRow:
    """One try at sending a delivery, as the delivery log shows it."""

    id: int
    delivery_id: int
    task_uuid: str
    result_index: int
    kind: str
    url: str
    attempt: int
    at: float
    status: int | None
    error: str | None
    outcome: str  # the delivery's state after this attempt


@dataclass(frozen=True)
class JournalEntry:
    """One request and its answer."""

    at: float
    transport: str  # "rest" or "ws"
    method: str
    path: str
    status: int
    request: Any  # the parsed body, or the raw text when it was not JSON
    response: Any
    fault: str | None = None  # the injected fault that shaped the answer, if any
    id: int | None = None
    # The request's [name, value] pairs (a WebSocket frame: its upgrade request's),
    # names in lower case, credentials redacted, bounded (``core.journal``).
    headers: list[list[str]] = field(default_factory=list)

    @property
    def task_types(self) -> list[str]:
        return [t["taskType"] for t in _tasks(self.request) if isinstance(t.get("taskType"), str)]

    @property
    def task_uuids(self) -> list[str]:
        return [t["taskUUID"] for t in _tasks(self.request) if isinstance(t.get("taskUUID"), str)]

    @property
    def unexpected(self) -> bool:
        """A 5xx the mock produced by itself (a bug), not an injected one."""
        return self.status >= 500 and self.fault is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "transport": self.transport,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "fault": self.fault,
            "request": self.request,
            "response": self.response,
            "headers": self.headers,
        }


def _tasks(body: Any) -> Iterator[dict[str, Any]]:
    if isinstance(body, list):
        yield from (task for task in body if isinstance(task, dict))
