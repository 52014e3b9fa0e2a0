"""Connections and transactions over the shards of one store.

Each thread has its own connection per shard of a file store (WAL: readers
run beside the writer); the in-memory database is one shard with one shared
connection, serialized by an ``RLock``. Which files exist and which one this
process writes is ``ShardSet``'s business (``shards.py``); the tables
(``tasks.py`` ...) hold the SQL and ask the engine for connections.

Closing a connection while another thread runs a statement on it crashes
inside SQLite (a segfault, not an exception); background threads (deliveries,
render callbacks) may still be mid-query when the service closes. So every use
is counted, and ``close`` waits for the count to drop.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from ltxmock.server.core.ports import StoreError

from .marker import ChangeMarker
from .schema import write_schema
from .shards import Shard, ShardSet

log = logging.getLogger("ltxmock.server")

Row = tuple[Any, ...]


class Engine:
    """SQLite connections of one store: thread-safe; several processes may share a data dir.

    ``path`` None: in memory. The data directory must exist (``create_data_dir``).
    Each committed transaction publishes the ``marker``'s noted change.
    """

    def __init__(
        self, path: Path | None, *, marker: ChangeMarker, busy_timeout: float = 10.0
    ) -> None:
        self.path = path
        self._marker = marker
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock() if path is None else None
        self._shards = ShardSet(path, prepare=self._create_schema)
        self._shared: sqlite3.Connection | None = None
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._state = threading.Condition()
        self._active = 0
        self._closed = False
        self._create_schema(self._shards.home)

    @property
    def description(self) -> str:
        return str(self.path) if self.path is not None else "in-memory"

    @property
    def in_memory(self) -> bool:
        return self.path is None

    # -- shards ----------------------------------------------------------------
    @property
    def home(self) -> Shard:
        """Shard 0: ``ltxmock.sqlite3`` (fault rules live there only)."""
        return self._shards.home

    def own_shard(self) -> Shard:
        """The shard this process writes its new rows to, claimed on first use."""
        return self._shards.own()

    def all_shards(self, rescan_after: float = 0.0) -> list[Shard]:
        """Every shard, this process's own first (see ``ShardSet.all``)."""
        return self._shards.all(rescan_after)

    def shard_of(self, row_id: int) -> Shard | None:
        """The shard holding a journal entry, delivery or attempt with this id."""
        return self._shards.of_id(row_id)

    # -- connections -------------------------------------------------------------
    def _connect(self, shard: Shard) -> sqlite3.Connection:
        target = str(shard.path) if shard.path is not None else ":memory:"
        try:
            conn = sqlite3.connect(
                target,
                timeout=self._busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # close() may run on another thread
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if shard.path is not None:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = OFF")
                # No mmap (SQLite's default): every shard grows while others
                # read it, and a reader remaps a grown file at its next read,
                # which made lookups in a shard being written slower.
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {target}: {exc}") from exc
        with self._opened_lock:
            self._opened.append(conn)
        return conn

    def _conn(self, shard: Shard | None = None) -> sqlite3.Connection:
        if self.path is None:
            if self._shared is None:
                self._shared = self._connect(self._shards.home)
            return self._shared
        if shard is None:
            shard = self._shards.own()
        conn: sqlite3.Connection | None = getattr(shard.local, "conn", None)
        if conn is None:
            conn = shard.local.conn = self._connect(shard)
        return conn

    def _begin_use(self) -> None:
        with self._state:
            if self._closed:
                raise StoreError(f"the store {self.description} is closed")
            self._active += 1
        if self._lock is not None:
            self._lock.acquire()

    def _end_use(self) -> None:
        if self._lock is not None:
            self._lock.release()
        with self._state:
            self._active -= 1
            if not self._active:
                self._state.notify_all()

    # -- transactions ------------------------------------------------------------
    @contextmanager
    def transaction(self, shard: Shard | None = None) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction on a shard (this process's own by default);
        nested calls on the same shard join the outer one."""
        self._begin_use()
        try:
            if shard is None:
                shard = self._shards.own()
            conn = self._conn(shard)
            if conn.in_transaction:
                yield conn
                return
            with shard.writer:
                conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-way
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    self._marker.discard()
                    raise
                conn.commit()
                self._marker.publish()
        finally:
            self._end_use()

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """The open transaction on this thread's own shard (no new bookkeeping:
        its owner counts the use), else ``transaction()``; a submit writes
        several rows inside one."""
        if self._lock is None:  # in memory, transaction() joins under the lock instead
            conn = self.own_open_write()
            if conn is not None:
                return nullcontext(conn)
        return self.transaction()

    def own_open_write(self) -> sqlite3.Connection | None:
        """This thread's connection to its own shard, if a write is open on it."""
        if self.path is None:
            conn = self._shared
        else:
            own = self._shards.claimed()
            conn = getattr(own.local, "conn", None) if own is not None else None
        return conn if conn is not None and conn.in_transaction else None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: undo just this block's writes if it raises."""
        self._begin_use()
        try:
            conn = self._conn()
            if not conn.in_transaction:
                raise StoreError("a savepoint needs an open transaction")
            conn.execute("SAVEPOINT block")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK TO block")
                conn.execute("RELEASE block")
                raise
            conn.execute("RELEASE block")
        finally:
            self._end_use()

    def _create_schema(self, shard: Shard) -> None:
        with self.transaction(shard) as conn:
            write_schema(conn, description=str(shard.path or self.description))

    # -- reads -------------------------------------------------------------------
    def reading(self, shard: Shard | None = None) -> Reading:
        """``with engine.reading(shard) as conn``: a counted use (shard 0 by default)."""
        return Reading(self, shard or self._shards.home)

    def first_row(self, sql: str, args: Row, rescan_after: float = 0.0) -> Row | None:
        """The first row ``sql`` finds, trying each shard (own first)."""
        for shard in self._shards.all(rescan_after):
            with Reading(self, shard) as conn:
                row: Row | None = conn.execute(sql, args).fetchone()
            if row is not None:
                return row
        return None

    def rows_of_all(self, sql: str, args: Row = ()) -> list[Row]:
        """Every row ``sql`` finds in every shard."""
        rows: list[Row] = []
        for shard in self._shards.all():
            with Reading(self, shard) as conn:
                rows += conn.execute(sql, args).fetchall()
        return rows

    def close(self, *, wait: float = 10.0) -> None:
        """Refuse new work, let running statements finish (up to ``wait`` s), close."""
        with self._state:
            self._closed = True
            if not self._state.wait_for(lambda: not self._active, timeout=wait):
                log.warning("closing the store with %d operations still running", self._active)
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._shared = None
        self._shards.release()


class Reading:
    """``with engine.reading(shard) as conn``: a counted use of this thread's connection.

    A class, not a generator: it runs several times per request.
    """

    __slots__ = ("_engine", "_shard")

    def __init__(self, engine: Engine, shard: Shard) -> None:
        self._engine = engine
        self._shard = shard

    def __enter__(self) -> sqlite3.Connection:
        self._engine._begin_use()
        try:
            return self._engine._conn(self._shard)
        except BaseException:
            self._engine._end_use()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self._engine._end_use()
