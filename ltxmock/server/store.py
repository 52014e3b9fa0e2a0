"""TaskStore: the mock's only state, in SQLite, shareable between processes.

The data dir holds tasks, fault rules, the request journal, the rendered result
files (``media``) and pending webhook/upload deliveries in SQLite (WAL mode):
``ltxmock.sqlite3`` and one ``ltxmock-<k>.sqlite3`` shard per further process
that wrote (``TaskStore`` explains the sharding). Every worker process sees the
same world and a restart resumes what was pending. Without a data dir the
database lives in memory (one process). Task *state* is never stored: it is
computed from what was stored (submit time, latency) at poll time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from . import jsontext
from .faults import Fault
from .journal import JournalEntry

log = logging.getLogger("ltxmock.server")
SCHEMA_VERSION = "2"

# os.getpid() is a system call, and a request asks several times whether the
# store still belongs to this process (it does not after a fork).
_pid = os.getpid()


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork)

TASK_CACHE_SIZE = 4096  # live tasks a process keeps for polls (about 1 KiB each)
JOURNAL_TRIM_EVERY = 64  # journal inserts between deletions of the oldest entries
SHARD_LIMIT = 64  # database files (one per process) a store spreads over
# Versions whose databases this one can open: the tables it added are created
# by the CREATE IF NOT EXISTS statements below, nothing else changed.
_UPGRADABLE = ("1",)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS tasks (
        task_uuid TEXT PRIMARY KEY COLLATE NOCASE,
        task_type TEXT NOT NULL,
        key_fingerprint TEXT NOT NULL,
        params_json TEXT NOT NULL,
        params_hash TEXT NOT NULL,
        submitted_at REAL NOT NULL,
        latency REAL NOT NULL,
        seed INTEGER NOT NULL,
        number_results INTEGER NOT NULL,
        ttl REAL NOT NULL,
        expires_at REAL NOT NULL,
        failure_code TEXT,
        failure_message TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS tasks_by_expiry ON tasks (expires_at)",
    """CREATE TABLE IF NOT EXISTS faults (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        status INTEGER NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        remaining INTEGER,
        task_type TEXT
    )""",
    # Journal, delivery and attempt ids are given explicitly (they carry their
    # shard), so no AUTOINCREMENT: it would only write sqlite_sequence's page on
    # every insert, a quarter of a submit's commit. (Files made by older
    # versions keep theirs; the ids mean the same either way.)
    """CREATE TABLE IF NOT EXISTS journal (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        transport TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        fault TEXT,
        request_json TEXT NOT NULL,
        response_json TEXT NOT NULL
    )""",
    # One row per rendered (or failed) result video: where its file is (a
    # RenderCache file name, never user input) and why its render failed.
    """CREATE TABLE IF NOT EXISTS media (
        video_uuid TEXT PRIMARY KEY COLLATE NOCASE,
        task_uuid TEXT NOT NULL COLLATE NOCASE,
        result_index INTEGER NOT NULL,
        file_name TEXT NOT NULL,
        content_type TEXT NOT NULL,
        expires_at REAL NOT NULL,
        error TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS media_by_task ON media (task_uuid, result_index)",
    "CREATE INDEX IF NOT EXISTS media_by_expiry ON media (expires_at)",
    # Webhook POSTs and uploadEndpoint PUTs still to send (or sent/failed).
    # due_at is on the service clock; lease_until on the real one (it guards
    # against dead processes, not against simulated time).
    """CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY,
        task_uuid TEXT NOT NULL COLLATE NOCASE,
        result_index INTEGER NOT NULL,
        kind TEXT NOT NULL,
        url TEXT NOT NULL,
        base_url TEXT NOT NULL,
        created_at REAL NOT NULL,
        due_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending',
        lease_owner TEXT,
        lease_until REAL,
        last_error TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, due_at)",
    """CREATE TABLE IF NOT EXISTS delivery_attempts (
        id INTEGER PRIMARY KEY,
        delivery_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        at REAL NOT NULL,
        status INTEGER,
        error TEXT,
        outcome TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS attempts_by_delivery ON delivery_attempts (delivery_id)",
)


class StoreError(Exception):
    """The database cannot be used (wrong schema version, unwritable directory)."""


@dataclass(frozen=True)
class TaskRecord:
    """What was accepted: everything needed to compute the task's state later."""

    task_uuid: str
    task_type: str
    key_fingerprint: str
    params: Mapping[str, Any]
    params_hash: str
    submitted_at: float
    latency: float
    seed: int
    number_results: int
    ttl: float
    failure_code: str | None = None
    failure_message: str | None = None

    @property
    def completes_at(self) -> float:
        return self.submitted_at + self.latency

    @property
    def expires_at(self) -> float:
        return self.completes_at + self.ttl


@dataclass(frozen=True)
class MediaRow:
    """Result ``result_index`` of a task: its file in the media directory."""

    video_uuid: str
    task_uuid: str
    result_index: int
    file_name: str  # "<64 hex>.<ext>", a RenderCache entry
    content_type: str
    expires_at: float
    error: str | None = None  # why its render failed


@dataclass(frozen=True)
class NewDelivery:
    task_uuid: str
    result_index: int
    kind: str  # "upload" | "webhook"
    url: str
    base_url: str  # prefix of the videoURL the webhook announces
    created_at: float
    due_at: float


@dataclass(frozen=True)
class DeliveryRow:
    """A webhook POST or upload PUT and where it stands."""

    id: int
    task_uuid: str
    result_index: int
    kind: str
    url: str
    base_url: str
    created_at: float
    due_at: float
    attempts: int
    state: str  # pending | delivered | failed | skipped
    lease_owner: str | None = None
    lease_until: float | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class AttemptRow:
    """One try at sending a delivery, as the delivery log shows it."""

    id: int
    delivery_id: int
    task_uuid: str
    result_index: int
    kind: str
    url: str
    attempt: int
    at: float
    status: int | None
    error: str | None
    outcome: str  # the delivery's state after this attempt


class WriterLock:
    """One writer at a time per database file: threads queue on a lock, processes on flock.

    SQLite allows one writer anyway, but a writer that finds the database busy
    sleeps in its busy handler (up to 100 ms a nap); one queued on this lock
    wakes the moment the other commits. Readers never take it (WAL).
    """

    def __init__(self, database: Path) -> None:
        self._lock_path = database.with_name(database.name + ".lock")
        self._pid = -1
        self._thread_lock = threading.Lock()
        self._fd = -1

    def _reset(self) -> None:
        # First use, or after a fork: the parent's lock state means nothing here.
        self._pid = _pid
        self._thread_lock = threading.Lock()
        try:
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            self._fd = -1  # unwritable: SQLite's own locking still keeps us correct

    def __enter__(self) -> None:
        if self._pid != _pid:
            self._reset()
        self._thread_lock.acquire()
        if self._fd >= 0:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._fd >= 0:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


class _Shard:
    """One database file of the store: its writer lock and this process's connections."""

    __slots__ = ("index", "local", "path", "writer")

    def __init__(self, index: int, path: Path | None) -> None:
        self.index = index
        self.path = path
        self.writer: AbstractContextManager[Any] = (
            WriterLock(path) if path is not None else nullcontext()
        )
        self.local = threading.local()


def shard_path(database: Path, index: int) -> Path:
    """Shard 0 is the database file itself; shard k is ``<stem>-k<suffix>`` beside it."""
    if index == 0:
        return database
    return database.with_name(f"{database.stem}-{index}{database.suffix}")


class TaskStore:
    """SQLite-backed state. Thread-safe; several processes may share one data dir.

    A file store is sharded by process: each process claims a shard (shard 0
    is ``ltxmock.sqlite3``, shard k ``ltxmock-k.sqlite3``, claimed with a
    flock) on its first write and stores the tasks, result files, journal
    entries and deliveries it creates there. So two workers never wait for
    each other's commits, nor lose their page cache to them; reads look at
    every shard (their own first). Fault rules live in shard 0 only. A row
    created elsewhere is updated in its own shard, under that shard's
    ``WriterLock``; ids of journal entries, deliveries and attempts carry
    their shard (``id % SHARD_LIMIT``). Each thread has its own connection per
    shard (WAL: readers run beside the writer). The in-memory database is one
    shard with one connection, serialized by a lock.
    """

    def __init__(self, path: Path | None = None, *, busy_timeout: float = 10.0) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock() if path is None else None
        self._home = _Shard(0, path)
        self._shards: dict[int, _Shard] = {0: self._home}  # replaced, never mutated
        self._dir_stamp: int | None = None  # the data dir's mtime at the last scan
        self._scanned_at = -math.inf
        self._own: _Shard | None = None
        self._own_pid = -1
        self._owner_fd = -1
        self._claim_lock = threading.Lock()
        self._journal_inserts = 0
        self._shared: sqlite3.Connection | None = None
        # Whether fault rules exist is asked on every request and changes
        # rarely: the answer is cached against the mtime (set to time_ns by
        # every committed change) of a marker file next to the database.
        # A reset moves it too: it is the one change that removes live tasks.
        self._faults_marker = str(path) + ".faults" if path is not None else None
        self._faults_cache: tuple[int, bool] | None = None
        self._faults_touched = False  # this transaction changed fault rules
        # Live tasks read lately, by lower-cased UUID: a stored task never
        # changes while it lives (state is computed from the clock) and only a
        # reset removes it early, so an SDK's repeated polls need no query.
        self._task_cache: dict[str, TaskRecord] = {}
        self._task_cache_version: int | None = None
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._state = threading.Condition()
        self._active = 0
        self._closed = False
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the data directory {path.parent}: {exc}") from exc
            self._create_faults_marker()
        self._create_schema(self._home)

    @property
    def description(self) -> str:
        return str(self.path) if self.path is not None else "in-memory"

    # -- connections and transactions -----------------------------------------
    def _connect(self, shard: _Shard) -> sqlite3.Connection:
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
                # read it, and a reader remaps a grown file at its next read;
                # a lookup in a shard being written took 13 us with mmap, 9 without.
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {target}: {exc}") from exc
        with self._opened_lock:
            self._opened.append(conn)
        return conn

    def _conn(self, shard: _Shard | None = None) -> sqlite3.Connection:
        if self.path is None:
            if self._shared is None:
                self._shared = self._connect(self._home)
            return self._shared
        if shard is None:
            shard = self._own_shard()
        conn: sqlite3.Connection | None = getattr(shard.local, "conn", None)
        if conn is None:
            conn = shard.local.conn = self._connect(shard)
        return conn

    # -- shards ----------------------------------------------------------------
    def _own_shard(self) -> _Shard:
        """The shard this process writes its new rows to, claimed on first use."""
        own = self._own
        if own is not None and self._own_pid == _pid:
            return own
        with self._claim_lock:
            if self._own is None or self._own_pid != _pid:
                self._own = self._claim()
                self._own_pid = _pid
            return self._own

    def _claim(self) -> _Shard:
        if self.path is None:
            return self._home
        if self._owner_fd >= 0:  # inherited through a fork: the parent keeps its shard
            os.close(self._owner_fd)
            self._owner_fd = -1
        for index in range(SHARD_LIMIT):
            path = shard_path(self.path, index)
            try:
                fd = os.open(f"{path}.owner", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                break  # an unwritable directory: share the home file
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue  # another process's shard
            self._owner_fd = fd
            # Created before it is listed: a thread that saw it listed would
            # otherwise connect first and make an empty file of it.
            new = index > 0 and not path.exists()
            if new:
                self._create_shard_file(path)
            shard = self._shard_at(index)
            if index and not new:  # shard 0 was checked when the store opened
                self._create_schema(shard)
            return shard
        return self._home  # more processes than shards: still correct, only slower

    def _create_shard_file(self, path: Path) -> None:
        """A new shard appears complete: built under a temporary name, then renamed."""
        building = path.with_name(f".{path.name}.{_pid}.new")
        conn = sqlite3.connect(str(building), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            _write_schema(conn)
        finally:
            conn.close()
        os.replace(building, path)
        stamp = time.time_ns()  # exact: readers rescan when the directory's mtime moves
        with contextlib.suppress(OSError):
            os.utime(path.parent, ns=(stamp, stamp))

    def _shard_at(self, index: int) -> _Shard:
        shard = self._shards.get(index)
        if shard is None:
            assert self.path is not None
            shard = _Shard(index, shard_path(self.path, index))
            self._shards = {**self._shards, index: shard}
        return shard

    def _all_shards(self, rescan_after: float = 0.0) -> list[_Shard]:
        """Every shard in the data dir, this process's own first; the directory is
        looked at again if the last look is older than ``rescan_after`` seconds."""
        if self.path is not None and time.monotonic() - self._scanned_at >= rescan_after:
            self._rescan()
        own = self._own if self._own_pid == _pid else None
        shards = list(self._shards.values())
        if own is not None and shards[0] is not own:
            shards.remove(own)
            shards.insert(0, own)
        return shards

    def _rescan(self) -> None:
        """Pick up shards other processes created since the last look."""
        assert self.path is not None
        self._scanned_at = time.monotonic()
        try:
            stamp = os.stat(self.path.parent).st_mtime_ns
            if stamp == self._dir_stamp:
                return
            names = os.listdir(self.path.parent)
        except OSError:
            return
        self._dir_stamp = stamp
        prefix, suffix = f"{self.path.stem}-", self.path.suffix
        for name in names:
            number = name[len(prefix) : len(name) - len(suffix)]
            found = name.startswith(prefix) and name.endswith(suffix) and number.isdigit()
            if found and 0 < int(number) < SHARD_LIMIT:
                self._shard_at(int(number))

    def _first_row(
        self, sql: str, args: tuple[Any, ...], rescan_after: float = 0.0
    ) -> tuple[Any, ...] | None:
        """The first row ``sql`` finds, trying each shard (own first)."""
        for shard in self._all_shards(rescan_after):
            with self._reading(shard) as conn:
                row: tuple[Any, ...] | None = conn.execute(sql, args).fetchone()
            if row is not None:
                return row
        return None

    def _rows_of_all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Every row ``sql`` finds in every shard."""
        rows: list[tuple[Any, ...]] = []
        for shard in self._all_shards():
            with self._reading(shard) as conn:
                rows += conn.execute(sql, args).fetchall()
        return rows

    def _shard_of(self, row_id: int) -> _Shard | None:
        """The shard holding a journal entry, delivery or attempt with this id."""
        index = row_id % SHARD_LIMIT
        if index not in self._shards and self.path is not None:
            self._rescan()
        return self._shards.get(index)

    # Closing a connection while another thread runs a statement on it crashes
    # inside SQLite (a segfault, not an exception); background threads
    # (deliveries, render callbacks) may still be mid-query when the service
    # closes. So every use is counted, and ``close`` waits for the count to drop.
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

    @contextmanager
    def transaction(self, shard: _Shard | None = None) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction on a shard (this process's own by default);
        nested calls on the same shard join the outer one."""
        self._begin_use()
        try:
            if shard is None:
                shard = self._own_shard()
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
                    self._faults_touched = False
                    raise
                conn.commit()
                if self._faults_touched:
                    self._faults_touched = False
                    self._mark_faults_changed()
        finally:
            self._end_use()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """The open transaction on this thread's own shard (no new bookkeeping:
        its owner counts the use), else ``transaction()``; a submit writes
        several rows inside one."""
        if self._lock is None:  # in memory, transaction() joins under the lock instead
            conn = self._own_open_write()
            if conn is not None:
                return nullcontext(conn)
        return self.transaction()

    def _own_open_write(self) -> sqlite3.Connection | None:
        """This thread's connection to its own shard, if a write is open on it."""
        if self.path is None:
            conn = self._shared
        else:
            own = self._own if self._own_pid == _pid else None
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

    def _reading(self, shard: _Shard | None = None) -> _Reading:
        return _Reading(self, shard or self._home)

    def _create_schema(self, shard: _Shard) -> None:
        with self.transaction(shard) as conn:
            _write_schema(conn, description=str(shard.path or self.description))

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
        for shard in self._shards.values():
            shard.local = threading.local()
        if self._owner_fd >= 0 and self._own_pid == _pid:
            os.close(self._owner_fd)  # the shard is free for the next process
            self._owner_fd = -1
        self._own = None

    def reset(self) -> None:
        """Forget every task, fault rule, journal entry, result file row and delivery."""
        for shard in self._all_shards():
            with self.transaction(shard) as conn:
                if shard is self._home:
                    self._faults_changed()
                for table in (
                    "tasks",
                    "faults",
                    "journal",
                    "media",
                    "deliveries",
                    "delivery_attempts",
                ):
                    conn.execute(f"DELETE FROM {table}")
        # Again, now that every shard is empty: a process that looked at the
        # marker in between may have cached a task of a shard not yet emptied.
        self._mark_faults_changed()
        self._task_cache.clear()

    # -- tasks -----------------------------------------------------------------
    def get_task(
        self, task_uuid: str, *, now: float, rescan_after: float = 0.0
    ) -> TaskRecord | None:
        """The live (not yet expired) task with this UUID, compared case-insensitively.

        ``rescan_after``: see ``_all_shards`` (0: find a shard created a moment ago).
        """
        key = task_uuid.lower()
        cacheable = self._task_cache_valid()  # asked before the query: never newer
        if cacheable:
            cached = self._task_cache.get(key)
            if cached is not None and cached.expires_at > now:
                return cached
        row = self._first_row(
            "SELECT * FROM tasks WHERE task_uuid = ? AND expires_at > ?",
            (task_uuid, now),
            rescan_after,
        )
        if row is None:
            return None
        record = _task(row)
        if cacheable and self._own_open_write() is None:  # never a write that may roll back
            cache = self._task_cache
            if len(cache) >= TASK_CACHE_SIZE:
                del cache[next(iter(cache))]  # the oldest entry
            cache[key] = record
        return record

    def _task_cache_valid(self) -> bool:
        """Whether cached tasks may be used; empties the cache after a reset anywhere."""
        if self.path is None:
            return True  # one process: reset() empties the cache itself
        version = self._faults_version()
        if version is None:
            return False  # no marker to tell of a reset elsewhere
        if version != self._task_cache_version:
            self._task_cache.clear()
            self._task_cache_version = version
        return True

    def live_tasks(
        self, task_uuids: Collection[str], *, now: float, rescan_after: float = 0.0
    ) -> dict[str, TaskRecord]:
        """``get_task`` for several UUIDs at once: one query per shard, not per UUID.

        Keyed by the lower-cased UUID; a UUID live in several shards is taken
        from the first (this process's own first).
        """
        found: dict[str, TaskRecord] = {}
        if not task_uuids:
            return found
        marks = ",".join("?" * len(task_uuids))
        sql = f"SELECT * FROM tasks WHERE task_uuid IN ({marks}) AND expires_at > ?"
        args = (*task_uuids, now)
        for shard in self._all_shards(rescan_after):
            with self._reading(shard) as conn:
                rows = conn.execute(sql, args).fetchall()
            for row in rows:
                key = row[0].lower()
                if key not in found:
                    found[key] = _task(row)
        return found

    def find_tasks(self, task_uuids: Collection[str]) -> list[TaskRecord]:
        """The stored tasks with any of these UUIDs, expired ones included."""
        if not task_uuids:
            return []
        marks = ",".join("?" * len(task_uuids))
        rows = self._rows_of_all(
            f"SELECT * FROM tasks WHERE task_uuid IN ({marks})", tuple(task_uuids)
        )
        return [_task(row) for row in rows]

    def put_task(self, record: TaskRecord) -> None:
        """Store a task, replacing an expired one with the same UUID."""
        with self._write() as conn:
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

    def count_tasks(self, *, now: float) -> int:
        counts = self._rows_of_all("SELECT COUNT(*) FROM tasks WHERE expires_at > ?", (now,))
        return sum(int(row[0]) for row in counts)

    def purge_expired(self, *, now: float) -> int:
        """Delete tasks past their TTL (an indexed range delete); returns how many."""
        deleted = 0
        for shard in self._all_shards():
            with self.transaction(shard) as conn:
                deleted += conn.execute("DELETE FROM tasks WHERE expires_at <= ?", (now,)).rowcount
        return deleted

    # -- fault rules (shard 0 only) --------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        with self.transaction(self._home) as conn:
            self._faults_changed()
            cursor = conn.execute(
                "INSERT INTO faults (kind, status, code, message, remaining, task_type) "
                "VALUES (?,?,?,?,?,?)",
                (fault.kind, fault.status, fault.code, fault.message, fault.times, fault.task_type),
            )
            return fault.with_id(int(cursor.lastrowid or 0))

    def faults(self) -> list[Fault]:
        with self._reading() as conn:
            rows = conn.execute("SELECT * FROM faults ORDER BY id").fetchall()
        return [_fault(row) for row in rows]

    def remove_fault(self, fault_id: int) -> bool:
        with self.transaction(self._home) as conn:
            self._faults_changed()
            return conn.execute("DELETE FROM faults WHERE id = ?", (fault_id,)).rowcount > 0

    def clear_faults(self) -> None:
        with self.transaction(self._home) as conn:
            self._faults_changed()
            conn.execute("DELETE FROM faults")

    def has_faults(self) -> bool:
        """Whether any fault rule is stored (usually answered without a query)."""
        version = self._faults_version()
        cached = self._faults_cache
        if version is not None and cached is not None and cached[0] == version:
            return cached[1]
        with self._reading() as conn:
            found = conn.execute("SELECT 1 FROM faults LIMIT 1").fetchone() is not None
        if version is not None:
            self._faults_cache = (version, found)  # read before the query: never newer
        return found

    def _faults_version(self) -> int | None:
        if self._faults_marker is None:
            return None  # in memory: one process, the query is cheap
        try:
            return os.stat(self._faults_marker).st_mtime_ns
        except FileNotFoundError:
            return 0
        except OSError:
            return None

    def _faults_changed(self) -> None:
        """Called inside the transaction that changes rules; marked once it commits."""
        self._faults_touched = True

    def _create_faults_marker(self) -> None:
        # Made now, so that the stat on every request finds it: a missing
        # file would cost an exception each time. Its mtime is left alone.
        assert self._faults_marker is not None
        try:
            os.close(os.open(self._faults_marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        except OSError:
            self._faults_marker = None  # unwritable: ask SQLite every time

    def _mark_faults_changed(self) -> None:
        if self._faults_marker is None:
            return
        stamp = time.time_ns()
        try:
            Path(self._faults_marker).touch()
            os.utime(self._faults_marker, ns=(stamp, stamp))  # exact: not the coarse clock
        except OSError:
            self._faults_marker = None  # unwritable: fall back to asking SQLite every time

    def take_fault(self, kind: str, task_types: Collection[str]) -> Fault | None:
        """Atomically use up one firing of the oldest rule of ``kind`` that applies."""
        types = sorted(set(task_types))
        marks = ",".join("?" * len(types)) or "NULL"
        with self.transaction(self._home) as conn:
            row = conn.execute(
                "SELECT * FROM faults WHERE kind = ? "
                f"AND (task_type IS NULL OR task_type IN ({marks})) ORDER BY id LIMIT 1",
                (kind, *types),
            ).fetchone()
            if row is None:
                return None
            fault = _fault(row)
            self._faults_changed()
            if fault.times is not None and fault.times <= 1:
                conn.execute("DELETE FROM faults WHERE id = ?", (fault.id,))
            elif fault.times is not None:
                conn.execute(
                    "UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (fault.id,)
                )
            return fault

    # -- journal ---------------------------------------------------------------
    def append_journal(
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
    ) -> None:
        """Record one exchange; now and then drop all but the newest ``keep`` of the shard.

        Ids order entries across shards: the wall clock in ms, never below the
        shard's last id, times SHARD_LIMIT, plus the shard.
        """
        with self._write() as conn:
            shard = self._own_shard()
            conn.execute(
                "INSERT INTO journal VALUES (MAX(?, COALESCE((SELECT MAX(id) FROM journal), 0) "
                f"/ {SHARD_LIMIT} + 1) * {SHARD_LIMIT} + ?, ?,?,?,?,?,?,?,?)",
                (time.time_ns() // 1_000_000, shard.index, at, transport, method, path, status,
                 fault, request_json, response_json),
            )  # fmt: skip
            self._journal_inserts += 1
            # Trimming every time would rewrite a page per request; reads hide the extra.
            if self._journal_inserts % JOURNAL_TRIM_EVERY == 0:
                conn.execute(
                    "DELETE FROM journal WHERE id < "
                    "(SELECT id FROM journal ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (keep - 1,),
                )

    def journal(self, *, keep: int, since: int = 0, limit: int | None = None) -> list[JournalEntry]:
        """Entries with an id above ``since`` among the newest ``keep``, oldest first
        (the newest ``limit`` of those)."""
        shards = self._all_shards()
        newest: list[int] = []
        for shard in shards:
            with self._reading(shard) as conn:
                newest += [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM journal ORDER BY id DESC LIMIT ?", (keep + 1,)
                    )
                ]
        if len(newest) > keep:  # older than the newest ``keep`` of all shards: dropped
            since = max(since, sorted(newest, reverse=True)[max(keep, 0)])
        take = -1 if limit is None else limit
        rows: list[tuple[Any, ...]] = []
        for shard in shards:
            with self._reading(shard) as conn:
                rows += conn.execute(
                    "SELECT * FROM journal WHERE id > ? ORDER BY id DESC LIMIT ?", (since, take)
                ).fetchall()
        rows.sort(key=lambda row: int(row[0]), reverse=True)
        if limit is not None:
            rows = rows[:limit]
        return [_entry(row) for row in reversed(rows)]

    def clear_journal(self) -> None:
        for shard in self._all_shards():
            with self.transaction(shard) as conn:
                conn.execute("DELETE FROM journal")

    # -- result files ----------------------------------------------------------
    # A result's row is stored once its file is rendered, or its render failed
    # (``Renders.rows`` derives the others from their task).
    def put_media(self, rows: Collection[MediaRow]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO media VALUES (?,?,?,?,?,?,?)",
                [
                    (r.video_uuid, r.task_uuid, r.result_index, r.file_name, r.content_type,
                     r.expires_at, r.error)
                    for r in rows
                ],
            )  # fmt: skip

    def media(self, video_uuid: str) -> MediaRow | None:
        """The stored row of one result video (expired or not: the caller decides)."""
        row = self._first_row("SELECT * FROM media WHERE video_uuid = ?", (video_uuid,))
        return MediaRow(*row) if row is not None else None

    def media_for_task(self, task_uuid: str) -> list[MediaRow]:
        """Stored rows of a task's results, from every shard (each process stores
        the rows of the files it rendered)."""
        rows = self._rows_of_all("SELECT * FROM media WHERE task_uuid = ?", (task_uuid,))
        return sorted((MediaRow(*row) for row in rows), key=lambda row: row.result_index)

    def purge_expired_media(self, *, now: float) -> list[str]:
        """Delete expired rows; returns the file names no live row still uses."""
        names: set[str] = set()
        shards = self._all_shards()
        for shard in shards:
            with self.transaction(shard) as conn:
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
            with self._reading(shard) as conn:
                names.difference_update(
                    r[0]
                    for r in conn.execute(
                        f"SELECT file_name FROM media WHERE file_name IN ({marks})", tuple(names)
                    )
                )
        return sorted(names)

    def media_file_in_use(self, file_name: str, *, now: float) -> bool:
        found = self._first_row(
            "SELECT 1 FROM media WHERE file_name = ? AND expires_at > ? LIMIT 1", (file_name, now)
        )
        return found is not None

    # -- deliveries ------------------------------------------------------------
    def add_deliveries(self, rows: Collection[NewDelivery]) -> None:
        with self._write() as conn:
            index = self._own_shard().index
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

    def has_pending_deliveries(self) -> bool:
        return (
            self._first_row("SELECT 1 FROM deliveries WHERE state = 'pending' LIMIT 1", ())
            is not None
        )

    def claim_deliveries(
        self, owner: str, *, now: float, wall: float, lease: float, limit: int
    ) -> list[DeliveryRow]:
        """Lease up to ``limit`` due deliveries to ``owner``, atomically.

        A webhook waits while an upload of the same result is still pending:
        the file is PUT before the result is announced (both are in one shard).
        """
        claimed: list[DeliveryRow] = []
        for shard in self._all_shards():
            if len(claimed) >= limit:
                break
            if not self._due_in(shard, now, wall):
                continue  # a read first: no write lock on shards with nothing due
            with self.transaction(shard) as conn:
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

    def _due_in(self, shard: _Shard, now: float, wall: float) -> bool:
        with self._reading(shard) as conn:
            row = conn.execute(
                "SELECT 1 FROM deliveries WHERE state = 'pending' AND due_at <= ? "
                "AND (lease_until IS NULL OR lease_until < ?) LIMIT 1",
                (now, wall),
            ).fetchone()
        return row is not None

    def release_delivery(self, delivery_id: int, owner: str) -> None:
        """Give a lease back without an attempt (its file is not rendered yet)."""
        shard = self._shard_of(delivery_id)
        if shard is None:
            return
        with self.transaction(shard) as conn:
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
        shard = self._shard_of(delivery_id)
        if shard is None:
            return
        with self.transaction(shard) as conn:
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

    def deliveries(self, *, task_uuid: str | None = None) -> list[DeliveryRow]:
        where, args = ("WHERE task_uuid = ?", (task_uuid,)) if task_uuid else ("", ())
        rows = self._rows_of_all(f"SELECT * FROM deliveries {where}", args)
        return sorted((DeliveryRow(*row) for row in rows), key=lambda d: (d.created_at, d.id))

    def delivery_attempts(self, *, task_uuid: str | None = None) -> list[AttemptRow]:
        where, args = ("WHERE d.task_uuid = ?", (task_uuid,)) if task_uuid else ("", ())
        rows = self._rows_of_all(
            "SELECT a.id, a.delivery_id, d.task_uuid, d.result_index, d.kind, d.url, "
            "a.attempt, a.at, a.status, a.error, a.outcome FROM delivery_attempts AS a "
            f"JOIN deliveries AS d ON d.id = a.delivery_id {where}",
            args,
        )
        return sorted((AttemptRow(*row) for row in rows), key=lambda a: (a.at, a.id))


class _Reading:
    """``with store._reading(shard) as conn``: a counted use of this thread's connection.

    A class, not a generator: it runs several times per request.
    """

    __slots__ = ("_shard", "_store")

    def __init__(self, store: TaskStore, shard: _Shard) -> None:
        self._store = store
        self._shard = shard

    def __enter__(self) -> sqlite3.Connection:
        self._store._begin_use()
        try:
            return self._store._conn(self._shard)
        except BaseException:
            self._store._end_use()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self._store._end_use()


def _next_id(table: str) -> str:
    """SQL for the next id in ``table`` of the shard given as a parameter: the ids
    of shard k are k modulo SHARD_LIMIT, so an id names its shard."""
    return f"(COALESCE((SELECT MAX(id) FROM {table}), 0) / {SHARD_LIMIT} + 1) * {SHARD_LIMIT} + ?"


def _write_schema(conn: sqlite3.Connection, *, description: str = "the database") -> None:
    """Create the tables (if missing) and check or record the schema version."""
    for statement in _SCHEMA:
        conn.execute(statement)
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is None:
        conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
    elif row[0] in _UPGRADABLE:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
    elif row[0] != SCHEMA_VERSION:
        raise StoreError(
            f"{description} has schema version {row[0]}, this ltxmock uses "
            f"{SCHEMA_VERSION}; point --data-dir at a new directory"
        )


def _task(row: tuple[Any, ...]) -> TaskRecord:
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


def _fault(row: tuple[Any, ...]) -> Fault:
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


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    entry_id, at, transport, method, path, status, fault, request, response = row
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
    )
