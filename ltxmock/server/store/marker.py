"""The change marker: a counter, shared by every process of a data dir, that moves
whenever fault rules, scripts or balances change or a reset runs.

Whether fault rules exist is asked on every request and changes rarely, and a
live task never changes except that a reset removes it: so both are cached per
process, against the counter. A process that sees it move drops its caches.

The counter is 8 bytes of ``<database>.faults``, mapped into memory: reading it
is a memory read, where the file's mtime (what earlier versions used) cost a
``stat`` system call per look (``bench/README.md`` has the figures). In memory
(one process) there is no file: ``version()`` is None and the caches ask
SQLite, or are emptied by the reset itself.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from pathlib import Path

COUNTER = struct.Struct("<Q")


class ChangeMarker:
    """``<database>.faults``: ``version()`` reads the counter, ``bump()`` moves it.

    A change made inside a transaction is noted (``note_change``) and only
    published once a transaction commits (``publish``): a rolled-back change
    (``discard``) never moves the marker.
    """

    def __init__(self, database: Path | None) -> None:
        self._pending = False  # a transaction changed what the marker guards
        self._fd = -1
        self._map: mmap.mmap | None = None
        if database is not None:
            self._open(str(database) + ".faults")

    def _open(self, path: str) -> None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return  # unwritable: ask SQLite every time
        try:
            if os.fstat(fd).st_size < COUNTER.size:  # new, or an earlier version's empty file
                os.ftruncate(fd, COUNTER.size)  # zeros; growing to 8 again changes nothing
            self._map = mmap.mmap(fd, COUNTER.size)  # shared with every process mapping it
        except (OSError, ValueError):
            os.close(fd)
            return
        self._fd = fd

    def version(self) -> int | None:
        """The counter; None when there is no usable marker (ask SQLite)."""
        counter = self._map
        if counter is None:
            return None  # in memory: one process, the query is cheap
        try:
            value: int = COUNTER.unpack_from(counter)[0]
        except ValueError:  # closed meanwhile (the store is closing)
            return None
        return value

    def note_change(self) -> None:
        """Called inside the transaction that makes a change; published once it commits."""
        self._pending = True

    def discard(self) -> None:
        """The transaction rolled back: its change never happened."""
        self._pending = False

    def publish(self) -> None:
        """A transaction committed: move the marker if it made a change."""
        if self._pending:
            self._pending = False
            self.bump()

    def bump(self) -> None:
        """Move the marker now (after the change is committed, so a process that sees
        the new value and then asks SQLite sees the change)."""
        counter = self._map
        if counter is None:
            return
        # The record lock makes the increment one step across processes: two
        # changes move the counter twice.
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            COUNTER.pack_into(counter, 0, COUNTER.unpack_from(counter)[0] + 1)
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Unmap the counter; from then on ``version()`` is None (ask SQLite)."""
        counter, self._map = self._map, None
        if counter is not None:
            counter.close()
            os.close(self._fd)
            self._fd = -1
