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

import struct
from pathlib import Path

from .mapped_file import MappedFile

COUNTER = struct.Struct("<Q")


class ChangeMarker:
    """``<database>.faults``: ``version()`` reads the counter, ``bump()`` moves it.

    A change made inside a transaction is noted (``note_change``) and only
    published once a transaction commits (``publish``): a rolled-back change
    (``discard``) never moves the marker.
    """

    def __init__(self, database: Path | None) -> None:
        self._pending = False  # a transaction changed what the marker guards
        # None in memory, or in an unwritable data dir: the caches ask SQLite every time.
        self._file: MappedFile | None = None
        if database is not None:
            self._file = MappedFile.open(str(database) + ".faults", COUNTER.size)

    def version(self) -> int | None:
        """The counter; None when there is no usable marker (ask SQLite)."""
        file = self._file
        if file is None:
            return None  # in memory: one process, the query is cheap
        try:
            value: int = COUNTER.unpack_from(file.map)[0]
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
        file = self._file
        if file is None:
            return
        # The lock makes the increment one step across processes: two changes
        # move the counter twice.
        with file.locked():
            COUNTER.pack_into(file.map, 0, COUNTER.unpack_from(file.map)[0] + 1)

    def close(self) -> None:
        """Unmap the counter; from then on ``version()`` is None (ask SQLite)."""
        file, self._file = self._file, None
        if file is not None:
            file.close()
