"""Hostile input against a live ``ltxmock serve`` (2 workers, a data dir, ``--api-key``):
each probe gets a Runware-shaped error or a clean close — never a 500, a traceback or a
hang — and the server keeps serving (a task submitted after each probe is acked and
polled; ``LiveServer`` checks its log for tracebacks at the end).

The rows of issue 13's table each have a test already; this module does not repeat them:

- 16 concurrent submits of one taskUUID, 4 workers: ``tests/server/serve/test_exactly_once.py``
- 20,000 invalid tasks in one request: ``tests/server/serve/test_limits.py``
- eager submits in a burst: ``tests/server/core/test_render_budget.py`` (the backlog
  and ``--media-budget`` in process); the figures on a default ``serve`` are
  ``bench/render_load.py``'s
- ``/__ltxmock/reset`` as ``text/plain``, a foreign ``Origin``, any ``Host``; a
  ``webhookURL`` at the mock's own reset: ``tests/server/serve/test_admin_guard_live.py``;
  ``file://`` and ``gopher://`` targets: ``tests/server/core/test_callback_targets.py``
- a body over the limit with ``Connection: close``, declared or chunked; headers or a
  body that stop arriving; a body that keeps coming at a fair rate; one 64 MB header:
  ``tests/server/serve/test_guard.py``; on this live ``serve``: a 30 MB body from
  urllib and 60 slow clients (below)
- ``"api\\u004bey"``, unquoted or single-quoted keys; a symlink in the media folder:
  ``tests/server/core/test_secrets.py``

Here: malformed and oversized JSON of every kind over REST, header floods, and the same
kinds of WebSocket frames, plus floods of Runware and protocol-level pings.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from support.server import (
    LiveServer,
    assert_runware_shaped,
    get_response,
    masked_text,
    video_task,
)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ltxmock.server import MockConfig
from ltxmock.server.core.channel import HARD_LIMIT_FACTOR
from ltxmock.server.core.decoding import MAX_JSON_VALUES

pytestmark = pytest.mark.slow

KEY = "hostile-key-0123456789"
WS_LIMIT = MockConfig().ws_max_message_bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("hostile-data")
    with LiveServer("--api-key", KEY, "--workers", "2", latency=0.1, data_dir=data) as live:
        yield live


def port_of(server: LiveServer) -> int:
    return int(server.base.rsplit(":", 1)[1])


def assert_serving(server: LiveServer) -> None:
    """A task submitted now is acked, and polled back by its UUID."""
    task = video_task()
    acked = server.post([task], key=KEY)
    assert acked.status_code == 200, acked.text
    polled = server.post([get_response(task["taskUUID"])], key=KEY).json()
    assert polled["data"][0]["taskUUID"] == task["taskUUID"], polled


# -- raw HTTP ----------------------------------------------------------------------------
def raw_exchange(
    port: int, request: bytes, timeout: float = 20.0
) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` whole, read one response (to Content-Length, or to the close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # refused part-way: the answer is still readable
            sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed without an answer after {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "-1"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def post_raw(server: LiveServer, body: bytes, *, extra: bytes = b"") -> tuple[int, Any]:
    request = (
        b"POST /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n".encode()
        + extra
        + b"Connection: close\r\n\r\n"
        + body
    )
    status, headers, payload = raw_exchange(port_of(server), request)
    assert headers.get("content-type") == "application/json", (status, headers, payload[:200])
    return status, json.loads(payload)


def task_text(**fields: str) -> bytes:
    """A valid task array as JSON text, some fields' values replaced by raw JSON text."""
    text = json.dumps([video_task(**{name: f"@{name}@" for name in fields})])
    for name, raw in fields.items():
        text = text.replace(json.dumps(f"@{name}@"), raw)
    return text.encode()


DEEP = 100_000
HOSTILE_BODIES: dict[str, tuple[bytes, str]] = {
    "truncated": (task_text()[:-7], "invalidJson"),
    "truncated inside a string": (
        b'[{"taskType": "videoInference", "taskUUID": "12',
        "invalidJson",
    ),
    "NaN": (task_text(duration="NaN"), "invalidJson"),
    "Infinity": (task_text(duration="Infinity"), "invalidJson"),
    "-Infinity": (task_text(width="-Infinity"), "invalidJson"),
    "1e400": (task_text(duration="1e400"), "invalidJson"),
    "-1e400": (task_text(width="-1e400"), "invalidJson"),
    "400-digit float": (task_text(width="9" * 400 + ".5"), "invalidJson"),
    "5,000-digit integer": (task_text(duration="9" * 5000), "invalidJson"),
    "100,000-deep arrays": (b"[" * DEEP + b"]" * DEEP, "invalidJson"),
    "100,000-deep objects": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, "invalidJson"),
    "100,000-deep, unclosed": (b"[" * DEEP, "invalidJson"),
    "more values than the budget": (
        task_text(inputs=json.dumps([0] * MAX_JSON_VALUES)),
        "invalidJson",
    ),
    "20,000 tasks": (json.dumps([{"taskType": "ping"}] * 20_000).encode(), "tooManyTasks"),
    "250,000 frameImages": (
        task_text(inputs=json.dumps({"frameImages": ["AAAA"] * 250_000})),  # 2 MB
        "invalidJson",
    ),
    "not UTF-8": (b'[{"taskType": "\xff\xfe"}]', "invalidJson"),
    "UTF-16": ('[{"taskType": "ping"}]'.encode("utf-16"), "invalidJson"),
    "lone surrogate": (
        b'[{"taskType": "videoInference", "positivePrompt": "\\ud800"}]',
        "invalidJson",
    ),
    "NUL bytes": (b"[\x00\x00\x00]", "invalidJson"),
    "empty": (b"", ""),
    "null": (b"null", ""),
    "a string": (b'"[]"', ""),
    "an array of arrays": (b"[[], [[]], [[[]]]]", ""),
    "duplicate keys": (b'[{"taskType": "ping", "taskType": "videoInference"}]', ""),
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_a_hostile_body_gets_a_runware_shaped_400(server: LiveServer, name: str) -> None:
    body, code = HOSTILE_BODIES[name]
    status, answer = post_raw(server, body)
    assert status == 400, answer
    assert_runware_shaped(status, answer)
    if code:
        assert code in [error["code"] for error in answer["errors"]], answer
    assert len(json.dumps(answer)) < 64 * 1024
    assert_serving(server)


def test_the_value_budget_is_named_in_the_answer(server: LiveServer) -> None:
    status, answer = post_raw(server, task_text(positivePrompt=json.dumps(["x"] * 250_000)))
    assert status == 400
    assert f"{MAX_JSON_VALUES:,} JSON values" in answer["errors"][0]["message"]


@pytest.mark.parametrize(
    ("count", "size"), [(10_000, 8), (200, 400), (1, 70_000)], ids=["many", "medium", "one-big"]
)
def test_header_floods_get_a_json_431_and_a_close(
    server: LiveServer, count: int, size: int
) -> None:
    flood = b"".join(f"X-Flood-{i}: {'v' * size}\r\n".encode() for i in range(count))
    status, headers, body = raw_exchange(
        port_of(server),
        b"POST /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n" + flood + b"Content-Length: 2\r\n\r\n[]",
    )
    assert status == 431
    assert headers.get("content-type") == "application/json"
    assert_runware_shaped(status, json.loads(body))
    assert_serving(server)


def test_many_connections_opened_and_dropped_mid_request_leave_it_serving(
    server: LiveServer,
) -> None:
    """Half a request line, half the headers, half a body: each dropped at once."""
    body = task_text()
    full = (
        f"POST /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    for cut in range(1, len(full), max(1, len(full) // 40)):
        with socket.create_connection(("127.0.0.1", port_of(server)), timeout=5) as sock:
            sock.sendall(full[:cut])
    assert_serving(server)


def test_a_30_mb_body_from_urllib_reads_the_413(server: LiveServer) -> None:
    """urllib sends ``Connection: close`` and writes the whole body before reading: the
    answer must wait for it to be read (and dropped), not reset the connection."""
    body = b"[" + b" " * (30 * 1024 * 1024) + b"]"
    request = urllib.request.Request(
        server.base + "/v1",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert_runware_shaped(413, json.loads(refused.value.read()))
    assert_serving(server)


SLOW_CLIENTS = 60


def test_sixty_slow_clients_are_timed_out_while_others_are_served(server: LiveServer) -> None:
    """30 clients trickle their headers and 30 their bodies, a byte every half second
    each: every one gets a JSON 408 within serve's time (10 s, a body's grown by what
    it sent), and the mock answers other clients all along."""
    heads = (
        b"POST /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
        b"POST /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n[",
    )
    clients = [
        socket.create_connection(("127.0.0.1", port_of(server)), timeout=5)
        for _ in range(SLOW_CLIENTS)
    ]
    answered: dict[socket.socket, tuple[float, bytes]] = {}
    try:
        started = time.monotonic()
        for n, client in enumerate(clients):
            client.sendall(heads[n % 2])
        while len(answered) < len(clients) and time.monotonic() - started < 25:
            waiting = [c for c in clients if c not in answered]
            readable, _, _ = select.select(waiting, [], [], 0.5)
            for client in readable:
                answered[client] = (time.monotonic() - started, client.recv(65536))
            for client in waiting:
                if client not in readable:
                    with contextlib.suppress(OSError):
                        client.sendall(b"a" if clients.index(client) % 2 == 0 else b" ")
            assert_serving(server)  # others are served meanwhile
    finally:
        for client in clients:
            client.close()
    assert len(answered) == SLOW_CLIENTS, f"{SLOW_CLIENTS - len(answered)} never timed out"
    for seconds, data in answered.values():
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), data[:200]
        assert json.loads(body)["errors"][0]["code"] == "requestTimeout"
        assert seconds < 15, seconds  # 10 s, and a body's fraction of a second earned


# -- WebSocket frames ----------------------------------------------------------------------
def ws_open(server: LiveServer) -> ClientConnection:
    return connect(
        server.base.replace("http://", "ws://") + "/v1",
        max_size=None,
        open_timeout=10,
        close_timeout=5,
    )


def receive(ws: ClientConnection, timeout: float = 15.0) -> Any:
    frame = ws.recv(timeout=timeout)
    return json.loads(frame)


def authenticate(ws: ClientConnection) -> None:
    ws.send(json.dumps([{"taskType": "authentication", "apiKey": KEY}]))
    reply = receive(ws)
    assert reply["data"][0]["connectionSessionUUID"], reply


def assert_ws_serving(ws: ClientConnection) -> None:
    """The same socket still answers a task after the probe."""
    task = video_task()
    ws.send(json.dumps([task]))
    reply = receive(ws)
    assert reply.get("data", [{}])[0].get("taskUUID") == task["taskUUID"], reply


def assert_error_frame(reply: Any, code: str) -> None:
    assert_runware_shaped(400, reply)
    codes = [error["code"] for error in reply["errors"]]
    assert not code or code in codes, reply


WS_FRAMES: dict[str, tuple[str | bytes, str]] = {
    "truncated": (task_text()[:-7].decode(), "invalidJson"),
    "NaN": (task_text(duration="NaN").decode(), "invalidJson"),
    "1e400": (task_text(duration="1e400").decode(), "invalidJson"),
    "100,000-deep": ("[" * DEEP + "]" * DEEP, "invalidJson"),
    "100,000-deep, unclosed": ("{" * DEEP, "invalidJson"),
    "more values than the budget": (json.dumps([{"a": [0] * MAX_JSON_VALUES}]), "invalidJson"),
    "not JSON": ("HELLO THERE", "invalidJson"),
    "empty": ("", "invalidJson"),
    "binary, not UTF-8": (b"\xff\xfe\x00[", "invalidJson"),
    "binary, random": (bytes(range(256)) * 4, "invalidJson"),
    "a lone number": ("42", ""),
    "eleven pings": (json.dumps([{"taskType": "ping"}] * 11), "tooManyTasks"),
    "oversize (over the message limit)": (json.dumps(["x" * WS_LIMIT]), "payloadTooLarge"),
}


@pytest.mark.parametrize("name", list(WS_FRAMES))
def test_a_hostile_frame_gets_an_error_frame_and_the_socket_stays_usable(
    server: LiveServer, name: str
) -> None:
    frame, code = WS_FRAMES[name]
    with ws_open(server) as ws:
        authenticate(ws)
        ws.send(frame)
        reply = receive(ws)
        assert_error_frame(reply, code)
        assert len(json.dumps(reply)) < 64 * 1024
        assert_ws_serving(ws)
    assert_serving(server)


def test_a_binary_frame_of_json_is_read_like_text(server: LiveServer) -> None:
    with ws_open(server) as ws:
        ws.send(json.dumps([{"taskType": "authentication", "apiKey": KEY}]).encode())
        assert receive(ws)["data"][0]["connectionSessionUUID"]
        assert_ws_serving(ws)


def test_a_frame_past_the_hard_limit_closes_with_1009(server: LiveServer) -> None:
    with ws_open(server) as ws:
        authenticate(ws)
        ws.send("[" + " " * (WS_LIMIT * HARD_LIMIT_FACTOR) + "]")
        with pytest.raises(ConnectionClosed) as closed:
            receive(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
    assert_serving(server)


def test_a_flood_of_ping_frames_is_answered_one_pong_each_and_stays_bounded(
    server: LiveServer,
) -> None:
    """2,000 frames of one ping each, sent without waiting; a reader counts the pongs."""
    frames = 2_000
    pongs: list[Any] = []
    with ws_open(server) as ws:
        authenticate(ws)

        def read() -> None:
            while len(pongs) < frames:
                pongs.append(receive(ws, timeout=30))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        for _ in range(frames):
            ws.send('[{"taskType": "ping"}]')
        reader.join(timeout=60)
        assert not reader.is_alive(), f"{len(pongs)} pongs of {frames}"
        assert all(p == {"data": [{"taskType": "ping", "pong": True}]} for p in pongs)
        assert_ws_serving(ws)


def test_a_flood_of_protocol_pings_leaves_the_socket_usable(server: LiveServer) -> None:
    with ws_open(server) as ws:
        authenticate(ws)
        waiters = [ws.ping(f"p{i}".encode()) for i in range(5_000)]
        assert all(waiter.wait(30) for waiter in waiters[-10:])
        assert_ws_serving(ws)


def test_a_client_that_floods_pings_and_never_reads_is_cut_off_not_buffered(
    server: LiveServer,
) -> None:
    """Raw frames, no reading: the server's sends time out and it closes the socket;
    the others are served meanwhile."""
    port = port_of(server)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        assert b" 101 " in sock.recv(4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        frame = masked_text(json.dumps([{"taskType": "ping"}] * 10).encode())
        sent, pushed_back = 0, False
        deadline = time.monotonic() + 30
        sock.settimeout(2.0)
        while time.monotonic() < deadline and not pushed_back:
            try:
                sock.sendall(frame)
                sent += 1
            except OSError:  # a timeout too: the server stopped reading, or closed
                pushed_back = True
        assert pushed_back, f"{sent} frames read in 30 s with no pong read: no push-back"
    assert_serving(server)
