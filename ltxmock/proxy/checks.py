"""The proxy's checks of one exchange, and the recorder: what the checker process runs.

``Checks.run`` takes one job (a forwarded request, ``Sent``, or an upstream
answer, ``Answered``) and returns the drift it finds: openapi-core's request
check (``request-schema``) and response check (``response-schema``), and the
protocol ``Rules``; with a recorder, it writes the cassettes and downloads the
media. ``serve_checks`` is the checker process's main loop (``checker.py``
starts it and talks to it through two pipes).
"""

from __future__ import annotations

import logging
import shutil
import signal
import urllib.request
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ltxmock.server.core import jsontext
from ltxmock.server.core.cassette import MAX_OPEN_TASKS, CassetteWriter, cassette_path
from ltxmock.validators import ModelDocument

from .contract import Contract
from .drift import VIDEO_INFERENCE, Drift, Rules, tasks_of

log = logging.getLogger("ltxmock.proxy")

MEDIA_TIMEOUT = 60.0  # seconds per download
MEDIA_MAX_BYTES = 1024 * 1024 * 1024  # a larger video is not kept
MEDIA_TYPES = {"mp4", "webm", "mov"}


@dataclass(frozen=True)
class Sent:
    """A request forwarded upstream (REST body, or one WebSocket frame) and its size
    in bytes as it came (what the checker's queue counts)."""

    transport: str
    body: Any
    at: float
    size: int = 0

    def __len__(self) -> int:
        return self.size


@dataclass(frozen=True)
class Answered:
    """An upstream answer: ``request`` is what it answers (REST) or what the socket
    sent so far (WebSocket, ``None`` or a list of its tasks)."""

    transport: str
    request: Any
    status: int
    raw: bytes
    at: float

    def __len__(self) -> int:
        return len(self.raw)


@dataclass(frozen=True)
class Join:
    """A marker: answered with ``Joined(token)`` once every job before it is done."""

    token: int


@dataclass(frozen=True)
class Joined:
    token: int


@dataclass(frozen=True)
class CheckOptions:
    """What ``Checks`` does besides the checks of the answers."""

    check_requests: bool = True  # openapi-core's request check (off: the proxy gates with it)
    record_dir: Path | None = None
    record_media: bool = False


class Checks:
    """openapi-core's checks, the protocol rules and the recorder, one job at a time."""

    def __init__(self, contract: Contract, options: CheckOptions) -> None:
        self.contract = contract
        self.rules = Rules()
        self.check_requests = options.check_requests
        self.recorder = CassetteWriter(options.record_dir) if options.record_dir else None
        self.record_media = options.record_media
        self._media_done: set[str] = set()
        self._acked: OrderedDict[str, None] = OrderedDict()

    def run(self, job: Sent | Answered) -> list[Drift]:
        """The drift ``job`` shows (a bug in a check is logged, never raised)."""
        try:
            return self._sent(job) if isinstance(job, Sent) else self._answered(job)
        except Exception:  # a bug in a check must not stop the checks
            log.exception("could not check an upstream exchange")
            return []

    # -- one job -----------------------------------------------------------------
    def _sent(self, job: Sent) -> list[Drift]:
        self.rules.sent(job.body)
        drifts = []
        if self.check_requests:
            # The gate's validator passed it: openapi-core disagreeing is a
            # fault of the validator or the document, reported like drift.
            drifts = [
                Drift("request-schema", problem, job.transport, job.at)
                for problem in self.contract.check_request(job.body)
            ]
        if self.recorder is not None:
            for task in tasks_of(job.body):
                if task.get("taskType") == VIDEO_INFERENCE:
                    self.recorder.submit(task, at=job.at, transport=job.transport)
        return drifts

    def _answered(self, job: Answered) -> list[Drift]:
        ok, payload = jsontext.loads_fast(job.raw)
        drifts: list[Drift] = [
            Drift("response-schema", problem, job.transport, job.at, status=job.status)
            for problem in self.contract.check_response(job.status, job.raw)
        ]
        if ok:
            drifts += self.rules.answered(
                job.request, job.status, payload, transport=job.transport, at=job.at
            )
        if ok and self.recorder is not None and isinstance(payload, Mapping):
            self._record(job, payload)
        return drifts

    def _record(self, job: Answered, payload: Mapping[str, Any]) -> None:
        recorder = self.recorder
        assert recorder is not None
        data = [i for i in payload.get("data") or [] if isinstance(i, Mapping)]
        errors = [i for i in payload.get("errors") or [] if isinstance(i, Mapping)]
        submitted = {
            t["taskUUID"].lower()
            for t in tasks_of(job.request)
            if t.get("taskType") == VIDEO_INFERENCE and isinstance(t.get("taskUUID"), str)
        }
        if job.transport == "rest" and job.status >= 400 and submitted and not data:
            for uuid in submitted:  # a refused submit: every error is part of its answer
                recorder.add(
                    uuid, {"event": "refused", "status": job.status, "errors": errors}, at=job.at
                )
            return
        by_task: dict[str, tuple[list[Any], list[Any]]] = {}
        for item in data:
            uuid = item.get("taskUUID")
            if isinstance(uuid, str) and recorder.recording(uuid):
                by_task.setdefault(uuid, ([], []))[0].append(dict(item))
        for error in errors:
            uuid = error.get("taskUUID")
            if isinstance(uuid, str) and recorder.recording(uuid):
                by_task.setdefault(uuid, ([], []))[1].append(dict(error))
        for uuid, (items, failures) in by_task.items():
            if len(items) == 1 and "status" not in items[0] and not failures:
                self._acked[uuid.lower()] = None
                while len(self._acked) > MAX_OPEN_TASKS:
                    self._acked.popitem(last=False)
                recorder.add(
                    uuid, {"event": "ack", "status": job.status, "item": items[0]}, at=job.at
                )
            elif not items and (uuid.lower() in submitted or self._unacked(uuid)):
                recorder.add(
                    uuid, {"event": "refused", "status": job.status, "errors": failures}, at=job.at
                )
            else:
                status = (
                    job.status
                    if job.transport == "rest"
                    else (400 if failures and not items else 200)
                )
                recorder.add(
                    uuid,
                    {"event": "poll", "status": status, "data": items, "errors": failures},
                    at=job.at,
                )
                if self.record_media:
                    for item in items:
                        self._download(uuid, item, job.at)

    def _unacked(self, uuid: str) -> bool:
        return uuid.lower() not in self._acked

    def _download(self, uuid: str, item: Mapping[str, Any], at: float) -> None:
        """Keep a success item's video beside the cassette (``--record-media``)."""
        recorder = self.recorder
        video, url = item.get("videoUUID"), item.get("videoURL")
        if recorder is None or not isinstance(video, str) or not isinstance(url, str):
            return
        if video in self._media_done or cassette_path(recorder.directory, video) is None:
            return
        parts = urlsplit(url)
        ext = parts.path.rsplit(".", 1)[-1].lower()
        if parts.scheme not in ("http", "https") or ext not in MEDIA_TYPES:
            return
        if len(self._media_done) >= MAX_OPEN_TASKS:
            self._media_done.clear()  # a bound; a repeat download is harmless
        self._media_done.add(video)
        folder = recorder.directory / "media"
        folder.mkdir(exist_ok=True)
        target = folder / f"{video.lower()}.{ext}"
        partial = target.with_suffix(".part")
        try:
            with (
                urllib.request.urlopen(url, timeout=MEDIA_TIMEOUT) as answer,
                partial.open("wb") as f,
            ):
                copied = 0
                while chunk := answer.read(1 << 16):
                    copied += len(chunk)
                    if copied > MEDIA_MAX_BYTES:
                        raise ValueError(f"larger than {MEDIA_MAX_BYTES} bytes")
                    f.write(chunk)
            shutil.move(partial, target)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            log.warning("could not record the video of %s: %s", uuid, exc)
            return
        event = {"event": "media", "videoUUID": video, "file": f"media/{target.name}"}
        recorder.add(uuid, event, at=at)


def serve_checks(
    jobs: Connection, results: Connection, documents: Sequence[ModelDocument], options: CheckOptions
) -> None:
    """The checker process: run each job from ``jobs``, send drift and ``Joined`` back on
    ``results``; ``None`` (or the proxy gone) ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the proxy, which stops this
    if not logging.getLogger().handlers:
        logging.basicConfig(format="ltxmock proxy checks: %(levelname)s %(message)s")
    checks = Checks(Contract(documents), options)
    while True:
        try:
            job = jobs.recv()
        except (EOFError, OSError):
            return  # the proxy is gone
        if job is None:
            return
        if isinstance(job, Join):
            answer: Any = Joined(job.token)
        else:
            answer = checks.run(job)
            if not answer:
                continue
        try:
            results.send(answer)
        except OSError:
            return
