"""The ``journal`` table: the request journal, in the shard of the process that answered.

Ids order entries across shards: the wall clock in ms, never below the shard's
last id, times ``SHARD_LIMIT``, plus the shard.
"""

from __future__ import annotations

import time
from typing import Any

from ltxmock.server.core import jsontext
from ltxmock.server.core.records import JournalEntry

from .engine import Engine
from .shards import SHARD_LIMIT

JOURNAL_TRIM_EVERY = 64  # journal inserts between deletions of the oldest entries
# Text appended, as a share of the byte budget, between measurements of the shard's
# total (a measurement reads every kept entry's length).
MEASURE_EVERY_SHARE = 8


class JournalTable:
    """Journal entries: appended to this process's shard, read from all of them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._inserts = 0
        self._unmeasured = 0  # characters appended since the total was last measured

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
        """Record one exchange; now and then drop all but the newest ``keep`` of the
        shard, and its oldest entries beyond ``keep_bytes`` of text."""
        with self._engine.write() as conn:
            shard = self._engine.own_shard()
            conn.execute(
                "INSERT INTO journal VALUES (MAX(?, COALESCE((SELECT MAX(id) FROM journal), 0) "
                f"/ {SHARD_LIMIT} + 1) * {SHARD_LIMIT} + ?, ?,?,?,?,?,?,?,?,?)",
                (time.time_ns() // 1_000_000, shard.index, at, transport, method, path, status,
                 fault, request_json, response_json, headers_json),
            )  # fmt: skip
            self._inserts += 1
            # Trimming every time would rewrite a page per request; reads hide the extra.
            if self._inserts % JOURNAL_TRIM_EVERY == 0:
                conn.execute(
                    "DELETE FROM journal WHERE id < "
                    "(SELECT id FROM journal ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (keep - 1,),
                )
            self._unmeasured += len(request_json) + len(response_json) + len(headers_json)
            if self._unmeasured * MEASURE_EVERY_SHARE >= keep_bytes:
                self._unmeasured = 0
                # The newest entries whose running total fits stay (the newest one
                # at least); the rest go.
                conn.execute(
                    "DELETE FROM journal WHERE id < COALESCE((SELECT MIN(id) FROM (SELECT id, "
                    "SUM(length(request_json) + length(response_json) + length(headers_json)) "
                    "OVER (ORDER BY id DESC) AS total FROM journal) WHERE total <= ?), "
                    "(SELECT MAX(id) FROM journal))",
                    (keep_bytes,),
                )

    def entries(self, *, keep: int, since: int = 0, limit: int | None = None) -> list[JournalEntry]:
        """Entries with an id above ``since`` among the newest ``keep``, oldest first
        (the newest ``limit`` of those).

        Ids order entries across shards, so the entries above ``since`` are the
        newest ones, and those among the newest ``keep`` are simply the newest
        ``keep`` of them: each shard gives its newest ``n`` above ``since``, and
        the newest ``n`` of all are kept. A reader that is up to date (a
        dashboard asking what is new) reads nothing.
        """
        take = max(keep, 0) if limit is None else max(min(limit, keep), 0)
        if take == 0:
            return []
        rows: list[tuple[Any, ...]] = []
        for shard in self._engine.all_shards():
            with self._engine.reading(shard) as conn:
                rows += conn.execute(
                    "SELECT * FROM journal WHERE id > ? ORDER BY id DESC LIMIT ?", (since, take)
                ).fetchall()
        rows.sort(key=lambda row: int(row[0]), reverse=True)
        return [entry_of_row(row) for row in reversed(rows[:take])]

    def clear(self) -> None:
        for shard in self._engine.all_shards():
            with self._engine.transaction(shard) as conn:
                conn.execute("DELETE FROM journal")


def entry_of_row(row: tuple[Any, ...]) -> JournalEntry:
    """The entry of a ``SELECT *`` row of ``journal``."""
    entry_id, at, transport, method, path, status, fault, request, response, headers = row
    return JournalEntry(
        id=entry_id,
        at=at,
        transport=transport,
        method=method,
        path=path,
        status=status,
        fault=fault,
        request=jsontext.loads(request),
        response=jsontext.loads(response),
        headers=jsontext.loads(headers),
    )
