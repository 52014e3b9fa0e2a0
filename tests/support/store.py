"""Helpers of the store tests: a task's record (``record_of``), what a submit writes
(``submit``, ``journal``) and a store opened for a test (``open_on``, with the
``stores`` fixture of ``tests/server/store/conftest.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ltxmock.server.core import jsontext
from ltxmock.server.core.auth import fingerprint
from ltxmock.server.core.lifecycle import new_task
from ltxmock.server.core.records import TaskRecord
from ltxmock.server.store import SqliteStore
from support.server import API_KEY, START

DB = "ltxmock.sqlite3"


def record_of(
    task: dict[str, Any], *, now: float = START, latency: float = 0, ttl: float = 3600
) -> TaskRecord:
    return new_task(
        task,
        key_fingerprint=fingerprint(API_KEY, b"test"),
        now=now,
        latency=latency,
        default_ttl=ttl,
    )


def submit(store: SqliteStore, record: TaskRecord) -> None:
    """What a submit writes: the task and its journal entry, in one transaction."""
    with store.transaction():
        store.tasks.put(record)
        journal(store, record.task_uuid)


def journal(
    store: SqliteStore, task_uuid: str, *, keep: int = 1000, keep_bytes: int = 1 << 30, pad: int = 0
) -> int:
    """Append an entry of ``task_uuid``; the characters of text it keeps."""
    request_json = jsontext.dumps(
        [{"taskType": "videoInference", "taskUUID": task_uuid, "positivePrompt": "x" * pad}]
    )
    response_json = jsontext.dumps({"data": []})
    store.journal.append(
        at=START,
        transport="rest",
        method="POST",
        path="/v1",
        status=200,
        fault=None,
        request_json=request_json,
        response_json=response_json,
        keep=keep,
        keep_bytes=keep_bytes,
    )
    return len(request_json) + len(response_json) + len("[]")  # the headers' default


def open_on(opened: list[SqliteStore], path: Path) -> SqliteStore:
    store = SqliteStore(path)
    opened.append(store)
    return store
