"""The ``faults`` table: fault rules, shared by every process, kept in shard 0 only."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ltxmock.server.core.faults import Fault

from .engine import Engine
from .marker import ChangeMarker


class FaultTable:
    """Fault rules. Whether any exist is asked on every request and changes
    rarely: the answer is cached against the change marker, which every
    committed change of the rules moves."""

    def __init__(self, engine: Engine, marker: ChangeMarker) -> None:
        self._engine = engine
        self._marker = marker
        self._any_cache: tuple[int, bool] | None = None  # (marker version, answer)

    def add(self, fault: Fault) -> Fault:
        """Store a rule; returns it with its id."""
        with self._engine.transaction(self._engine.home) as conn:
            self._marker.note_change()
            cursor = conn.execute(
                "INSERT INTO faults (kind, status, code, message, remaining, task_type) "
                "VALUES (?,?,?,?,?,?)",
                (fault.kind, fault.status, fault.code, fault.message, fault.times, fault.task_type),
            )
            return fault.with_id(int(cursor.lastrowid or 0))

    def all(self) -> list[Fault]:
        with self._engine.reading() as conn:
            rows = conn.execute("SELECT * FROM faults ORDER BY id").fetchall()
        return [fault_of_row(row) for row in rows]

    def remove(self, fault_id: int) -> bool:
        with self._engine.transaction(self._engine.home) as conn:
            self._marker.note_change()
            return conn.execute("DELETE FROM faults WHERE id = ?", (fault_id,)).rowcount > 0

    def clear(self) -> None:
        with self._engine.transaction(self._engine.home) as conn:
            self._marker.note_change()
            conn.execute("DELETE FROM faults")

    def any(self) -> bool:
        """Whether any rule is stored (usually answered without a query)."""
        version = self._marker.version()
        cached = self._any_cache
        if version is not None and cached is not None and cached[0] == version:
            return cached[1]
        with self._engine.reading() as conn:
            found = conn.execute("SELECT 1 FROM faults LIMIT 1").fetchone() is not None
        if version is not None:
            self._any_cache = (version, found)  # read before the query: never newer
        return found

    def take(self, kind: str, task_types: Collection[str]) -> Fault | None:
        """Atomically use up one firing of the oldest rule of ``kind`` that applies."""
        types = sorted(set(task_types))
        marks = ",".join("?" * len(types)) or "NULL"
        with self._engine.transaction(self._engine.home) as conn:
            row = conn.execute(
                "SELECT * FROM faults WHERE kind = ? "
                f"AND (task_type IS NULL OR task_type IN ({marks})) ORDER BY id LIMIT 1",
                (kind, *types),
            ).fetchone()
            if row is None:
                return None
            fault = fault_of_row(row)
            self._marker.note_change()
            if fault.times is not None and fault.times <= 1:
                conn.execute("DELETE FROM faults WHERE id = ?", (fault.id,))
            elif fault.times is not None:
                conn.execute(
                    "UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (fault.id,)
                )
            return fault


def fault_of_row(row: tuple[Any, ...]) -> Fault:
    """The rule of a ``SELECT *`` row of ``faults``."""
    fault_id, kind, status, code, message, remaining, task_type = row
    return Fault(
        kind=kind,
        status=status,
        code=code,
        message=message,
        times=remaining,
        task_type=task_type,
        id=fault_id,
    )
