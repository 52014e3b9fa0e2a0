"""The ``credits`` table: each API key's balance, in shard 0 only (one truth for
every worker process); spending is one conditional UPDATE, so it is atomic."""

from __future__ import annotations

from ltxmock.server.core.records import CreditAccount

from .any_rows import AnyRows
from .engine import Engine
from .marker import ChangeMarker

DEFAULT_OWNER = "*"


class CreditTable:
    """Balances in USD per API-key fingerprint (None: unlimited)."""

    def __init__(self, engine: Engine, marker: ChangeMarker) -> None:
        self._engine = engine
        self._marker = marker
        self._any_rows = AnyRows(engine, marker, "credits")

    def any(self) -> bool:
        return self._any_rows()

    def set(self, owner: str, balance: float | None) -> None:
        with self._engine.transaction(self._engine.home) as conn:
            self._marker.note_change()
            conn.execute(
                "INSERT INTO credits (owner, balance) VALUES (?, ?) "
                "ON CONFLICT (owner) DO UPDATE SET balance = excluded.balance",
                (owner, balance),
            )

    def get(self, owner: str, default: float | None) -> CreditAccount:
        with self._engine.reading() as conn:
            row = conn.execute(
                "SELECT balance, spent FROM credits WHERE owner = ?", (owner,)
            ).fetchone()
            if row is not None:
                return CreditAccount(owner, row[0], float(row[1]))
            fallback = conn.execute(
                "SELECT balance FROM credits WHERE owner = ?", (DEFAULT_OWNER,)
            ).fetchone()
        return CreditAccount(owner, fallback[0] if fallback is not None else default, 0.0)

    def all(self, limit: int | None = None) -> list[CreditAccount]:
        with self._engine.reading() as conn:
            rows = conn.execute(
                "SELECT owner, balance, spent FROM credits ORDER BY owner LIMIT ?",
                (-1 if limit is None else limit,),  # SQLite: a negative LIMIT is none
            )
            return [CreditAccount(str(o), b, float(s)) for o, b, s in rows.fetchall()]

    def spend(self, owner: str, amount: float, default: float | None) -> CreditAccount | None:
        # No note_change: ``any`` only matters while no balance is configured, and
        # then spending is never asked for (a change bump per submit would empty
        # every cache the marker guards).
        with self._engine.transaction(self._engine.home) as conn:
            star = conn.execute(
                "SELECT balance FROM credits WHERE owner = ?", (DEFAULT_OWNER,)
            ).fetchone()
            conn.execute(
                "INSERT OR IGNORE INTO credits (owner, balance) VALUES (?, ?)",
                (owner, star[0] if star is not None else default),
            )
            # Rounded to 1/10000 $ like costs, so that a balance of exactly the
            # cost is enough despite binary fractions.
            row = conn.execute(
                "UPDATE credits SET balance = CASE WHEN balance IS NULL THEN NULL "
                "ELSE round(balance - ?, 4) END, spent = round(spent + ?, 4) "
                "WHERE owner = ? AND (balance IS NULL OR round(balance - ?, 4) >= 0) "
                "RETURNING balance, spent",
                (amount, amount, owner, amount),
            ).fetchone()
        return CreditAccount(owner, row[0], float(row[1])) if row is not None else None
