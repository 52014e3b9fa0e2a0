"""Which process this is, and the lock that queues the writers of one database file."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType

# os.getpid() is a system call, and a request asks several times whether the
# store still belongs to this process (it does not after a fork): the pid is
# kept here and refreshed in a forked child.
_pid = os.getpid()


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork)


def current_pid() -> int:
    """``os.getpid()`` without the system call."""
    return _pid


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
