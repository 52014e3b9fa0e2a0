"""guard.py in front of uvicorn: header caps (431), slow clients (408), malformed HTTP (JSON 400),
and a lingering close so that a client still sending its body reads the early 413."""

from __future__ import annotations

import email.utils
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.server import API_KEY, video_task

from ltxmock.server import MockConfig
from ltxmock.server.serve.asgi import create_asgi_app
from ltxmock.server.serve.guard import GuardLimits, refusal
from ltxmock.server.serve.rest_lane import RestLane
from ltxmock.server.serve.threaded import ThreadedServer

# Generous timeouts for every test but the timeout tests: under a loaded CI
# machine the server itself can take a while to read a body.
LIMITS = GuardLimits(max_header_bytes=4096, linger_timeout=10.0)
IMPATIENT = GuardLimits(max_header_bytes=4096, header_timeout=0.5, body_timeout=0.5)
# A body earns a second per 2,000 bytes received beyond its first half second.
PACED = GuardLimits(header_timeout=5.0, body_timeout=0.5, body_min_rate=2000)
MAX_BODY = 64 * 1024


def serving(limits: GuardLimits) -> Iterator[ThreadedServer]:
    app = create_asgi_app(MockConfig(latency=0, render_mode="lazy", max_body_bytes=MAX_BODY))
    running = ThreadedServer(app, limits=limits)
    running.start()
    yield running
    running.stop()
    app.service.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    yield from serving(LIMITS)


@pytest.fixture(scope="module")
def impatient() -> Iterator[ThreadedServer]:
    yield from serving(IMPATIENT)


@pytest.fixture(scope="module")
def paced() -> Iterator[ThreadedServer]:
    yield from serving(PACED)


def connect(server: ThreadedServer) -> socket.socket:
    conn = socket.create_connection((server.host, server.port), timeout=5)
    return conn


def read_response(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One whole response (Content-Length framed), and not a byte of the next one: a
    pipelined response may arrive in the same segment, so the head is found by peeking."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen = conn.recv(65536, socket.MSG_PEEK)
        if not seen:
            raise ConnectionError("closed before a response")
        end = seen.find(b"\r\n\r\n")
        if end >= 0:
            break
        time.sleep(0.01)  # the head is still arriving
    else:
        raise TimeoutError(f"no whole head in 10 s: {seen[:200]!r}")
    head = recv_exactly(conn, end + 4)[:-4]
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    body = recv_exactly(conn, int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers, body


def recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def closed_by_peer(conn: socket.socket) -> bool:
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


def error_code(body: bytes) -> str:
    payload: Any = json.loads(body)
    code: str = payload["errors"][0]["code"]
    return code


def test_a_refusal_is_a_whole_runware_shaped_response() -> None:
    raw = refusal(431, "headersTooLarge", "too large")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"content-length: %d" % len(body) in head
    assert b"connection: close" in head
    assert json.loads(body)["errors"][0]["code"] == "headersTooLarge"


@given(size=st.integers(min_value=0, max_value=3 * LIMITS.max_header_bytes))
@settings(max_examples=25, deadline=None)
def test_headers_over_the_cap_get_a_json_431(server: ThreadedServer, size: int) -> None:
    with connect(server) as conn:
        request = b"GET /__ltxmock/health HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n" % (b"a" * size)
        try:
            conn.sendall(request)
        except ConnectionResetError:
            assert size > LIMITS.max_header_bytes  # refused before it was all sent
            return
        status, headers, body = read_response(conn)
        if size + 40 > LIMITS.max_header_bytes:  # the pad plus the URL and other headers
            assert status == 431, size
            assert headers["content-type"] == "application/json"
            assert error_code(body) == "headersTooLarge"
            assert closed_by_peer(conn)
        elif size + 80 < LIMITS.max_header_bytes:
            assert status == 200, size


def test_bytes_that_are_not_http_get_a_json_400(server: ThreadedServer) -> None:
    with connect(server) as conn:
        conn.sendall(b"HELLO THERE\r\n\r\n")
        status, headers, body = read_response(conn)
        assert (status, headers["content-type"]) == (400, "application/json")
        assert error_code(body) == "invalidHttp"
        assert closed_by_peer(conn)


def test_headers_that_trickle_in_time_out_with_a_json_408(impatient: ThreadedServer) -> None:
    with connect(impatient) as conn:
        conn.sendall(b"POST /v1 HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        status, _, body = read_response(conn)
        assert status == 408
        assert error_code(body) == "requestTimeout"
        assert time.monotonic() - started < IMPATIENT.header_timeout + 3
        assert closed_by_peer(conn)


def test_a_body_that_trickles_times_out_with_a_json_408(impatient: ThreadedServer) -> None:
    with connect(impatient) as conn:
        conn.sendall(
            b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n[{"
        )
        status, _, body = read_response(conn)
        assert status == 408
        assert error_code(body) == "requestTimeout"


def send_paced(conn: socket.socket, body: bytes, *, chunk: int, every: float) -> bool:
    """Send a POST /v1 of ``body``, ``chunk`` bytes every ``every`` seconds, until the
    server answers; True if the whole body was sent first."""
    conn.sendall(
        b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    conn.setblocking(False)
    try:
        for start in range(0, len(body), chunk):
            time.sleep(every)
            try:
                if conn.recv(1, socket.MSG_PEEK):
                    return False  # answered before the body was complete
            except BlockingIOError:
                pass
            conn.sendall(body[start : start + chunk])
    finally:
        conn.setblocking(True)
    return True


def test_a_body_arriving_faster_than_the_minimum_rate_has_its_time(paced: ThreadedServer) -> None:
    # 6,000 bytes at about 4,000 bytes a second: three times the base half second.
    body = json.dumps([video_task()]).encode().ljust(6000)
    with connect(paced) as conn:
        started = time.monotonic()
        assert send_paced(conn, body, chunk=400, every=0.1)
        assert time.monotonic() - started > 3 * PACED.body_timeout
        status, _, answer = read_response(conn)
        assert status == 200, answer


def test_a_body_that_keeps_trickling_is_cut_at_its_time(paced: ThreadedServer) -> None:
    # 20 bytes a second earn a hundredth of a second each: the 408 comes long before
    # the 5 s the body would take.
    body = json.dumps([video_task()]).encode()[:100]
    with connect(paced) as conn:
        started = time.monotonic()
        assert not send_paced(conn, body, chunk=1, every=0.05)
        status, _, answer = read_response(conn)
        assert status == 408
        assert error_code(answer) == "requestTimeout"
        assert time.monotonic() - started < 3


def test_a_connection_that_never_sends_a_request_is_closed_without_an_answer(
    impatient: ThreadedServer,
) -> None:
    with connect(impatient) as conn:
        started = time.monotonic()
        assert conn.recv(100) == b""
        assert time.monotonic() - started < IMPATIENT.header_timeout + 3


@given(
    extra=st.integers(min_value=1, max_value=4 * MAX_BODY),
    close=st.booleans(),
    declared=st.booleans(),
)
@settings(max_examples=15, deadline=None)
def test_a_client_still_sending_a_too_large_body_reads_the_413(
    server: ThreadedServer, extra: int, close: bool, declared: bool
) -> None:
    body = b"[" + b" " * (MAX_BODY + extra) + b"]"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    if close:
        headers["Connection"] = "close"
    url = f"http://{server.host}:{server.port}/v1"
    data: Any = body if declared else iter([body])  # an iterable: sent chunked, no length
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 413
    assert error_code(refused.value.read()) == "payloadTooLarge"


def test_kept_alive_connections_still_carry_several_requests(server: ThreadedServer) -> None:
    task = json.dumps([video_task()]).encode()
    with connect(server) as conn:
        for _ in range(3):
            conn.sendall(
                b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer k\r\nContent-Length: %d\r\n\r\n%s" % (len(task), task)
            )
            status, _, _ = read_response(conn)
            assert status == 200


def test_a_request_right_behind_a_large_body_is_not_taken_for_large_headers(
    server: ThreadedServer,
) -> None:
    # The first body is refused (413) and drained on the kept-alive connection; the
    # second request starts inside the same read as the end of that body.
    big = b"[" + b" " * (4 * MAX_BODY) + b"]"
    first = (
        b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer k\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big)
    )
    second = b"GET /__ltxmock/health HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(server) as conn:
        conn.sendall(first + second)
        assert read_response(conn)[0] == 413
        assert read_response(conn)[0] == 200


# -- the REST lane: whole POST /v1 requests answered from the connection ------------------
def submit_bytes(task_uuid: str, *extra: bytes) -> bytes:
    """A POST /v1 of one valid task (``extra``: header lines)."""
    body = json.dumps([video_task(taskUUID=task_uuid)]).encode()
    return (
        b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {API_KEY}\r\n".encode()
        + b"".join(extra)
        + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


# Each kind of request, and how its answer names it: the lane's (plain, delayed by a
# fault, refused by validation), uvicorn's (a proxy's forwarded header, the admin API).
KINDS = ("lane", "delayed", "invalid", "forwarded", "health")


def request_of(kind: str, task_uuid: str) -> bytes:
    if kind == "health":
        return b"GET /__ltxmock/health HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == "invalid":
        body = json.dumps([video_task(taskUUID=task_uuid, duration=7)]).encode()
        return (
            b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {API_KEY}\r\n".encode()
            + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
    extra = {
        "lane": b"",
        "delayed": b"X-Ltxmock-Fault: delay:0.05\r\n",
        "forwarded": b"X-Forwarded-For: 127.0.0.1\r\n",
    }[kind]
    return submit_bytes(task_uuid, extra)


def names(kind: str, task_uuid: str, status: int, body: bytes) -> bool:
    answer = json.loads(body)
    if kind == "health":
        return status == 200 and answer["status"] == "ok"
    if kind == "invalid":
        return status == 400 and answer["errors"][0]["taskUUID"] == task_uuid
    return status == 200 and answer["data"][0]["taskUUID"] == task_uuid


@given(
    requests=st.lists(
        st.tuples(st.sampled_from(KINDS), st.booleans(), st.none() | st.floats(0.05, 0.95)),
        min_size=1,
        max_size=6,
    ),
    pause=st.sampled_from([0.0, 0.02]),
)
@settings(max_examples=60, deadline=None)
def test_requests_on_one_connection_are_answered_in_order_however_they_are_split(
    server: ThreadedServer, requests: list[tuple[str, bool, float | None]], pause: float
) -> None:
    """The lane holds a connection's next bytes until its answer is written: however
    the byte stream is cut into reads (each request alone, several in one, one cut
    inside), each request gets its own answer, in the order sent.

    Each request: its kind, whether it starts a new read, and where (as a fraction
    of its length) it is cut into two reads, if it is."""
    uuids = [str(uuid.uuid4()) for _ in requests]
    pieces: list[bytes] = []
    for (kind, alone, cut), task_uuid in zip(requests, uuids, strict=True):
        data = request_of(kind, task_uuid)
        if alone or not pieces:
            pieces.append(b"")
        if cut is not None:
            at = max(1, int(len(data) * cut))
            pieces[-1] += data[:at]
            pieces.append(data[at:])
        else:
            pieces[-1] += data
    with connect(server) as conn:
        for piece in pieces:
            conn.sendall(piece)
            time.sleep(pause)
        for (kind, _, _), task_uuid in zip(requests, uuids, strict=True):
            status, _, body = read_response(conn)
            assert names(kind, task_uuid, status, body), (kind, status, body[:300])


def test_a_lane_answer_is_dated(server: ThreadedServer) -> None:
    with connect(server) as conn:
        conn.sendall(submit_bytes(str(uuid.uuid4())))
        status, headers, _ = read_response(conn)
    assert status == 200
    sent = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
    assert abs(sent - time.time()) < 5


def test_a_lane_answer_to_connection_close_closes_the_connection(server: ThreadedServer) -> None:
    with connect(server) as conn:
        conn.sendall(submit_bytes(str(uuid.uuid4()), b"Connection: close\r\n"))
        assert read_response(conn)[0] == 200
        assert closed_by_peer(conn)


def test_an_http_1_0_request_is_answered_then_closed(server: ThreadedServer) -> None:
    request = submit_bytes(str(uuid.uuid4())).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    with connect(server) as conn:
        conn.sendall(request)
        assert read_response(conn)[0] == 200
        assert closed_by_peer(conn)


def test_an_idle_connection_after_a_lane_answer_is_closed(impatient: ThreadedServer) -> None:
    with connect(impatient) as conn:
        conn.sendall(submit_bytes(str(uuid.uuid4())))
        assert read_response(conn)[0] == 200
        started = time.monotonic()
        assert closed_by_peer(conn)  # no request within the headers' time
        assert time.monotonic() - started < IMPATIENT.header_timeout + 3


def test_a_post_whose_headers_and_body_arrive_apart_is_taken_by_the_lane(
    server: ThreadedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """urllib3 sends a request's headers and its body in two writes: the guard keeps
    the first read until the request is whole, and the lane still takes it."""
    taken: list[bool] = []
    take = RestLane.take

    def taking(self: RestLane, *args: Any) -> bool:
        taken.append(take(self, *args))
        return taken[-1]

    monkeypatch.setattr(RestLane, "take", taking)
    request = submit_bytes(str(uuid.uuid4()))
    split = request.index(b"\r\n\r\n") + 4
    with connect(server) as conn:
        conn.sendall(request[:split])
        time.sleep(0.1)  # surely two reads
        conn.sendall(request[split:])
        assert read_response(conn)[0] == 200
    assert taken == [True]


def test_a_post_expecting_100_continue_gets_it_and_its_answer(server: ThreadedServer) -> None:
    request = submit_bytes(str(uuid.uuid4()), b"Expect: 100-continue\r\n")
    split = request.index(b"\r\n\r\n") + 4
    with connect(server) as conn:
        conn.sendall(request[:split])
        interim = conn.recv(25, socket.MSG_PEEK)
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
        recv_exactly(conn, len(b"HTTP/1.1 100 Continue\r\n\r\n"))
        conn.sendall(request[split:])
        assert read_response(conn)[0] == 200
