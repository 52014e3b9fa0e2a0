"""The ``tasks`` table: accepted tasks, in the shard of the process that accepted them.

Task *state* is never stored: it is computed from what was stored (submit
time, latency) at poll time.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ltxmock.server.core import jsontext
from ltxmock.server.core.records import TaskRecord

from .engine import Engine
from .marker import ChangeMarker
from .stored_uuids import StoredUuids

TASK_CACHE_SIZE = 4096  # live tasks a process keeps for polls (about 1 KiB each)


class TaskTable:
    """Tasks, with a per-process cache of the live ones read lately.

    A stored task never changes while it lives (state is computed from the
    clock) and only a reset removes it early, so an SDK's repeated polls need
    no query. The cache, keyed by lower-cased UUID, is emptied when the change
    marker moves (a reset in any process), and only ever holds committed rows.
    """

    def __init__(self, engine: Engine, marker: ChangeMarker, stored: StoredUuids) -> None:
        self._engine = engine
        self._marker = marker
        self._stored = stored
        self._cache: dict[str, TaskRecord] = {}
        self._cache_version: int | None = None

    def get(self, task_uuid: str, *, now: float, rescan_after: float = 0.0) -> TaskRecord | None:
        """The live (not yet expired) task with this UUID, compared case-insensitively.

        ``rescan_after``: see ``ShardSet.all`` (0: find a shard created a moment ago).
        """
        key = task_uuid.lower()
        cacheable = self._cache_valid()  # asked before the query: never newer
        if cacheable:
            cached = self._cache.get(key)
            if cached is not None and cached.expires_at > now:
                return cached
        row = self._engine.first_row(
            "SELECT * FROM tasks WHERE task_uuid = ? AND expires_at > ?",
            (task_uuid, now),
            rescan_after,
        )
        if row is None:
            return None
        record = task_of_row(row)
        # Never a row read inside a write of this thread: it may roll back.
        if cacheable and self._engine.own_open_write() is None:
            cache = self._cache
            if len(cache) >= TASK_CACHE_SIZE:
                del cache[next(iter(cache))]  # the oldest entry
            cache[key] = record
        return record

    def _cache_valid(self) -> bool:
        """Whether cached tasks may be used; empties the cache after a reset anywhere."""
        if self._engine.in_memory:
            return True  # one process: reset() empties the cache itself
        version = self._marker.version()
        if version is None:
            return False  # no marker to tell of a reset elsewhere
        if version != self._cache_version:
            self._cache.clear()
            self._cache_version = version
        return True

    def forget_cached(self) -> None:
        """Empty this process's cache (after a reset)."""
        self._cache.clear()

    def live(
        self, task_uuids: Collection[str], *, now: float, rescan_after: float = 0.0
    ) -> dict[str, TaskRecord]:
        """``get`` for several UUIDs at once: one query per shard, not per UUID.

        Keyed by the lower-cased UUID; a UUID live in several shards is taken
        from the first (this process's own first).
        """
        found: dict[str, TaskRecord] = {}
        if not task_uuids or not self._stored.may_include(task_uuids):
            return found  # new UUIDs, as nearly every submit's: no shard is asked
        marks = ",".join("?" * len(task_uuids))
        sql = f"SELECT * FROM tasks WHERE task_uuid IN ({marks}) AND expires_at > ?"
        args = (*task_uuids, now)
        for shard in self._engine.all_shards(rescan_after):
            with self._engine.reading(shard) as conn:
                rows = conn.execute(sql, args).fetchall()
            for row in rows:
                key = row[0].lower()
                if key not in found:
                    found[key] = task_of_row(row)
        return found

    def find(self, task_uuids: Collection[str]) -> list[TaskRecord]:
        """The stored tasks with any of these UUIDs, expired ones included."""
        if not task_uuids:
            return []
        marks = ",".join("?" * len(task_uuids))
        rows = self._engine.rows_of_all(
            f"SELECT * FROM tasks WHERE task_uuid IN ({marks})", tuple(task_uuids)
        )
        return [task_of_row(row) for row in rows]

    def put(self, record: TaskRecord) -> None:
        """Store a task (inside the caller's transaction, holding its UUID's
        reservation), replacing an expired namesake."""
        self._stored.add(record.task_uuid)  # before the commit: see stored_uuids.py
        with self._engine.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.task_uuid,
                    record.task_type,
                    record.key_fingerprint,
                    jsontext.dumps(record.params),
                    record.params_hash,
                    record.submitted_at,
                    record.latency,
                    record.seed,
                    record.number_results,
                    record.ttl,
                    record.expires_at,
                    record.failure_code,
                    record.failure_message,
                ),
            )

    def count(self, *, now: float) -> int:
        counts = self._engine.rows_of_all("SELECT COUNT(*) FROM tasks WHERE expires_at > ?", (now,))
        return sum(int(row[0]) for row in counts)

    def purge_expired(self, *, now: float) -> int:
        """Delete tasks past their TTL (an indexed range delete); returns how many."""
        deleted = 0
        for shard in self._engine.all_shards():
            with self._engine.transaction(shard) as conn:
                deleted += conn.execute("DELETE FROM tasks WHERE expires_at <= ?", (now,)).rowcount
        return deleted


def task_of_row(row: tuple[Any, ...]) -> TaskRecord:
    """The record of a ``SELECT *`` row of ``tasks``."""
    (uuid, task_type, key, params, params_hash, submitted, latency, seed, count, ttl, _expires,
     failure_code, failure_message) = row  # fmt: skip
    return TaskRecord(
        task_uuid=uuid,
        task_type=task_type,
        key_fingerprint=key,
        params=jsontext.loads(params),
        params_hash=params_hash,
        submitted_at=submitted,
        latency=latency,
        seed=seed,
        number_results=count,
        ttl=ttl,
        failure_code=failure_code,
        failure_message=failure_message,
    )
