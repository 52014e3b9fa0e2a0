"""The ``media`` table: one row per rendered (or failed) result video.

A result's row is stored once its file is rendered, or its render failed (the
renderer derives the others from their task), in the shard of the process
that rendered it.
"""

from __future__ import annotations

from collections.abc import Collection

from ltxmock.server.core.records import MediaRow

from .engine import Engine


class MediaTable:
    """Result file rows, read from every shard."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(self, rows: Collection[MediaRow]) -> None:
        with self._engine.write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO media VALUES (?,?,?,?,?,?,?)",
                [
                    (r.video_uuid, r.task_uuid, r.result_index, r.file_name, r.content_type,
                     r.expires_at, r.error)
                    for r in rows
                ],
            )  # fmt: skip

    def get(self, video_uuid: str) -> MediaRow | None:
        """The stored row of one result video (expired or not: the caller decides)."""
        row = self._engine.first_row("SELECT * FROM media WHERE video_uuid = ?", (video_uuid,))
        return MediaRow(*row) if row is not None else None

    def for_task(self, task_uuid: str) -> list[MediaRow]:
        """Stored rows of a task's results, from every shard (each process stores
        the rows of the files it rendered), by result index."""
        rows = self._engine.rows_of_all("SELECT * FROM media WHERE task_uuid = ?", (task_uuid,))
        return sorted((MediaRow(*row) for row in rows), key=lambda row: row.result_index)

    def purge_expired(self, *, now: float) -> list[str]:
        """Delete expired rows; returns the file names no live row still uses."""
        names: set[str] = set()
        shards = self._engine.all_shards()
        for shard in shards:
            with self._engine.transaction(shard) as conn:
                names.update(
                    r[0]
                    for r in conn.execute(
                        "SELECT file_name FROM media WHERE expires_at <= ?", (now,)
                    )
                )
                conn.execute("DELETE FROM media WHERE expires_at <= ?", (now,))
        if not names:
            return []
        marks = ",".join("?" * len(names))
        for shard in shards:
            with self._engine.reading(shard) as conn:
                names.difference_update(
                    r[0]
                    for r in conn.execute(
                        f"SELECT file_name FROM media WHERE file_name IN ({marks})", tuple(names)
                    )
                )
        return sorted(names)

    def file_in_use(self, file_name: str, *, now: float) -> bool:
        found = self._engine.first_row(
            "SELECT 1 FROM media WHERE file_name = ? AND expires_at > ? LIMIT 1", (file_name, now)
        )
        return found is not None
