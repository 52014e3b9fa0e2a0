"""Store-wide reservations of taskUUIDs: the check and the insert of a submit as one step.

Each process stores the tasks it accepts in its own shard, so "is this UUID
taken?" looks at every shard, and two processes asked for the same new UUID at
the same moment would both find it free. A reservation closes that gap: while
a process holds the UUIDs of a batch, no other process (or thread) can hold
any of them, so its look at every shard and its insert are one step.

The UUIDs fall into ``BUCKETS`` buckets (a CRC of the lower-cased UUID, the
same in every process); a bucket is one byte of ``<database>.uuids``, locked
with a POSIX record lock (``fcntl.lockf``), which the kernel releases if the
process dies. Record locks belong to a process, not a thread, so threads of
one process queue on a thread lock first. Buckets are taken in ascending
order, and before any shard's writer lock, so two holders cannot deadlock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from .locks import current_pid

BUCKETS = 4096


def bucket(task_uuid: str) -> int:
    """The bucket of a UUID: the same in every process and run."""
    return zlib.crc32(task_uuid.lower().encode("utf-8")) % BUCKETS


class Reservations:
    """``hold(uuids)``: a context in which nobody else holds any of these UUIDs."""

    def __init__(self, database: Path | None) -> None:
        self._path = database.with_name(database.name + ".uuids") if database else None
        self._thread_lock = threading.Lock()
        self._fd = -1
        self._pid = -1

    @contextmanager
    def hold(self, task_uuids: Collection[str]) -> Iterator[None]:
        if not task_uuids:
            yield
            return
        with self._thread_lock:
            fd = self._file()
            if fd < 0:  # in memory (one process), or an unwritable directory
                yield
                return
            held: list[int] = []
            try:
                for number in sorted({bucket(u) for u in task_uuids}):
                    fcntl.lockf(fd, fcntl.LOCK_EX, 1, number)
                    held.append(number)
                yield
            finally:
                for number in held:
                    fcntl.lockf(fd, fcntl.LOCK_UN, 1, number)

    def close(self) -> None:
        if self._fd >= 0 and self._pid == current_pid():
            os.close(self._fd)
        self._fd = -1

    def _file(self) -> int:
        # After a fork the parent's descriptor is shared but its locks are not ours.
        if self._path is not None and self._pid != current_pid():
            self._pid = current_pid()
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                self._fd = -1
        return self._fd
