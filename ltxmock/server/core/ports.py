"""What the protocol needs of storage: the ports ``store/`` adapters implement.

The service never sees SQL, files or connections: it asks a ``Store`` for its
tables and for transactions. Every method may raise ``StoreError`` when the
storage cannot be used.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from .records import (
    AttemptRow,
    Capture,
    CreditAccount,
    DeliveryRow,
    JournalEntry,
    MediaRow,
    NewDelivery,
    TaskRecord,
)

if TYPE_CHECKING:
    from .faults import Fault


class StoreError(Exception):
    """The storage cannot be used (wrong schema version, unwritable directory, closed)."""


class TaskTable(Protocol):
    def get(self, task_uuid: str, *, now: float, rescan_after: float = 0.0) -> TaskRecord | None:
        """The live (not yet expired) task with this UUID, compared case-insensitively.

        ``rescan_after``: how stale (seconds) the adapter's view of other
        processes' writes may be; 0 sees a write made a moment ago elsewhere.
        """
        ...

    def live(
        self, task_uuids: Collection[str], *, now: float, rescan_after: float = 0.0
    ) -> dict[str, TaskRecord]:
        """``get`` for several UUIDs at once, keyed by the lower-cased UUID."""
        ...

    def find(self, task_uuids: Collection[str]) -> list[TaskRecord]:
        """The stored tasks with any of these UUIDs, expired ones included."""
        ...

    def put(self, record: TaskRecord) -> None:
        """Store a task (inside the caller's transaction), replacing an expired namesake."""
        ...

    def count(self, *, now: float) -> int: ...

    def purge_expired(self, *, now: float) -> int:
        """Delete tasks past their TTL; returns how many."""
        ...


class FaultTable(Protocol):
    def add(self, fault: Fault) -> Fault:
        """Store a rule; returns it with its id."""
        ...

    def all(self) -> list[Fault]: ...

    def remove(self, fault_id: int) -> bool: ...

    def clear(self) -> None: ...

    def any(self) -> bool:
        """Whether any rule is stored (cheap: asked on every request)."""
        ...

    def take(
        self,
        kind: str,
        task_types: Collection[str],
        tasks: Sequence[Mapping[str, Any]] | None = None,
    ) -> Fault | None:
        """Atomically use up one firing of the oldest rule of ``kind`` that applies
        (``Fault.matches`` the ``tasks``; a rule waiting for its nth match counts one)."""
        ...


class ScriptTable(Protocol):
    """Scripted getResponse outcomes per taskUUID."""

    def put(self, task_uuid: str, outcomes: Sequence[str]) -> None: ...

    def all(self) -> dict[str, tuple[list[str], int]]:
        """taskUUID -> (outcomes, how many were used)."""
        ...

    def remove(self, task_uuid: str) -> bool: ...

    def clear(self) -> None: ...

    def any(self) -> bool:
        """Whether any script is stored (cheap: asked on every poll)."""
        ...

    def step(self, task_uuid: str) -> str | None:
        """Atomically use the task's next outcome (the last one repeats); None: no script."""
        ...


class CreditTable(Protocol):
    """Balances per API-key fingerprint; owner ``*`` holds the default of new accounts."""

    def any(self) -> bool:
        """Whether any balance is stored (cheap: asked on every submit)."""
        ...

    def set(self, owner: str, balance: float | None) -> None: ...

    def get(self, owner: str, default: float | None) -> CreditAccount: ...

    def all(self, limit: int | None = None) -> list[CreditAccount]:
        """Every account, default included, ordered by owner (the first ``limit``)."""
        ...

    def spend(self, owner: str, amount: float, default: float | None) -> CreditAccount | None:
        """Atomically take ``amount`` from the account (made with the default balance,
        ``*``'s if stored, else ``default``; None = unlimited); None if it has too little."""
        ...


class JournalTable(Protocol):
    def append(
        self,
        *,
        at: float,
        transport: str,
        method: str,
        path: str,
        status: int,
        fault: str | None,
        request_json: str,
        response_json: str,
        keep: int,
        keep_bytes: int,
        headers_json: str = "[]",
    ) -> None:
        """Record one exchange, keeping about the newest ``keep``, and about the newest
        ``keep_bytes`` of text of this process's entries. ``headers_json``:
        the request's headers as ``[[name, value], ...]`` (already redacted)."""
        ...

    def entries(self, *, keep: int, since: int = 0, limit: int | None = None) -> list[JournalEntry]:
        """Entries with an id above ``since`` among the newest ``keep``, oldest first
        (the newest ``limit`` of those)."""
        ...

    def clear(self) -> None: ...


class MediaTable(Protocol):
    def put(self, rows: Collection[MediaRow]) -> None: ...

    def get(self, video_uuid: str) -> MediaRow | None:
        """The stored row of one result video (expired or not: the caller decides)."""
        ...

    def for_task(self, task_uuid: str) -> list[MediaRow]:
        """Stored rows of a task's results, by result index."""
        ...

    def purge_expired(self, *, now: float) -> list[str]:
        """Delete expired rows; returns the file names no live row still uses."""
        ...

    def file_in_use(self, file_name: str, *, now: float) -> bool: ...


class DeliveryTable(Protocol):
    def add(self, rows: Collection[NewDelivery]) -> None: ...

    def has_pending(self) -> bool: ...

    def claim(
        self, owner: str, *, now: float, wall: float, lease: float, limit: int
    ) -> list[DeliveryRow]:
        """Lease up to ``limit`` due deliveries to ``owner``, atomically. A webhook
        waits while an upload of the same result is still pending."""
        ...

    def release(self, delivery_id: int, owner: str) -> None:
        """Give a lease back without an attempt."""
        ...

    def leases(self, *, wall: float) -> list[tuple[int, str]]:
        """``(id, owner)`` of every pending delivery whose lease still runs."""
        ...

    def finish_attempt(
        self,
        delivery_id: int,
        owner: str,
        *,
        at: float,
        attempt: int | None,
        status: int | None,
        error: str | None,
        state: str,
        due_at: float | None = None,
    ) -> None:
        """Record one attempt (``attempt`` None: settled without sending) and release."""
        ...

    def all(self, *, task_uuid: str | None = None) -> list[DeliveryRow]: ...

    def attempts(self, *, task_uuid: str | None = None) -> list[AttemptRow]: ...

    def capture(
        self, delivery_id: int, owner: str, *, at: float, content_type: str, body: bytes, keep: int
    ) -> None:
        """Settle a delivery as ``captured``, keeping what it would have sent (the first
        ``keep`` bytes of it; its size and SHA-256 always)."""
        ...

    def captured(self, delivery_id: int, *, with_body: bool = True) -> Capture | None: ...


class Store(Protocol):
    """The mock's whole state: five tables, transactions, reset and close."""

    tasks: TaskTable
    faults: FaultTable
    journal: JournalTable
    media: MediaTable
    deliveries: DeliveryTable
    scripts: ScriptTable
    credits: CreditTable

    @property
    def description(self) -> str:
        """Where the state lives, for the health check and the banner."""
        ...

    @property
    def secret(self) -> bytes:
        """Random bytes made once per store, the same in every process that shares it
        (a reset keeps them): the key of the API-key fingerprints (``auth.fingerprint``)."""
        ...

    def transaction(self) -> AbstractContextManager[object]:
        """One atomic write; table writes inside it join it. Nested calls join too.
        (What the context manager yields is the adapter's own business.)"""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """Inside a transaction: undo just this block's writes if it raises."""
        ...

    def reserve(self, task_uuids: Collection[str]) -> AbstractContextManager[object]:
        """Hold these taskUUIDs store-wide: until the block ends, no other process or
        thread holds any of them, so a look for them (``tasks.live``) and their insert
        made inside it are one atomic step. Taken before ``transaction()``."""
        ...

    def reset(self) -> None:
        """Forget every task, fault rule, journal entry, result row and delivery."""
        ...

    def close(self) -> None: ...
