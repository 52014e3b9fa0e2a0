"""The ``faults`` table: fault rules, shared by every process, kept in shard 0 only."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ltxmock.server.core.faults import Fault

from .any_rows import AnyRows
from .engine import Engine
from .marker import ChangeMarker


class FaultTable:
    """Fault rules. Whether any exist is asked on every request and changes
    rarely: the answer is cached against the change marker, which every
    committed change of the rules moves."""

    def __init__(self, engine: Engine, marker: ChangeMarker) -> None:
        self._engine = engine
        self._marker = marker
        self._any_rows = AnyRows(engine, marker, "faults")

    def add(self, fault: Fault) -> Fault:
        """Store a rule; returns it with its id."""
        with self._engine.transaction(self._engine.home) as conn:
            self._marker.note_change()
            cursor = conn.execute(
                "INSERT INTO faults (kind, status, code, message, remaining, task_type, options) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    fault.kind,
                    fault.status,
                    fault.code,
                    fault.message,
                    fault.times,
                    fault.task_type,
                    _options(fault),
                ),
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
        return self._any_rows()

    def take(
        self,
        kind: str,
        task_types: Collection[str],
        tasks: Sequence[Mapping[str, Any]] | None = None,
    ) -> Fault | None:
        """Atomically use up one firing of the oldest rule of ``kind`` that applies.

        ``tasks`` (the request's): rules with ``match`` fields apply only when a
        task carries them (without ``tasks``, such rules never apply). A rule
        still waiting for its nth match counts this one and lets it pass.
        """
        types = sorted(set(task_types))
        marks = ",".join("?" * len(types)) or "NULL"
        with self._engine.transaction(self._engine.home) as conn:
            rows = conn.execute(
                "SELECT * FROM faults WHERE kind = ? "
                f"AND (task_type IS NULL OR task_type IN ({marks})) ORDER BY id",
                (kind, *types),
            ).fetchall()
            for row in rows:
                fault = fault_of_row(row)
                if fault.match and not fault.matches(tasks or ()):
                    continue
                self._marker.note_change()
                if fault.after > 0:  # not its turn yet: count the match, look further
                    options = json.loads(row[7] or "{}")
                    options["after"] = fault.after - 1
                    conn.execute(
                        "UPDATE faults SET options = ? WHERE id = ?",
                        (json.dumps(options), fault.id),
                    )
                    continue
                if fault.times is not None and fault.times <= 1:
                    conn.execute("DELETE FROM faults WHERE id = ?", (fault.id,))
                elif fault.times is not None:
                    conn.execute(
                        "UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (fault.id,)
                    )
                return fault
            return None


def fault_of_row(row: tuple[Any, ...]) -> Fault:
    """The rule of a ``SELECT *`` row of ``faults``."""
    fault_id, kind, status, code, message, remaining, task_type, options_json = row
    options = json.loads(options_json or "{}")
    delay = options.get("delay")
    return Fault(
        kind=kind,
        status=status,
        code=code,
        message=message,
        times=remaining,
        task_type=task_type,
        id=fault_id,
        match=options.get("match"),
        after=int(options.get("after", 0)),
        retry_after=options.get("retryAfter"),
        delay=(float(delay[0]), float(delay[1])) if delay else None,
    )


def _options(fault: Fault) -> str | None:
    """What a rule has beyond the original columns, as JSON (None: nothing)."""
    options: dict[str, Any] = {}
    if fault.match:
        options["match"] = dict(fault.match)
    if fault.after:
        options["after"] = fault.after
    if fault.retry_after is not None:
        options["retryAfter"] = fault.retry_after
    if fault.delay is not None:
        options["delay"] = list(fault.delay)
    return json.dumps(options, separators=(",", ":")) if options else None
