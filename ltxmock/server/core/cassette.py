"""The cassette format: one JSON Lines file per recorded task, written by the proxy's
``--record DIR`` (``proxy.checks``) and read back by ``ltxmock serve --replay DIR``
(``replay``). It lives in the protocol core, which the proxy builds on.

``DIR/<taskUUID>.jsonl``, one event a line, times in seconds from the submit::

    {"event": "submit", "format": "ltxmock-cassette/1", "t": 0, "transport": "rest", "task": {...}}
    {"event": "ack", "t": 0.004, "status": 200, "item": {"taskType": ..., "taskUUID": ...}}
    {"event": "poll", "t": 1.02, "status": 200, "data": [...], "errors": []}
    {"event": "refused", "t": 0.003, "status": 400, "errors": [...]}
    {"event": "media", "videoUUID": "...", "file": "media/<videoUUID>.mp4"}

``data``/``errors`` hold only the items of this task. Nothing secret is kept:
``apiKey`` members (at any depth) are redacted as in the request journal, and
the query string of every URL (presigned upload and download links, webhook
tokens) becomes ``?[redacted]``. A task is matched at replay by its redacted
parameters without ``taskUUID``, so the caller's task goes through the same
redaction first (``match_key``). The submit line's ``task`` keeps strings over
2 KiB shortened, as the journal does; its ``match`` is the SHA-256 of the
whole redacted parameters, so long prompts that differ late still match apart
(a cassette written before ``match`` is matched by its ``task``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .journal import redact

FORMAT = "ltxmock-cassette/1"
QUERY_REDACTED = "?[redacted]"
MAX_OPEN_TASKS = 10_000  # tasks whose file is remembered by the writer (oldest forgotten)
MAX_CASSETTE_BYTES = 16 * 1024 * 1024  # a larger file is skipped at load (not a recording)
_URL_QUERY = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^?#\s]*)\?[^#\s]*")
_NAME = re.compile(r"^[0-9a-fA-F-]{36}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def redact_value(value: Any, *, shorten: bool = True) -> Any:
    """A copy safe to write: API keys hidden, URL query strings dropped (and strings
    over 2 KiB shortened, unless ``shorten`` is False)."""
    return _drop_queries(redact(value, shorten=shorten))


def _drop_queries(value: Any) -> Any:
    if isinstance(value, str):
        return _URL_QUERY.sub(lambda m: m.group(1) + QUERY_REDACTED, value, count=1)
    if isinstance(value, list):
        return [_drop_queries(item) for item in value]
    if isinstance(value, dict):
        return {key: _drop_queries(item) for key, item in value.items()}
    return value


def match_key(task: Mapping[str, Any]) -> str:
    """What a recorded and a live task must share: the SHA-256 of their redacted
    parameters, taskUUID aside, every string whole."""
    params = {k: v for k, v in task.items() if k != "taskUUID"}
    text = json.dumps(redact_value(params, shorten=False), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cassette_path(directory: Path, task_uuid: str) -> Path | None:
    """``DIR/<taskUUID>.jsonl``, or None for a taskUUID that is no safe file name."""
    if not _NAME.match(task_uuid):
        return None
    return directory / f"{task_uuid.lower()}.jsonl"


class CassetteWriter:
    """Appends events to the cassettes of ``directory`` (one thread or many)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._started: OrderedDict[str, float] = OrderedDict()  # taskUUID -> submit time
        self._lock = threading.Lock()

    def submit(self, task: Mapping[str, Any], *, at: float, transport: str) -> bool:
        """Start the cassette of a submitted task (a resubmitted one starts afresh)."""
        uuid = task.get("taskUUID")
        path = cassette_path(self.directory, uuid) if isinstance(uuid, str) else None
        if path is None or not isinstance(uuid, str):
            return False
        event = {
            "event": "submit",
            "format": FORMAT,
            "t": 0,
            "transport": transport,
            "task": redact_value(dict(task)),
            "match": match_key(task),
        }
        with self._lock:
            self._started[uuid.lower()] = at
            self._started.move_to_end(uuid.lower())
            while len(self._started) > MAX_OPEN_TASKS:
                self._started.popitem(last=False)
            with path.open("w", encoding="utf-8") as f:
                _write(f, event)
        return True

    def recording(self, task_uuid: str) -> bool:
        return task_uuid.lower() in self._started

    def add(self, task_uuid: str, event: dict[str, Any], *, at: float) -> None:
        """Append ``event`` (``t`` is set here) to a task started by ``submit``."""
        with self._lock:
            started = self._started.get(task_uuid.lower())
            path = cassette_path(self.directory, task_uuid)
            if started is None or path is None:
                return
            line = {"event": event["event"], "t": round(max(0.0, at - started), 4)}
            line.update(redact_value({k: v for k, v in event.items() if k != "event"}))
            with path.open("a", encoding="utf-8") as f:
                _write(f, line)


def _write(f: TextIO, event: Mapping[str, Any]) -> None:
    f.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")


@dataclass
class Cassette:
    """One recorded task, as replay needs it."""

    task_uuid: str
    task: dict[str, Any]
    source: Path
    match: str  # ``match_key`` of the recorded task
    ack: dict[str, Any] | None = None
    refused: dict[str, Any] | None = None  # {"status", "errors"}
    polls: list[dict[str, Any]] = field(default_factory=list)  # {"t", "status", "data", "errors"}
    media: dict[str, Path] = field(default_factory=dict)  # videoUUID -> file


def read_cassette(path: Path) -> Cassette | None:
    """The cassette in ``path``, or None if it is not one (or holds no answer)."""
    try:
        if path.stat().st_size > MAX_CASSETTE_BYTES:
            return None
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    events = list(_events(lines))
    if not events or events[0].get("event") != "submit" or events[0].get("format") != FORMAT:
        return None
    task = events[0].get("task")
    if not isinstance(task, dict) or not isinstance(task.get("taskUUID"), str):
        return None
    match = events[0].get("match")
    if not (isinstance(match, str) and _DIGEST.match(match)):
        match = match_key(task)  # written before ``match``: its task, as it was kept
    found = Cassette(task_uuid=task["taskUUID"], task=task, source=path, match=match)
    for event in events[1:]:
        kind = event.get("event")
        if kind == "ack" and isinstance(event.get("item"), dict):
            found.ack = event["item"]
        elif kind == "refused" and isinstance(event.get("errors"), list):
            found.refused = {"status": _status(event, 400), "errors": event["errors"]}
        elif kind == "poll":
            found.polls.append(
                {
                    "t": float(event.get("t") or 0),
                    "status": _status(event, 200),
                    "data": [i for i in event.get("data") or [] if isinstance(i, dict)],
                    "errors": [i for i in event.get("errors") or [] if isinstance(i, dict)],
                }
            )
        elif kind == "media":
            media = _media_file(path.parent, event)
            if media is not None:
                found.media[media[0]] = media[1]
    if found.ack is None and found.refused is None:
        return None
    return found


def _events(lines: list[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash: the rest still replays
        if isinstance(event, dict):
            yield event


def _status(event: Mapping[str, Any], default: int) -> int:
    status = event.get("status")
    return status if isinstance(status, int) and 100 <= status <= 599 else default


def _media_file(directory: Path, event: Mapping[str, Any]) -> tuple[str, Path] | None:
    video, name = event.get("videoUUID"), event.get("file")
    if not isinstance(video, str) or not isinstance(name, str):
        return None
    path = (directory / name).resolve()
    # Only a file of the cassette folder's media/ directory, never a path out of it.
    if path.parent != (directory / "media").resolve() or not path.is_file():
        return None
    return video, path


def load_cassettes(directory: Path) -> list[Cassette]:
    """Every cassette in ``directory`` (not recursive), oldest file first."""
    files = sorted(directory.glob("*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name))
    return [c for c in (read_cassette(p) for p in files) if c is not None]
