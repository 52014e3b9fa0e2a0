"""The checker process: the proxy's checks and recording, off the forwarding path.

The proxy forwards a request once the fast validator passes it, answers the
client as soon as the upstream does, and hands both here (``put``). The work
(``checks.Checks``: openapi-core's request and response validation, most of a
millisecond each; cassette writes; media downloads, seconds) runs in a process
of its own: on a thread of the proxy it held the interpreter lock while the
event loop waited for it (figures in bench/README.md).

``put`` only queues (bounded in jobs and in bytes): a thread sends the jobs
down a pipe, another reads the drift coming back into the ``DriftLog``. A full
queue, or a checker process that died, skips the check (counted as
``unchecked`` in the drift report), never delays or drops the client's answer.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import queue
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

from ltxmock.validators import ModelDocument

from .checks import Answered, CheckOptions, Join, Joined, Sent, serve_checks
from .drift import Drift, DriftLog

log = logging.getLogger("ltxmock.proxy")

QUEUE_LIMIT = 10_000  # jobs waiting to be sent to the checker process
QUEUE_BYTES = 256 * 1024 * 1024  # and their bodies' bytes (a body may be 4 MiB)
STOP_TIMEOUT = 5.0  # seconds the process gets to exit once told to


def _context() -> ForkServerContext:
    # forkserver: a new checker is a fork of a server that imported the checks
    # (openapi-core) once; fork itself is unsafe in this threaded process.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ltxmock.proxy.checks"])
    return context


class Checker:
    """``put`` jobs; their drift lands in ``drift``; ``join`` waits for the queued ones."""

    def __init__(
        self,
        documents: Sequence[ModelDocument],
        drift: DriftLog,
        *,
        check_requests: bool = True,
        record_dir: Path | None = None,
        record_media: bool = False,
    ) -> None:
        self.drift = drift
        options = CheckOptions(check_requests, record_dir, record_media)
        context = _context()
        jobs_out: Connection
        results_in: Connection
        jobs_in, jobs_out = context.Pipe(duplex=False)
        results_in, results_out = context.Pipe(duplex=False)
        self._process = context.Process(
            target=serve_checks,
            args=(jobs_in, results_out, list(documents), options),
            name="ltxmock-proxy-checks",
            daemon=True,
        )
        self._process.start()
        jobs_in.close()  # the child's ends: EOF reaches each side when the other goes
        results_out.close()
        self._jobs = jobs_out
        self._results = results_in
        self._queue: queue.Queue[Sent | Answered | Join | None] = queue.Queue(QUEUE_LIMIT)
        self._queued_bytes = 0
        self._tokens = itertools.count()
        self._waiting: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._alive = True
        self._sender = threading.Thread(target=self._send, name="ltxmock-proxy-jobs", daemon=True)
        self._receiver = threading.Thread(
            target=self._receive, name="ltxmock-proxy-drift", daemon=True
        )
        self._sender.start()
        self._receiver.start()

    @property
    def pid(self) -> int | None:
        """The checker process's id."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        """Whether the checker process still takes jobs."""
        return self._alive and self._process.is_alive()

    def put(self, job: Sent | Answered) -> None:
        size = len(job)
        with self._lock:
            room = self._alive and self._queued_bytes + size <= QUEUE_BYTES
            if room:
                self._queued_bytes += size
        if not room:
            self.drift.skipped()
            return
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._sent_off(size)
            self.drift.skipped()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every job queued so far is checked (tests, shutdown); False if
        that did not happen within ``timeout``."""
        token = next(self._tokens)
        done = threading.Event()
        with self._lock:
            self._waiting[token] = done
        try:
            self._queue.put(Join(token), timeout=timeout)
            return done.wait(timeout) or not self._alive
        except queue.Full:
            return False
        finally:
            with self._lock:
                self._waiting.pop(token, None)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued checks (up to ``timeout``), then stop the process."""
        if self._alive:
            self.join(timeout)
        with contextlib.suppress(queue.Full):  # then the process is killed below
            self._queue.put(None, timeout=timeout)
        self._sender.join(timeout)
        self._process.join(STOP_TIMEOUT)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(STOP_TIMEOUT)
        self._receiver.join(timeout)
        self._jobs.close()
        self._results.close()

    # -- the two threads -------------------------------------------------------------
    def _send(self) -> None:
        while True:
            job = self._queue.get()
            try:
                self._jobs.send(job)
                sent = True
            except (OSError, ValueError):  # the process is gone
                self._gone()
                sent = False
            if job is None:
                return
            if not isinstance(job, Join):
                self._sent_off(len(job))  # off the queue's bytes, sent or not
                if not sent:
                    self.drift.skipped()

    def _sent_off(self, size: int) -> None:
        with self._lock:
            self._queued_bytes -= size

    def _receive(self) -> None:
        while True:
            try:
                message: Any = self._results.recv()
            except (EOFError, OSError):
                self._process.join(1.0)  # to read its exit code
                self._gone()
                return
            if isinstance(message, Joined):
                with self._lock:
                    done = self._waiting.get(message.token)
                if done is not None:
                    done.set()
            elif isinstance(message, list):
                self.drift.add(d for d in message if isinstance(d, Drift))

    def _gone(self) -> None:
        """The process ended: wake every waiter; later jobs count as unchecked."""
        if self._alive and self._process.exitcode not in (None, 0):
            log.error("the proxy's checker process died (exit code %s)", self._process.exitcode)
        self._alive = False
        with self._lock:
            waiting = list(self._waiting.values())
        for done in waiting:
            done.set()
