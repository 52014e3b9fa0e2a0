"""Checks and recording, off the response path: one thread, one bounded queue.

The proxy answers the client first and hands the exchange here: openapi-core's
response validation costs about half a millisecond, a cassette write a file
append, a media download seconds. A full queue drops the check (counted as
``unchecked`` in the drift report), never the client's answer.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ltxmock.server.core import jsontext

from .cassette import MAX_OPEN_TASKS, CassetteWriter, cassette_path
from .contract import Contract
from .drift import VIDEO_INFERENCE, Drift, DriftLog, Rules

log = logging.getLogger("ltxmock.proxy")

QUEUE_LIMIT = 10_000
MEDIA_TIMEOUT = 60.0  # seconds per download
MEDIA_MAX_BYTES = 1024 * 1024 * 1024  # a larger video is not kept
MEDIA_TYPES = {"mp4", "webm", "mov"}


@dataclass(frozen=True)
class Sent:
    """A request forwarded upstream (REST body, or one WebSocket frame)."""

    transport: str
    body: Any
    at: float


@dataclass(frozen=True)
class Answered:
    """An upstream answer: ``request`` is what it answers (REST) or what the socket
    sent so far (WebSocket, ``None`` or a list of its tasks)."""

    transport: str
    request: Any
    status: int
    raw: bytes
    at: float


class Checker:
    """Runs ``contract``'s and ``Rules``' checks and the recorder on a thread of its own."""

    def __init__(
        self,
        contract: Contract,
        drift: DriftLog,
        *,
        record_dir: Path | None = None,
        record_media: bool = False,
    ) -> None:
        self.contract = contract
        self.drift = drift
        self.rules = Rules()
        self.recorder = CassetteWriter(record_dir) if record_dir is not None else None
        self.record_media = record_media
        self._media_done: set[str] = set()
        self._acked: OrderedDict[str, None] = OrderedDict()
        self._queue: queue.Queue[Sent | Answered | threading.Event] = queue.Queue(QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name="ltxmock-proxy-checks", daemon=True)
        self._thread.start()

    def put(self, job: Sent | Answered) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.drift.unchecked += 1

    def join(self, timeout: float | None = None) -> None:
        """Wait until every job queued so far is done (tests, shutdown)."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)  # set by the thread when it gets there
        except queue.Full:
            return
        done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if isinstance(job, threading.Event):
                job.set()
                continue
            try:
                if isinstance(job, Sent):
                    self._sent(job)
                else:
                    self._answered(job)
            except Exception:  # a bug in a check must not stop the checks
                log.exception("could not check an upstream exchange")

    # -- one job -----------------------------------------------------------------
    def _sent(self, job: Sent) -> None:
        self.rules.sent(job.body)
        if self.recorder is None:
            return
        for task in _tasks(job.body):
            if task.get("taskType") == VIDEO_INFERENCE:
                self.recorder.submit(task, at=job.at, transport=job.transport)

    def _answered(self, job: Answered) -> None:
        ok, payload = jsontext.loads_fast(job.raw)
        drifts: list[Drift] = [
            Drift("response-schema", problem, job.transport, job.at, status=job.status)
            for problem in self.contract.check_response(job.status, job.raw)
        ]
        if ok:
            drifts += self.rules.answered(
                job.request, job.status, payload, transport=job.transport, at=job.at
            )
        self.drift.add(drifts)
        if ok and self.recorder is not None and isinstance(payload, Mapping):
            self._record(job, payload)

    def _record(self, job: Answered, payload: Mapping[str, Any]) -> None:
        recorder = self.recorder
        assert recorder is not None
        data = [i for i in payload.get("data") or [] if isinstance(i, Mapping)]
        errors = [i for i in payload.get("errors") or [] if isinstance(i, Mapping)]
        submitted = {
            t["taskUUID"].lower()
            for t in _tasks(job.request)
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


def _tasks(body: Any) -> list[Mapping[str, Any]]:
    if isinstance(body, Mapping):
        body = [body]
    return [t for t in body if isinstance(t, Mapping)] if isinstance(body, list) else []
