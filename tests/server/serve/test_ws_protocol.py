"""The WebSocket endpoint, driven frame by frame with a plain WebSocket client.

Every test runs on both runtimes of the ``Channel``: ``asgi`` is
``ltxmock.testing.MockServer`` (the ASGI app of ``ltxmock serve`` on uvicorn in
a thread; sockets are ``serve/loop_socket.py``'s), ``wsgi`` is ``create_app`` on
Werkzeug's threaded server (flask-sock; ``http/websocket.py``'s). The gunicorn
path is covered by test_ws_concurrency.py. Tests without an ``ltxmock`` marker
share one server per module and runtime (fresh taskUUIDs keep them apart); a
marker gets a test its own server with those MockConfig fields.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.server import API_KEY as KEY
from support.server import WsgiServer, get_response, masked_text, video_task
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ltxmock.server.core.channel import WebSocketHub
from ltxmock.server.http.app import hub_of
from ltxmock.testing import MockServer

RUNTIMES = ("asgi", "wsgi")
Server = MockServer | WsgiServer

INVALID_KEY = {
    "code": "invalidApiKey",
    "message": "Invalid API key. Get one at https://my.runware.ai/signup",
    "parameter": "apiKey",
    "taskType": "authentication",
}


def mock_server(runtime: str, **overrides: Any) -> Server:
    """A server for these tests: our key, instant tasks unless overridden."""
    settings = {"latency": 0.0, "api_keys": [KEY], **overrides}
    return MockServer(**settings) if runtime == "asgi" else WsgiServer(**settings)


def hub(server: Server) -> WebSocketHub:
    return hub_of(server.app)


def sockets_left(server: Server, timeout: float) -> int:
    """How many sockets the server still serves after waiting up to ``timeout``."""
    wait_for(lambda: hub(server).open_sockets == 0, timeout)
    return hub(server).open_sockets


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    stop = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > stop:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module", params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def shared_server(runtime: str) -> Iterator[Server]:
    with mock_server(runtime) as server:
        yield server


@pytest.fixture
def mock(request: pytest.FixtureRequest, runtime: str) -> Iterator[Server]:
    settings: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("ltxmock"))):
        settings.update(marker.kwargs)
    if not settings:
        yield request.getfixturevalue("shared_server")
        return
    with mock_server(runtime, **settings) as server:
        yield server


def open_ws(mock: Server, suffix: str = "", **options: Any) -> ClientConnection:
    ws: ClientConnection = connect(mock.ws_url + suffix, proxy=None, open_timeout=5, **options)
    return ws


def exchange(ws: ClientConnection, tasks: Any) -> dict[str, Any]:
    ws.send(tasks if isinstance(tasks, str | bytes) else json.dumps(tasks))
    return receive(ws)


def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return frame


def authenticate(ws: ClientConnection, **extra: Any) -> str:
    reply = exchange(ws, [{"taskType": "authentication", "apiKey": KEY, **extra}])
    session: str = reply["data"][0]["connectionSessionUUID"]
    return session


def video(**changes: Any) -> dict[str, Any]:
    return video_task(includeCost=True, **changes)


# -- authentication and ping ---------------------------------------------------------


def test_authentication_returns_a_session_uuid_and_no_task_uuid(mock: Server) -> None:
    with open_ws(mock) as ws:
        reply = exchange(ws, [{"taskType": "authentication", "apiKey": KEY}])
    assert list(reply) == ["data"]
    (item,) = reply["data"]
    assert set(item) == {"taskType", "connectionSessionUUID"}
    assert item["taskType"] == "authentication"
    assert uuid.UUID(item["connectionSessionUUID"])


@pytest.mark.parametrize(
    "auth",
    [
        {"taskType": "authentication", "apiKey": "not-a-key"},
        {"taskType": "authentication"},
        {"taskType": "authentication", "apiKey": 42},
    ],
    ids=["wrong", "missing", "not-a-string"],
)
def test_a_bad_key_gets_invalid_api_key(mock: Server, auth: dict[str, Any]) -> None:
    with open_ws(mock) as ws:
        assert exchange(ws, [auth]) == {"errors": [INVALID_KEY]}
        # Still unauthenticated, still open: a right key then works.
        assert authenticate(ws)


def test_ping_is_answered_before_authentication(mock: Server) -> None:
    with open_ws(mock) as ws:
        assert exchange(ws, [{"taskType": "ping", "ping": True}]) == {
            "data": [{"taskType": "ping", "pong": True}]
        }


def test_auth_and_an_immediate_ping_are_both_answered_in_order(mock: Server) -> None:
    # The legacy SDK pings right after its auth message, without waiting.
    with open_ws(mock) as ws:
        ws.send(json.dumps([{"taskType": "authentication", "apiKey": KEY}]))
        ws.send(json.dumps([{"taskType": "ping", "ping": True}]))
        first, second = receive(ws), receive(ws)
    assert first["data"][0]["connectionSessionUUID"]
    assert second == {"data": [{"taskType": "ping", "pong": True}]}


def test_auth_ping_and_task_in_one_frame(mock: Server) -> None:
    task = video()
    with open_ws(mock) as ws:
        ws.send(
            json.dumps([{"taskType": "authentication", "apiKey": KEY}, {"taskType": "ping"}, task])
        )
        frames = [receive(ws) for _ in range(3)]
    assert frames[0]["data"][0]["taskType"] == "authentication"
    assert frames[1] == {"data": [{"taskType": "ping", "pong": True}]}
    assert frames[2] == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}


def test_tasks_before_authentication_are_refused_with_each_task_uuid(mock: Server) -> None:
    tasks = [video(), get_response(str(uuid.uuid4()))]
    with open_ws(mock) as ws:
        reply = exchange(ws, tasks)
    assert list(reply) == ["errors"]
    assert [e["taskUUID"] for e in reply["errors"]] == [t["taskUUID"] for t in tasks]
    assert [e["taskType"] for e in reply["errors"]] == ["videoInference", "getResponse"]
    assert {e["code"] for e in reply["errors"]} == {"missingApiKey"}
    assert "authentication" in reply["errors"][0]["message"]


def test_protocol_level_ping_is_answered(mock: Server) -> None:
    with open_ws(mock) as ws:
        assert ws.ping().wait(5)


# -- tasks -------------------------------------------------------------------------------


@pytest.mark.ltxmock(latency=0.4)
def test_ack_then_get_response_until_success(mock: Server) -> None:
    task = video()
    with open_ws(mock) as ws:
        authenticate(ws)
        ack = exchange(ws, [task])
        assert ack == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
        poll = [get_response(task["taskUUID"])]
        first = exchange(ws, poll)["data"][0]
        assert first["status"] == "processing"
        assert first["taskUUID"] == task["taskUUID"]
        assert wait_for(lambda: exchange(ws, poll)["data"][0]["status"] == "success", 5)
        done = exchange(ws, poll)["data"][0]  # a finished task keeps answering success
    assert done["taskType"] == "videoInference"
    assert done["taskUUID"] == task["taskUUID"]
    assert uuid.UUID(done["videoUUID"])
    assert done["videoURL"].startswith(f"http://127.0.0.1:{mock.port}/")
    assert isinstance(done["cost"], float)


def test_resubmitting_the_same_task_acks_again(mock: Server) -> None:
    task = video()
    with open_ws(mock) as ws:
        authenticate(ws)
        assert exchange(ws, [task]) == exchange(ws, [task])


def test_validation_error_frame_names_the_parameter_and_task(mock: Server) -> None:
    task = video(duration=7)
    with open_ws(mock) as ws:
        authenticate(ws)
        reply = exchange(ws, [task])
    assert list(reply) == ["errors"]
    (error,) = reply["errors"]
    assert error["code"] == "unsupportedDuration"
    assert error["parameter"] == "duration"
    assert error["taskUUID"] == task["taskUUID"]
    assert error["taskType"] == "videoInference"


def test_unknown_task_is_not_found_with_its_task_uuid(mock: Server) -> None:
    missing = str(uuid.uuid4())
    with open_ws(mock) as ws:
        authenticate(ws)
        reply = exchange(ws, [get_response(missing)])
    assert reply["errors"][0]["code"] == "taskNotFound"
    assert reply["errors"][0]["taskUUID"] == missing


def test_many_tasks_in_one_frame(mock: Server) -> None:
    tasks = [video() for _ in range(5)]
    uuids = [t["taskUUID"] for t in tasks]
    with open_ws(mock) as ws:
        authenticate(ws)
        acks = exchange(ws, tasks)["data"]
        polls = exchange(ws, [get_response(u) for u in uuids])["data"]
    assert [a["taskUUID"] for a in acks] == uuids
    assert [p["taskUUID"] for p in polls] == uuids
    assert {p["status"] for p in polls} == {"success"}
    assert len({p["videoUUID"] for p in polls}) == 5


def test_a_single_task_object_is_taken_as_a_one_task_array(mock: Server) -> None:
    with open_ws(mock) as ws:
        assert exchange(ws, {"taskType": "ping", "ping": True}) == {
            "data": [{"taskType": "ping", "pong": True}]
        }


def test_binary_frames_are_read_as_utf8_json(mock: Server) -> None:
    with open_ws(mock) as ws:
        reply = exchange(ws, json.dumps([{"taskType": "ping"}]).encode())
    assert reply == {"data": [{"taskType": "ping", "pong": True}]}


def test_frames_go_to_the_journal_as_ws(mock: Server) -> None:
    task = video()
    with open_ws(mock) as ws:
        authenticate(ws)
        exchange(ws, [task])
    entries = mock.service.journal.for_task(task["taskUUID"])
    assert [(e.transport, e.path, e.status) for e in entries] == [("ws", "/v1", 200)]


# -- connection details ------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["?sdk=js&version=1.3.2", "/", "/?dryRun=1"])
def test_query_strings_and_a_trailing_slash_are_accepted(mock: Server, suffix: str) -> None:
    with open_ws(mock, suffix) as ws:
        assert authenticate(ws)


@pytest.mark.parametrize("compression", ["deflate", None])
def test_permessage_deflate_offer_or_not(mock: Server, compression: str | None) -> None:
    with open_ws(mock, compression=compression) as ws:
        assert authenticate(ws)
        reply = exchange(ws, [{"taskType": "ping", "ping": True, "pad": "x" * 5000}])
    assert reply["data"][0]["pong"] is True


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalidJson"),
        (b"\xff\xfe[]", "invalidJson"),
        ("[]", "invalidRequestBody"),
        ("42", "invalidRequestBody"),
    ],
    ids=["syntax", "not-utf8", "empty-array", "number"],
)
def test_malformed_frames_get_an_error_frame_and_the_socket_stays(
    mock: Server, frame: str | bytes, code: str
) -> None:
    with open_ws(mock) as ws:
        reply = exchange(ws, frame)
        assert list(reply) == ["errors"]
        assert reply["errors"][0]["code"] == code
        assert exchange(ws, [{"taskType": "ping"}])["data"][0]["pong"] is True


@pytest.mark.ltxmock(ws_max_message_bytes=4096)
def test_an_oversized_frame_gets_an_error_per_task_and_the_socket_stays(
    mock: Server,
) -> None:
    tasks = [video(positivePrompt="x" * 3000), video(positivePrompt="y" * 3000)]
    with open_ws(mock) as ws:
        authenticate(ws)
        reply = exchange(ws, tasks)
        assert [e["code"] for e in reply["errors"]] == ["payloadTooLarge"] * 2
        assert [e["taskUUID"] for e in reply["errors"]] == [t["taskUUID"] for t in tasks]
        assert "4096" in reply["errors"][0]["message"]
        assert exchange(ws, [video()])["data"][0]["taskType"] == "videoInference"


@pytest.mark.ltxmock(ws_max_message_bytes=1024)
def test_a_runaway_frame_is_cut_off_with_close_1009(mock: Server) -> None:
    with open_ws(mock) as ws:
        ws.send("[" + " " * 64 * 1024 + "]")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
    assert sockets_left(mock, 5) == 0


# -- idle timeout and abandoned sockets ----------------------------------------------------


@pytest.mark.ltxmock(ws_idle_timeout=0.3)
def test_an_idle_socket_is_closed(mock: Server) -> None:
    with open_ws(mock) as ws:
        authenticate(ws)
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert 0.25 < time.monotonic() - started < 3
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1000
    assert sockets_left(mock, 3) == 0


@pytest.mark.ltxmock(ws_idle_timeout=0.6)
def test_messages_keep_a_socket_open(mock: Server) -> None:
    with open_ws(mock) as ws:
        for _ in range(4):
            time.sleep(0.3)
            assert exchange(ws, [{"taskType": "ping", "ping": True}])["data"][0]["pong"]


def raw_upgrade(port: int) -> socket.socket:
    """A WebSocket that completes the handshake, then never reads or answers again."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    return sock


@pytest.mark.ltxmock(ws_idle_timeout=0.3)
def test_abandoned_sockets_that_never_answer_are_reaped(mock: Server) -> None:
    # Like the legacy SDK's old sockets, or a peer that vanished without a FIN.
    threads_before = threading.active_count()
    abandoned = [raw_upgrade(mock.port) for _ in range(5)]
    try:
        assert wait_for(lambda: hub(mock).open_sockets == 5, 3)
        # idle timeout + the close grace, then the socket is shut down
        assert sockets_left(mock, 5) == 0
        assert wait_for(lambda: threading.active_count() <= threads_before, 3)
    finally:
        for sock in abandoned:
            sock.close()


# The task cap raised: pings count toward it, and this peer needs big replies.
@pytest.mark.ltxmock(ws_send_timeout=0.3, ws_idle_timeout=30, max_tasks_per_request=4_000)
def test_a_peer_that_stops_reading_does_not_hold_a_thread(mock: Server) -> None:
    sock = raw_upgrade(mock.port)
    try:
        # Each frame asks for ~160 KB of pongs (4,000 pings: within the decoder's
        # value budget); the peer reads none of them.
        flood = masked_text(json.dumps([{"taskType": "ping"}] * 4_000).encode())
        with contextlib.suppress(OSError):
            for _ in range(75):
                sock.sendall(flood)
        assert sockets_left(mock, 10) == 0
    finally:
        sock.close()


# -- resume --------------------------------------------------------------------------------


def slow_service(mock: Server, monkeypatch: pytest.MonkeyPatch, delay: float) -> None:
    """Make every task take ``delay`` to answer, as a busy server would."""
    service = mock.service
    handle = service.handle

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(delay)
        return handle(*args, **kwargs)

    monkeypatch.setattr(service, "handle", slow)


def parked(mock: Server, session_uuid: str) -> int:
    """How many frames wait for a resume of this session."""
    session = hub(mock).sessions.get(session_uuid)
    return 0 if session is None else len(session.pending)


def test_resume_delivers_what_the_dropped_socket_could_not(
    mock: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = video()
    with open_ws(mock) as ws:
        session = authenticate(ws)
    with open_ws(mock) as ws:
        authenticate(ws, connectionSessionUUID=session)
        exchange(ws, [task])
    slow_service(mock, monkeypatch, 0.4)
    with open_ws(mock) as ws:
        assert authenticate(ws, connectionSessionUUID=session) == session
        ws.send(json.dumps([get_response(task["taskUUID"])]))
    # The socket closed while the poll was being answered: the answer waits.
    assert wait_for(lambda: parked(mock, session) == 1, 3)
    monkeypatch.undo()
    with open_ws(mock) as ws:
        assert authenticate(ws, connectionSessionUUID=session) == session
        buffered = receive(ws)
        assert buffered["data"][0]["taskUUID"] == task["taskUUID"]
        assert buffered["data"][0]["status"] == "success"
        assert exchange(ws, [{"taskType": "ping"}])["data"][0]["pong"]  # nothing else queued


def test_resume_with_an_unknown_session_echoes_it(mock: Server) -> None:
    wanted = str(uuid.uuid4())
    with open_ws(mock) as ws:
        assert authenticate(ws, connectionSessionUUID=wanted) == wanted


def test_another_keys_session_is_not_resumed(runtime: str) -> None:
    with mock_server(runtime, api_keys=[KEY, "other-key"]) as running, open_ws(running) as ws:
        session = authenticate(ws)
        other = exchange(
            ws,
            [
                {
                    "taskType": "authentication",
                    "apiKey": "other-key",
                    "connectionSessionUUID": session,
                }
            ],
        )
    assert other["data"][0]["connectionSessionUUID"] != session


@pytest.mark.ltxmock(ws_resume_window=0.2)
def test_buffered_frames_expire_after_the_resume_window(mock: Server) -> None:
    with open_ws(mock) as ws:
        session_id = authenticate(ws)
    session = hub(mock).sessions.get(session_id)
    assert session is not None
    hub(mock).sessions.deliver(session, json.dumps({"data": [{"taskType": "ping", "pong": True}]}))
    time.sleep(0.3)
    with open_ws(mock) as ws:
        assert authenticate(ws, connectionSessionUUID=session_id) == session_id
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
