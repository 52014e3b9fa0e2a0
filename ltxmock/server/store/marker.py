"""The change marker: a file whose mtime moves whenever fault rules change or a reset runs.

Whether fault rules exist is asked on every request and changes rarely, and a
live task never changes except that a reset removes it: so both are cached per
process, against the mtime (set to ``time_ns`` by every committed change) of
``<database>.faults``. A process that sees the mtime move drops its caches.
In memory (one process) there is no file: ``version()`` is None and the
caches ask SQLite, or are emptied by the reset itself.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


class ChangeMarker:
    """``<database>.faults``: ``version()`` reads its mtime, ``bump()`` moves it.

    A change made inside a transaction is noted (``note_change``) and only
    published once a transaction commits (``publish``): a rolled-back change
    (``discard``) never moves the marker.
    """

    def __init__(self, database: Path | None) -> None:
        self._path = str(database) + ".faults" if database is not None else None
        self._pending = False  # a transaction changed what the marker guards
        if self._path is not None:
            self._create()

    def _create(self) -> None:
        # Made now, so that the stat on every request finds it: a missing
        # file would cost an exception each time. Its mtime is left alone.
        assert self._path is not None
        try:
            os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        except OSError:
            self._path = None  # unwritable: ask SQLite every time

    def version(self) -> int | None:
        """The marker's mtime in ns; None when there is no usable marker (ask SQLite)."""
        if self._path is None:
            return None  # in memory: one process, the query is cheap
        try:
            return os.stat(self._path).st_mtime_ns
        except FileNotFoundError:
            return 0
        except OSError:
            return None

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
        """Move the marker now."""
        if self._path is None:
            return
        stamp = time.time_ns()
        try:
            Path(self._path).touch()
            os.utime(self._path, ns=(stamp, stamp))  # exact: not the coarse clock
        except OSError:
            self._path = None  # unwritable: fall back to asking SQLite every time
