"""Replay: answer requests from the proxy's cassettes (``ltxmock serve --replay DIR``).

A submit whose parameters (taskUUID aside, redacted as the recorder redacts)
match a recorded task is answered with that task's recorded acknowledgement
(or its recorded refusal), and the caller's later polls get the recorded
polls in their recorded rhythm: the last poll recorded at or before the time
since the submit, times ``replay_speed``. Every taskUUID in the answers is
the caller's; a recorded video file (``--record-media``) is served at
``/replay/media/<file>``. A request with anything the cassettes do not know
is left to the normal mock (``answer`` returns None), or, with
``replay_strict``, refused with a 400 ``replayNoMatch`` per unknown task.
Only requests the mock would admit (a key it accepts, a valid body) are
replayed; the others get the mock's own refusal.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltxmock.validators import RequestValidator

from .auth import AUTHENTICATION, authenticate
from .cassette import Cassette, load_cassettes, match_key
from .errors import ApiError, ErrorItem, error_item
from .reply import Reply
from .request import ApiRequest

MEDIA_ROUTE = "/replay/media"
MAX_PLAYING = 10_000  # caller tasks being replayed (oldest forgotten)
PING, GET_RESPONSE, VIDEO_INFERENCE = "ping", "getResponse", "videoInference"
REPLAY_DOCS = "https://runware.ai/docs/en/getting-started/how-to-connect"


@dataclass(frozen=True)
class _Playing:
    cassette: Cassette
    started: float
    task_uuid: str  # the caller's


class Replay:
    """The cassettes of one folder, and the caller tasks replaying them."""

    def __init__(
        self,
        directory: Path,
        *,
        speed: float,
        strict: bool,
        api_keys: tuple[str, ...],
        validator: Callable[[], RequestValidator],
    ) -> None:
        self.directory = directory
        self.speed = speed
        self.strict = strict
        self._api_keys = api_keys
        self._validator = validator
        self.cassettes = load_cassettes(directory)
        # The newest recording of the same parameters wins.
        self._by_params = {c.match: c for c in self.cassettes}
        self._media = {p.name: p for c in self.cassettes for p in c.media.values()}
        self._playing: OrderedDict[str, _Playing] = OrderedDict()
        self._lock = threading.Lock()

    def media_file(self, name: str) -> Path | None:
        """A recorded video by file name (only those the cassettes list)."""
        return self._media.get(name)

    def answer(self, request: ApiRequest, at: float) -> Reply | None:
        body = request.body
        if request.refusal is not None or not isinstance(body, list):
            return None
        if isinstance(authenticate(body, request.api_key, self._api_keys), ApiError):
            return None
        if not self._validator().is_valid(body):
            return None
        tasks = [t for t in body if t.get("taskType") not in (AUTHENTICATION, PING)]
        if not tasks:
            return None
        with self._lock:
            unknown = [t for t in tasks if not self._known(t)]
            if unknown:
                return self._refuse(unknown) if self.strict else None
            return self._play(body, tasks, at, request.base_url)

    def _known(self, task: Mapping[str, Any]) -> bool:
        if task.get("taskType") == VIDEO_INFERENCE:
            return match_key(task) in self._by_params
        if task.get("taskType") == GET_RESPONSE:
            return str(task.get("taskUUID")).lower() in self._playing
        return False

    def _refuse(self, unknown: list[Mapping[str, Any]]) -> Reply:
        items = [
            error_item(
                "replayNoMatch",
                f"ltxmock serve --replay --replay-strict: no cassette in {self.directory} "
                + (
                    "records a task with these parameters"
                    if task.get("taskType") == VIDEO_INFERENCE
                    else "is being replayed for this taskUUID"
                ),
                documentation=REPLAY_DOCS,
                task_uuid=str(task.get("taskUUID")),
                task_type=str(task.get("taskType")),
            )
            for task in unknown
        ]
        return Reply.envelope([], items, status=400)

    def _play(
        self, body: list[Any], tasks: list[Mapping[str, Any]], at: float, base_url: str
    ) -> Reply:
        data: list[dict[str, Any]] = []
        errors: list[ErrorItem] = []
        statuses: list[int] = []
        for task in body:
            if task.get("taskType") == PING:
                data.append({"taskType": PING, "pong": True, **_uuid_of(task)})
        for task in tasks:
            caller = str(task["taskUUID"])
            if task["taskType"] == VIDEO_INFERENCE:
                cassette = self._by_params[match_key(task)]
                if cassette.refused is not None:
                    statuses.append(cassette.refused["status"])
                    errors += _rewrite(cassette.refused["errors"], cassette.task_uuid, caller)
                    continue
                self._start(cassette, caller, at)
                data += _rewrite([cassette.ack or {}], cassette.task_uuid, caller)
                statuses.append(200)
            else:
                playing = self._playing[caller.lower()]
                status, items, failures = self._poll(playing, at, base_url)
                statuses.append(status)
                data += items
                errors += failures
        status = next((s for s in statuses if s != 200), 200)
        return Reply.envelope(data, errors, status=status)

    def _start(self, cassette: Cassette, caller: str, at: float) -> None:
        key = caller.lower()
        if key in self._playing:  # a retried submit keeps its clock, as the mock does
            return
        self._playing[key] = _Playing(cassette, at, caller)
        while len(self._playing) > MAX_PLAYING:
            self._playing.popitem(last=False)

    def _poll(
        self, playing: _Playing, at: float, base_url: str
    ) -> tuple[int, list[dict[str, Any]], list[ErrorItem]]:
        cassette = playing.cassette
        elapsed = (at - playing.started) * self.speed
        polls = cassette.polls
        if not polls:  # acknowledged, never polled while recording: still processing
            return 200, [_processing(cassette.task, playing.task_uuid)], []
        reached = [p for p in polls if p["t"] <= elapsed]
        if not reached:
            first = polls[0]
            if any(i.get("status") == "processing" for i in first["data"]):
                reached = [first]  # the recording was polled later than this: same state
            else:
                return 200, [_processing(cassette.task, playing.task_uuid)], []
        poll = reached[-1]
        items = _rewrite(poll["data"], cassette.task_uuid, playing.task_uuid)
        for item in items:
            video = item.get("videoUUID")
            media = cassette.media.get(video) if isinstance(video, str) else None
            if media is not None and "videoURL" in item:
                item["videoURL"] = f"{base_url}{MEDIA_ROUTE}/{media.name}"
        failures = _rewrite(poll["errors"], cassette.task_uuid, playing.task_uuid)
        return poll["status"], items, failures


def _uuid_of(task: Mapping[str, Any]) -> dict[str, Any]:
    uuid = task.get("taskUUID")
    return {"taskUUID": uuid} if isinstance(uuid, str) else {}


def _processing(task: Mapping[str, Any], caller: str) -> dict[str, Any]:
    return {
        "taskType": task.get("taskType", VIDEO_INFERENCE),
        "taskUUID": caller,
        "status": "processing",
    }


def _rewrite(items: list[Any], recorded: str, caller: str) -> list[Any]:
    """Copies of ``items`` with the recorded taskUUID replaced by the caller's."""
    out = []
    for item in items:
        copy = dict(item)
        uuid = copy.get("taskUUID")
        if isinstance(uuid, str) and uuid.lower() == recorded.lower():
            copy["taskUUID"] = caller
        out.append(copy)
    return out
