"""The ``scripts`` table: scripted getResponse outcomes per taskUUID, in shard 0 only."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .any_rows import AnyRows
from .engine import Engine
from .marker import ChangeMarker


class ScriptTable:
    """Outcome lists and how far each has been used. Whether any exist is asked on
    every poll: cached against the change marker, as the fault rules are."""

    def __init__(self, engine: Engine, marker: ChangeMarker) -> None:
        self._engine = engine
        self._marker = marker
        self._any_rows = AnyRows(engine, marker, "scripts")

    def put(self, task_uuid: str, outcomes: Sequence[str]) -> None:
        with self._engine.transaction(self._engine.home) as conn:
            self._marker.note_change()
            conn.execute(
                "INSERT OR REPLACE INTO scripts (task_uuid, outcomes_json, position) "
                "VALUES (?,?,0)",
                (task_uuid, json.dumps(list(outcomes))),
            )

    def all(self) -> dict[str, tuple[list[str], int]]:
        with self._engine.reading() as conn:
            rows = conn.execute("SELECT * FROM scripts ORDER BY task_uuid").fetchall()
        return {str(uuid): (json.loads(outcomes), int(used)) for uuid, outcomes, used in rows}

    def remove(self, task_uuid: str) -> bool:
        with self._engine.transaction(self._engine.home) as conn:
            self._marker.note_change()
            return (
                conn.execute("DELETE FROM scripts WHERE task_uuid = ?", (task_uuid,)).rowcount > 0
            )

    def clear(self) -> None:
        with self._engine.transaction(self._engine.home) as conn:
            self._marker.note_change()
            conn.execute("DELETE FROM scripts")

    def any(self) -> bool:
        return self._any_rows()

    def step(self, task_uuid: str) -> str | None:
        """Use the next outcome atomically (every worker shares the position)."""
        with self._engine.transaction(self._engine.home) as conn:
            row = conn.execute(
                "SELECT outcomes_json, position FROM scripts WHERE task_uuid = ?", (task_uuid,)
            ).fetchone()
            if row is None:
                return None
            outcomes: list[str] = json.loads(row[0])
            position = int(row[1])
            if position < len(outcomes) - 1:
                conn.execute(
                    "UPDATE scripts SET position = position + 1 WHERE task_uuid = ?", (task_uuid,)
                )
            return outcomes[min(position, len(outcomes) - 1)]
