"""AsgiMock, driven in-process: what ``ltxmock serve`` runs, minus the sockets.

Requests that arrive within a few turns of the event loop share one store
transaction (GroupCommit over ``service.handle_batch``); each must still get
exactly the answer it would get alone. ``handle_batch`` on its own is
tests/server/core/test_batch.py.
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
from support.server import API_KEY, asgi_request, get_response, video_task

from ltxmock.server import MockConfig, create_app
from ltxmock.server.core.channel import SocketClosedError
from ltxmock.server.serve.asgi import AsgiMock
from ltxmock.server.serve.loop_socket import INBOX_MESSAGES, LoopSocket


def mock(tmp_path: Path, **options: Any) -> AsgiMock:
    config = MockConfig(data_dir=tmp_path, render_mode="lazy", **{"latency": 0, **options})
    return AsgiMock(create_app(config))


async def post(app: AsgiMock, body: Any) -> tuple[int, Any]:
    raw = json.dumps(body).encode()
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {API_KEY}",
        "content-length": str(len(raw)),
    }
    answer = await asgi_request(app, headers=headers, body=raw)
    return answer.status, json.loads(answer.body)


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
    stored = app.service.store.tasks.get(first["taskUUID"], now=now)
    assert stored is not None
    assert stored.params["positivePrompt"] == first["positivePrompt"]  # the clash stored nothing
    assert app.service.store.tasks.get(second["taskUUID"], now=now) is not None
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
    first_stored = app.service.store.tasks.get(known["taskUUID"], now=app.service.now())
    fresh = video_task()
    clash = {**known, "positivePrompt": "another prompt, same taskUUID"}
    answers = together(app, [fresh, clash], [fresh], [fresh], [known])
    assert [status for status, _ in answers] == [400, 200, 200, 200]
    assert [item["taskUUID"] for item in answers[1][1]["data"]] == [fresh["taskUUID"]]
    now = app.service.now()
    assert app.service.store.tasks.get(fresh["taskUUID"], now=now) is not None
    assert app.service.store.tasks.count(now=now) == 2  # known and fresh, each once
    assert app.service.store.tasks.get(known["taskUUID"], now=now) == first_stored  # acked, kept


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
    assert app.service.store.tasks.get(task["taskUUID"], now=app.service.now()) is None


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

    loop = asyncio.new_event_loop()
    sock = LoopSocket(loop, send, send_timeout=1)
    assert sock.receive(timeout=0.01) is None
    loop.run_until_complete(sock.deliver("[1]"))
    loop.run_until_complete(sock.deliver(b"[2]"))
    assert [sock.receive(timeout=1), sock.receive(timeout=1)] == ["[1]", b"[2]"]
    sock.disconnected()
    for _ in range(2):  # and it stays closed
        with pytest.raises(SocketClosedError):
            sock.receive(timeout=1)


def test_a_full_loop_socket_inbox_makes_the_reader_of_the_socket_wait() -> None:
    """Bounded: past INBOX_MESSAGES unhandled frames the loop stops reading this socket
    (TCP then pushes back on the peer) until the channel takes one."""

    async def send(_: Any) -> None:
        return None

    async def flood(sock: LoopSocket) -> bool:
        for i in range(INBOX_MESSAGES):
            await sock.deliver(f"[{i}]")
        one_more = asyncio.ensure_future(sock.deliver("[last]"))
        await asyncio.sleep(0.05)
        waited = not one_more.done()
        await asyncio.to_thread(sock.receive, 1)  # the channel takes one: room again
        await asyncio.wait_for(one_more, 5)
        return waited

    loop = asyncio.new_event_loop()
    sock = LoopSocket(loop, send, send_timeout=1)
    assert loop.run_until_complete(flood(sock))
    taken = [sock.receive(timeout=1) for _ in range(INBOX_MESSAGES)]
    assert taken[-1] == "[last]"
    loop.close()


# -- the app's own routes ----------------------------------------------------------


def test_other_http_requests_go_to_the_flask_app(tmp_path: Path) -> None:
    app = mock(tmp_path)
    health = asyncio.run(asgi_request(app, method="GET", path="/__ltxmock/health"))
    assert (health.status, json.loads(health.body)["status"]) == (200, "ok")
    missing = asyncio.run(asgi_request(app, method="GET", path="/v1"))
    assert (missing.status, missing.headers["content-type"]) == (405, "application/json")


def test_a_chunked_body_is_read_only_until_it_is_too_large(tmp_path: Path) -> None:
    app = mock(tmp_path, max_body_bytes=1000)
    chunks = [b"[" + b" " * 399] * 10  # 4000 bytes, no declared length
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1",
        "headers": [(b"content-type", b"application/json"), (b"host", b"h")],
    }
    asyncio.run(app(scope, receive, send))
    assert read == 3  # 1200 bytes: enough to refuse, the rest never read
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["errors"][0]["code"] == "payloadTooLarge"
    [entry] = app.service.journal.entries()
    assert entry.status == 413


def test_a_client_that_leaves_before_its_body_gets_no_answer(tmp_path: Path) -> None:
    app = mock(tmp_path)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1", "headers": []}
    asyncio.run(app(scope, receive, send))
    assert sent == []
    assert app.service.journal.entries() == []


def test_a_crash_on_post_is_a_json_500_with_the_traceback_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    app = mock(tmp_path)

    def explode(requests: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(app.service, "handle_batch", explode)
    status, body = asyncio.run(post(app, [{"taskType": "ping"}]))
    assert (status, body["errors"][0]["code"]) == (500, "internalServerError")
    assert "kaboom" not in json.dumps(body)
    assert "RuntimeError: kaboom" in caplog.text


def test_a_websocket_on_another_path_is_refused(tmp_path: Path) -> None:
    app = mock(tmp_path)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "websocket", "path": "/v2", "headers": []}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]  # the server answers 403
    assert app.hub.open_sockets == 0


def test_lifespan_starts_and_stops(tmp_path: Path) -> None:
    app = mock(tmp_path)
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
