"""Deferred results, written to the store off the request path.

A result the render backlog had no room for is reported done at its latency
(its file rendered on demand): every process learns that from its stored
media row. Writing that row in the submit's own turn of the event loop cost
a store transaction per request, more than the submit itself, so rows are
queued here and written by one thread, many per transaction (what
arrived within ``GATHER_SECONDS``). Until written,
this process answers from the queue (``get``); another process that polls
within those milliseconds finds no row and kicks (or defers) the render
itself, which is harmless. The queue is bounded: beyond ``MAX_QUEUED`` rows
the caller writes them itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from .ports import Store
from .records import MediaRow

log = logging.getLogger("ltxmock.server")

MAX_QUEUED = 10_000
# The thread gathers this long before it writes: under a submit load a write per
# wake-up would take the store's write lock from the event loop's own commits.
GATHER_SECONDS = 0.05


class Deferrals:
    """Rows of deferred results on their way to the store (thread-safe)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queued: dict[str, MediaRow] = {}  # by videoUUID
        self._wake = threading.Condition()
        self._writing = threading.Lock()  # one batch at a time, in order
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, rows: Iterable[MediaRow]) -> None:
        with self._wake:
            idle = not self._queued  # the thread waits for a first row, then gathers
            for row in rows:
                self._queued[row.video_uuid.lower()] = row
            full = len(self._queued) > MAX_QUEUED or self._closed
            if not full:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="ltxmock-deferrals", daemon=True
                    )
                    self._thread.start()
                if idle:
                    self._wake.notify()
        if full:  # back-pressure (or closing): the caller writes
            self.flush()

    def get(self, video_uuid: str) -> MediaRow | None:
        """A queued row not written yet (this process's view of it)."""
        with self._wake:
            return self._queued.get(video_uuid.lower())

    def flush(self) -> None:
        """Write every queued row now (one transaction)."""
        with self._writing:
            with self._wake:
                batch = list(self._queued.values())
            if not batch:
                return
            try:
                self._store.media.put(batch)
            except Exception:  # not stored: a later poll kicks (or defers) them again
                log.exception("could not record deferred renders")
            with self._wake:
                for row in batch:
                    if self._queued.get(row.video_uuid.lower()) is row:
                        del self._queued[row.video_uuid.lower()]

    def clear(self) -> None:
        """Forget the queue (after a reset: its tasks are gone)."""
        with self._wake:
            self._queued.clear()

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(5.0)
        self.flush()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queued and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                self._wake.wait(GATHER_SECONDS)  # returns early only to close
            self.flush()
