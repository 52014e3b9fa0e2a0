"""The ``deliveries`` and ``delivery_attempts`` tables: webhook POSTs and upload PUTs.

A delivery is stored in the shard of the process that accepted its task, and
updated there by whichever process sends it: its id names its shard.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Collection

from ltxmock.server.core.records import AttemptRow, Capture, DeliveryRow, NewDelivery

from .engine import Engine
from .shards import SHARD_LIMIT, Shard


class DeliveryTable:
    """Deliveries and their attempts, leased to one sender at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, rows: Collection[NewDelivery]) -> None:
        with self._engine.write() as conn:
            index = self._engine.own_shard().index
            conn.executemany(
                "INSERT INTO deliveries (id, task_uuid, result_index, kind, url, base_url, "
                f"created_at, due_at) VALUES ({_next_id('deliveries')}, "
                "?,?,?,?,?,?,?)",
                [
                    (index, d.task_uuid, d.result_index, d.kind, d.url, d.base_url,
                     d.created_at, d.due_at)
                    for d in rows
                ],
            )  # fmt: skip

    def has_pending(self) -> bool:
        return (
            self._engine.first_row("SELECT 1 FROM deliveries WHERE state = 'pending' LIMIT 1", ())
            is not None
        )

    def claim(
        self, owner: str, *, now: float, wall: float, lease: float, limit: int
    ) -> list[DeliveryRow]:
        """Lease up to ``limit`` due deliveries to ``owner``, atomically.

        A webhook waits while an upload of the same result is still pending:
        the file is PUT before the result is announced (both are in one shard).
        """
        claimed: list[DeliveryRow] = []
        for shard in self._engine.all_shards():
            if len(claimed) >= limit:
                break
            if not self._due_in(shard, now, wall):
                continue  # a read first: no write lock on shards with nothing due
            with self._engine.transaction(shard) as conn:
                rows = conn.execute(
                    "SELECT * FROM deliveries AS d WHERE state = 'pending' AND due_at <= ? "
                    "AND (lease_until IS NULL OR lease_until < ?) "
                    "AND NOT (kind = 'webhook' AND EXISTS (SELECT 1 FROM deliveries AS u "
                    "WHERE u.task_uuid = d.task_uuid AND u.result_index = d.result_index "
                    "AND u.kind = 'upload' AND u.state = 'pending')) "
                    "ORDER BY due_at, id LIMIT ?",
                    (now, wall, limit - len(claimed)),
                ).fetchall()
                conn.executemany(
                    "UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id = ?",
                    [(owner, wall + lease, row[0]) for row in rows],
                )
            claimed += [
                dataclasses.replace(DeliveryRow(*row), lease_owner=owner, lease_until=wall + lease)
                for row in rows
            ]
        return claimed

    def _due_in(self, shard: Shard, now: float, wall: float) -> bool:
        with self._engine.reading(shard) as conn:
            row = conn.execute(
                "SELECT 1 FROM deliveries WHERE state = 'pending' AND due_at <= ? "
                "AND (lease_until IS NULL OR lease_until < ?) LIMIT 1",
                (now, wall),
            ).fetchone()
        return row is not None

    def leases(self, *, wall: float) -> list[tuple[int, str]]:
        return [
            (int(row[0]), str(row[1]))
            for row in self._engine.rows_of_all(
                "SELECT id, lease_owner FROM deliveries WHERE state = 'pending' "
                "AND lease_owner IS NOT NULL AND lease_until >= ?",
                (wall,),
            )
        ]

    def release(self, delivery_id: int, owner: str) -> None:
        """Give a lease back without an attempt (its file is not rendered yet)."""
        shard = self._engine.shard_of(delivery_id)
        if shard is None:
            return
        with self._engine.transaction(shard) as conn:
            conn.execute(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND lease_owner = ?",
                (delivery_id, owner),
            )

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
        shard = self._engine.shard_of(delivery_id)
        if shard is None:
            return
        with self._engine.transaction(shard) as conn:
            if attempt is not None:
                conn.execute(
                    "INSERT INTO delivery_attempts (id, delivery_id, attempt, at, status, "
                    f"error, outcome) VALUES ({_next_id('delivery_attempts')}, "
                    "?,?,?,?,?,?)",
                    (shard.index, delivery_id, attempt, at, status, error, state),
                )
            conn.execute(
                "UPDATE deliveries SET state = ?, attempts = COALESCE(?, attempts), "
                "due_at = COALESCE(?, due_at), last_error = ?, lease_owner = NULL, "
                "lease_until = NULL WHERE id = ? AND lease_owner = ?",
                (state, attempt, due_at, error, delivery_id, owner),
            )

    def capture(
        self, delivery_id: int, owner: str, *, at: float, content_type: str, body: bytes, keep: int
    ) -> None:
        """Settle a delivery as ``captured``, keeping the body it would have sent."""
        shard = self._engine.shard_of(delivery_id)
        if shard is None:
            return
        with self._engine.transaction(shard) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO captures (delivery_id, content_type, size, sha256, body) "
                "VALUES (?,?,?,?,?)",
                (
                    delivery_id,
                    content_type,
                    len(body),
                    hashlib.sha256(body).hexdigest(),
                    body if len(body) <= keep else None,
                ),
            )
            conn.execute(
                "UPDATE deliveries SET state = 'captured', last_error = NULL, lease_owner = NULL, "
                "lease_until = NULL, due_at = ? WHERE id = ? AND lease_owner = ?",
                (at, delivery_id, owner),
            )

    def captured(self, delivery_id: int, *, with_body: bool = True) -> Capture | None:
        shard = self._engine.shard_of(delivery_id)
        if shard is None:
            return None
        body_column = "body" if with_body else "NULL"  # an upload's body can be 64 MiB
        with self._engine.reading(shard) as conn:
            row = conn.execute(
                f"SELECT delivery_id, content_type, size, sha256, {body_column} FROM captures "
                "WHERE delivery_id = ?",
                (delivery_id,),
            ).fetchone()
        if row is None:
            return None
        body = bytes(row[4]) if row[4] is not None else None
        return Capture(int(row[0]), str(row[1]), int(row[2]), str(row[3]), body)

    def all(self, *, task_uuid: str | None = None) -> list[DeliveryRow]:
        where, args = ("WHERE task_uuid = ?", (task_uuid,)) if task_uuid else ("", ())
        rows = self._engine.rows_of_all(f"SELECT * FROM deliveries {where}", args)
        return sorted((DeliveryRow(*row) for row in rows), key=lambda d: (d.created_at, d.id))

    def attempts(self, *, task_uuid: str | None = None) -> list[AttemptRow]:
        where, args = ("WHERE d.task_uuid = ?", (task_uuid,)) if task_uuid else ("", ())
        rows = self._engine.rows_of_all(
            "SELECT a.id, a.delivery_id, d.task_uuid, d.result_index, d.kind, d.url, "
            "a.attempt, a.at, a.status, a.error, a.outcome FROM delivery_attempts AS a "
            f"JOIN deliveries AS d ON d.id = a.delivery_id {where}",
            args,
        )
        return sorted((AttemptRow(*row) for row in rows), key=lambda a: (a.at, a.id))


def _next_id(table: str) -> str:
    """SQL for the next id in ``table`` of the shard given as a parameter: the ids
    of shard k are k modulo SHARD_LIMIT, so an id names its shard."""
    return f"(COALESCE((SELECT MAX(id) FROM {table}), 0) / {SHARD_LIMIT} + 1) * {SHARD_LIMIT} + ?"
