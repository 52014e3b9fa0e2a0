"""AsgiMock, driven in-process: what ``ltxmock serve`` runs, minus the sockets.

Requests that are ready in the same turn of the event loop share one store
transaction (GroupCommit); each must still get exactly the answer it would
get alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_fixtures import API_KEY, get_response, video_task

from ltxmock.server import MockConfig, create_app
from ltxmock.server.asgi import AsgiMock, LoopSocket
from ltxmock.server.ws import SocketClosedError


def mock(tmp_path: Path, **options: Any) -> AsgiMock:
    config = MockConfig(data_dir=tmp_path, render_mode="lazy", **{"latency": 0, **options})
    return AsgiMock(create_app(config))


async def post(app: AsgiMock, body: Any) -> tuple[int, Any]:
    raw = json.dumps(body).encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {API_KEY}".encode()),
            (b"content-length", str(len(raw)).encode()),
        ],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


def together(app: AsgiMock, *bodies: Any) -> list[tuple[int, Any]]:
    async def run() -> list[tuple[int, Any]]:
        return list(await asyncio.gather(*(post(app, body) for body in bodies)))

    return asyncio.run(run())


def test_requests_ready_together_get_the_answers_they_would_get_alone(tmp_path: Path) -> None:
    app = mock(tmp_path)
    first, second = video_task(), video_task()
    clash = {**first, "positivePrompt": "another prompt, same taskUUID"}
    answers = together(app, [first], [clash], [second], [get_response(first["taskUUID"])])
    # The poll was begun before any of them was committed: concurrent, so not found.
    assert [status for status, _ in answers] == [200, 400, 200, 404]
    assert answers[1][1]["errors"][0]["code"] == "conflictTaskUUID"
    assert answers[3][1]["errors"][0]["code"] == "taskNotFound"
    now = app.service.now()
    stored = app.service.store.get_task(first["taskUUID"], now=now)
    assert stored is not None
    assert stored.params["positivePrompt"] == first["positivePrompt"]  # the clash stored nothing
    assert app.service.store.get_task(second["taskUUID"], now=now) is not None
    # one journal entry each, in the order they were begun
    assert [e.status for e in app.service.journal.entries()] == [200, 400, 200, 404]
    # and afterwards, alone, the poll finds the task
    assert together(app, [get_response(first["taskUUID"])])[0][0] == 200


def test_a_task_rolled_back_in_a_group_is_still_new_to_the_requests_after_it(
    tmp_path: Path,
) -> None:
    # The group asks the store about all its taskUUIDs at once, then tracks
    # what each request stores; a refused request must take its tasks back.
    app = mock(tmp_path)
    known = video_task()
    assert together(app, [known])[0][0] == 200
    first_stored = app.service.store.get_task(known["taskUUID"], now=app.service.now())
    fresh = video_task()
    clash = {**known, "positivePrompt": "another prompt, same taskUUID"}
    answers = together(app, [fresh, clash], [fresh], [fresh], [known])
    assert [status for status, _ in answers] == [400, 200, 200, 200]
    assert [item["taskUUID"] for item in answers[1][1]["data"]] == [fresh["taskUUID"]]
    now = app.service.now()
    assert app.service.store.get_task(fresh["taskUUID"], now=now) is not None
    assert app.service.store.count_tasks(now=now) == 2  # known and fresh, each once
    assert app.service.store.get_task(known["taskUUID"], now=now) == first_stored  # acked, kept


def test_a_failed_group_transaction_stores_nothing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = mock(tmp_path)
    known = video_task()
    assert together(app, [known])[0][0] == 200

    @contextlib.contextmanager
    def unwritable() -> Iterator[None]:
        raise OSError("disk full")
        yield  # pragma: no cover

    monkeypatch.setattr(app.service.store, "transaction", unwritable)
    task = video_task()
    (submit, poll) = together(app, [task], [get_response(known["taskUUID"])])
    assert submit[0] == 500
    assert submit[1]["errors"][0]["code"] == "internalServerError"
    assert poll[0] == 200  # a read-only answer stands without its journal entry
    monkeypatch.undo()
    assert app.service.store.get_task(task["taskUUID"], now=app.service.now()) is None


def test_a_loop_socket_gives_up_on_a_peer_that_stopped_reading() -> None:
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    stalled = asyncio.Event()  # never set: the peer never drains its buffer

    async def send(_: Any) -> None:
        await stalled.wait()

    sock = LoopSocket(loop, send, send_timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(SocketClosedError, match="stopped reading"):
            sock.send("a frame")
        assert 0.2 <= time.monotonic() - started < 2
        assert not sock.connected
        with pytest.raises(SocketClosedError):
            sock.send("another")
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(2)
        loop.run_until_complete(asyncio.sleep(0.01))  # let the cancelled send finish
        loop.close()


def test_a_loop_socket_hands_messages_over_then_reports_the_close() -> None:
    async def send(_: Any) -> None:
        return None

    sock = LoopSocket(asyncio.new_event_loop(), send, send_timeout=1)
    assert sock.receive(timeout=0.01) is None
    sock.deliver("[1]")
    sock.deliver(b"[2]")
    assert [sock.receive(timeout=1), sock.receive(timeout=1)] == ["[1]", b"[2]"]
    sock.disconnected()
    for _ in range(2):  # and it stays closed
        with pytest.raises(SocketClosedError):
            sock.receive(timeout=1)
