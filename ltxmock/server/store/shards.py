"""Which database files make up a file store, and which one this process writes.

A file store is sharded by process: each process claims a shard (shard 0 is
``ltxmock.sqlite3``, shard k ``ltxmock-k.sqlite3``, claimed with a flock on
``<file>.owner``) on its first write and stores the rows it creates there. So
two workers never wait for each other's commits, nor lose their page cache to
them; reads look at every shard, this process's own first. A row created
elsewhere is updated in its own shard; ids of journal entries, deliveries and
attempts carry their shard (``id % SHARD_LIMIT``).

``ShardSet`` knows only files and flocks; the engine (``engine.py``) owns it
and adds connections and transactions. They are split so that each stays
small, and so that the claim/rescan logic, the part that differs between a
file store and the in-memory one, can be read on its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from ltxmock.server.core.ports import StoreError

from .locks import WriterLock, current_pid
from .schema import write_schema

SHARD_LIMIT = 64  # database files (one per process) a store spreads over


def shard_path(database: Path, index: int) -> Path:
    """Shard 0 is the database file itself; shard k is ``<stem>-k<suffix>`` beside it."""
    if index == 0:
        return database
    return database.with_name(f"{database.stem}-{index}{database.suffix}")


def create_data_dir(database: Path) -> None:
    """The directory the database lives in, made if missing."""
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {database.parent}: {exc}") from exc


class Shard:
    """One database file of the store: its writer lock and this process's connections."""

    __slots__ = ("index", "local", "path", "writer")

    def __init__(self, index: int, path: Path | None) -> None:
        self.index = index
        self.path = path
        self.writer: AbstractContextManager[Any] = (
            WriterLock(path) if path is not None else nullcontext()
        )
        self.local = threading.local()  # .conn: this thread's connection to the file


class ShardSet:
    """The shards of one store, and the one this process claimed.

    ``prepare`` checks (and upgrades) the schema of an existing shard file this
    process claims; the engine passes its own schema transaction. The in-memory
    store has one shard, ``home``, and it is always its own.
    """

    def __init__(self, database: Path | None, *, prepare: Callable[[Shard], None]) -> None:
        self._database = database
        self._prepare = prepare
        self.home = Shard(0, database)
        self._shards: dict[int, Shard] = {0: self.home}  # replaced, never mutated
        self._dir_stamp: int | None = None  # the data dir's mtime at the last scan
        self._scanned_at = -math.inf
        self._own: Shard | None = None
        self._own_pid = -1
        self._owner_fd = -1
        self._claim_lock = threading.Lock()

    def own(self) -> Shard:
        """The shard this process writes its new rows to, claimed on first use."""
        own = self._own
        if own is not None and self._own_pid == current_pid():
            return own
        with self._claim_lock:
            own = self._own
            if own is None or self._own_pid != current_pid():
                own = self._own = self._claim()
                self._own_pid = current_pid()
            return own

    def claimed(self) -> Shard | None:
        """This process's own shard, if it claimed one yet (None after a fork)."""
        return self._own if self._own_pid == current_pid() else None

    def _claim(self) -> Shard:
        if self._database is None:
            return self.home
        if self._owner_fd >= 0:  # inherited through a fork: the parent keeps its shard
            os.close(self._owner_fd)
            self._owner_fd = -1
        for index in range(SHARD_LIMIT):
            path = shard_path(self._database, index)
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
                _create_shard_file(path)
            shard = self._at(index)
            if index and not new:  # shard 0 was checked when the store opened
                self._prepare(shard)
            return shard
        return self.home  # more processes than shards: still correct, only slower

    def _at(self, index: int) -> Shard:
        shard = self._shards.get(index)
        if shard is None:
            assert self._database is not None
            shard = Shard(index, shard_path(self._database, index))
            self._shards = {**self._shards, index: shard}
        return shard

    def all(self, rescan_after: float = 0.0) -> list[Shard]:
        """Every shard in the data dir, this process's own first; the directory is
        looked at again if the last look is older than ``rescan_after`` seconds."""
        if self._database is not None and time.monotonic() - self._scanned_at >= rescan_after:
            self._rescan()
        own = self.claimed()
        shards = list(self._shards.values())
        if own is not None and shards[0] is not own:
            shards.remove(own)
            shards.insert(0, own)
        return shards

    def _rescan(self) -> None:
        """Pick up shards other processes created since the last look."""
        assert self._database is not None
        self._scanned_at = time.monotonic()
        try:
            stamp = os.stat(self._database.parent).st_mtime_ns
            if stamp == self._dir_stamp:
                return
            names = os.listdir(self._database.parent)
        except OSError:
            return
        self._dir_stamp = stamp
        prefix, suffix = f"{self._database.stem}-", self._database.suffix
        for name in names:
            number = name[len(prefix) : len(name) - len(suffix)]
            found = name.startswith(prefix) and name.endswith(suffix) and number.isdigit()
            if found and 0 < int(number) < SHARD_LIMIT:
                self._at(int(number))

    def of_id(self, row_id: int) -> Shard | None:
        """The shard holding a journal entry, delivery or attempt with this id."""
        index = row_id % SHARD_LIMIT
        if index not in self._shards and self._database is not None:
            self._rescan()
        return self._shards.get(index)

    def release(self) -> None:
        """Forget this process's connections and give its shard back (on close)."""
        for shard in self._shards.values():
            shard.local = threading.local()
        if self._owner_fd >= 0 and self._own_pid == current_pid():
            os.close(self._owner_fd)  # the shard is free for the next process
            self._owner_fd = -1
        self._own = None


def _create_shard_file(path: Path) -> None:
    """A new shard appears complete: built under a temporary name, then renamed."""
    building = path.with_name(f".{path.name}.{current_pid()}.new")
    conn = sqlite3.connect(str(building), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        write_schema(conn)
    finally:
        conn.close()
    os.replace(building, path)
    stamp = time.time_ns()  # exact: readers rescan when the directory's mtime moves
    with contextlib.suppress(OSError):
        os.utime(path.parent, ns=(stamp, stamp))
