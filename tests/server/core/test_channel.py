"""The WebSocket protocol (``Channel``), driven through a scripted ``Socket``: no server,
no threads, no timing but the idle timeout's.

Each runtime adapts its own socket to the ``Socket`` protocol (``LoopSocket``
under ASGI, ``SimpleSocket`` under flask-sock); the same frames over real
sockets of both are tests/server/serve/test_ws_protocol.py.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
from support.server import API_KEY, FakeClock, get_response, video_task

from ltxmock.server import MockConfig, create_service
from ltxmock.server.core.channel import Socket, SocketClosedError, WebSocketHub

CLOSED = object()  # the peer closes here


class ScriptedSocket:
    """A ``Socket`` that receives a script of frames, then the peer's close."""

    def __init__(self, *frames: Any, fail_sends_after: int | None = None) -> None:
        self.inbox: deque[Any] = deque(frames)
        self.inbox.append(CLOSED)
        self.sent: list[Any] = []
        self.closed_with: tuple[int, str] | None = None
        self.finished = False
        self._open = True
        self._sends_left = fail_sends_after

    @property
    def connected(self) -> bool:
        return self._open

    def send(self, frame: str) -> None:
        if not self._open or self._sends_left == 0:
            raise SocketClosedError("the peer is gone")
        if self._sends_left is not None:
            self._sends_left -= 1
        self.sent.append(json.loads(frame))

    def receive(self, timeout: float) -> str | bytes | None:
        if not self.inbox:  # a quiet peer: time passes
            time.sleep(timeout)
            return None
        frame = self.inbox.popleft()
        if frame is CLOSED:
            self._open = False
            raise SocketClosedError("the peer closed the socket")
        return frame if isinstance(frame, str | bytes) else json.dumps(frame)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = (code, reason)
        self._open = False

    def finish(self) -> None:
        self.finished = True


@pytest.fixture
def hub(clock: FakeClock) -> Iterator[WebSocketHub]:
    service = create_service(
        MockConfig(latency=0, clock=clock, render_mode="lazy", api_keys=(API_KEY,))
    )
    yield WebSocketHub(service)
    service.close()


def serve(hub: WebSocketHub, sock: ScriptedSocket) -> list[Any]:
    as_socket: Socket = sock
    hub.serve(as_socket, base_url="http://h:1", path="/v1")
    return sock.sent


AUTH = {"taskType": "authentication", "apiKey": API_KEY}


def test_one_frame_gives_auth_then_pongs_then_the_services_reply(hub: WebSocketHub) -> None:
    task = video_task()
    sent = serve(hub, ScriptedSocket([task, {"taskType": "ping"}, AUTH]))
    assert len(sent) == 3
    assert sent[0]["data"][0]["taskType"] == "authentication"
    assert sent[1] == {"data": [{"taskType": "ping", "pong": True}]}
    assert sent[2] == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    assert [(e.transport, e.path, e.request) for e in hub.service.journal] == [
        ("ws", "/v1", [task])  # auth and ping are answered by the channel, not journaled
    ]


def test_results_carry_the_connections_base_url(hub: WebSocketHub) -> None:
    task = video_task()
    sent = serve(hub, ScriptedSocket([AUTH], [task], [get_response(task["taskUUID"])]))
    assert sent[-1]["data"][0]["videoURL"].startswith("http://h:1/video/os/")


def test_tasks_before_authentication_are_refused_and_journaled(hub: WebSocketHub) -> None:
    task = video_task()
    [reply] = serve(hub, ScriptedSocket([task]))
    assert [(e["code"], e["taskUUID"]) for e in reply["errors"]] == [
        ("missingApiKey", task["taskUUID"])
    ]
    [entry] = hub.service.journal.entries()
    assert (entry.transport, entry.status, entry.request) == ("ws", 401, [task])


def test_a_failed_authentication_ends_the_earlier_one(hub: WebSocketHub) -> None:
    task = video_task()
    sent = serve(hub, ScriptedSocket([AUTH], [{**AUTH, "apiKey": "wrong"}], [task]))
    assert [e["code"] for e in sent[1]["errors"]] == ["invalidApiKey"]
    assert [e["code"] for e in sent[2]["errors"]] == ["missingApiKey"]


def test_malformed_frames_are_answered_and_journaled_as_text(hub: WebSocketHub) -> None:
    sent = serve(hub, ScriptedSocket("{not json", b"\xff[]", "[]", [{"taskType": "ping"}]))
    assert [frame.get("errors", [{}])[0].get("code") for frame in sent] == [
        "invalidJson",
        "invalidJson",
        "invalidRequestBody",
        None,
    ]
    entries = hub.service.journal.entries()
    assert [(e.status, e.request) for e in entries] == [
        (400, "{not json"),
        (400, "\ufffd[]"),
        (400, []),
    ]
    assert {e.transport for e in entries} == {"ws"}


def test_an_oversized_frame_gets_an_error_per_task(clock: FakeClock) -> None:
    service = create_service(
        MockConfig(latency=0, clock=clock, render_mode="lazy", ws_max_message_bytes=2000)
    )
    try:
        tasks = [video_task(positivePrompt="x" * 1500), video_task(positivePrompt="y" * 1500)]
        [reply] = serve(WebSocketHub(service), ScriptedSocket(tasks))
        assert [(e["code"], e["taskUUID"]) for e in reply["errors"]] == [
            ("payloadTooLarge", task["taskUUID"]) for task in tasks
        ]
        [entry] = service.journal.entries()
        assert entry.status == 413
        assert isinstance(entry.request, str)  # the frame's text, not run
    finally:
        service.close()


def test_a_frame_that_breaks_the_service_gets_a_500_and_the_channel_goes_on(
    hub: WebSocketHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(request: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(hub.service, "handle", explode)
    sent = serve(hub, ScriptedSocket([AUTH], [video_task()], [{"taskType": "ping"}]))
    assert [e["code"] for e in sent[1]["errors"]] == ["internalServerError"]
    assert sent[2] == {"data": [{"taskType": "ping", "pong": True}]}


def test_the_channel_closes_and_releases_its_socket_at_the_end(hub: WebSocketHub) -> None:
    sock = ScriptedSocket([AUTH])
    serve(hub, sock)
    assert sock.finished
    assert hub.open_sockets == 0


def test_an_idle_socket_is_closed_with_1000(clock: FakeClock) -> None:
    service = create_service(MockConfig(latency=0, clock=clock, ws_idle_timeout=0.05))
    try:
        sock = ScriptedSocket([{"taskType": "ping"}])
        sock.inbox.pop()  # the peer never closes: it just goes quiet
        started = time.monotonic()
        serve(WebSocketHub(service), sock)
        assert time.monotonic() - started < 2
        assert sock.closed_with == (1000, "idle for 0.05 s")
        assert sock.finished
    finally:
        service.close()


def test_a_reply_the_socket_cannot_take_waits_for_the_sessions_resume(hub: WebSocketHub) -> None:
    task = video_task()
    first = ScriptedSocket([AUTH], [task], fail_sends_after=1)  # the ack cannot be sent
    [auth] = serve(hub, first)
    session_uuid = auth["data"][0]["connectionSessionUUID"]
    session = hub.sessions.get(session_uuid)
    assert session is not None
    assert len(session.pending) == 1
    again = serve(hub, ScriptedSocket([{**AUTH, "connectionSessionUUID": session_uuid}]))
    assert again[0]["data"][0]["connectionSessionUUID"] == session_uuid
    assert again[1] == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    assert not session.pending


def test_the_hub_counts_the_sockets_it_serves(
    hub: WebSocketHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    handle = hub.service.handle

    def counting(request: Any) -> Any:
        seen.append(hub.open_sockets)
        return handle(request)

    monkeypatch.setattr(hub.service, "handle", counting)
    serve(hub, ScriptedSocket([AUTH], [video_task()]))
    assert seen == [1]
    assert hub.open_sockets == 0
