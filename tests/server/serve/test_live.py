"""A real ``ltxmock serve`` process (gunicorn, uvicorn workers) on a free port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.server import API_KEY, SERVE, LiveServer, get_response, video_task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(latency=0.6) as live:
        yield live


def test_serve_says_where_it_listens_and_how_to_point_the_sdk_at_it(server: LiveServer) -> None:
    # How fast it starts is measured in bench/ (start-up vs Prism), not asserted here.
    banner = "".join(server.banner)
    assert f"POST {server.url}" in banner
    assert (
        f'Runware(api_key="any-key", transport="rest", http_base_url="{server.url}", '
        f'ws_base_url="{server.url.replace("http://", "ws://")}")'
    ) in banner
    assert server.base.startswith("http://127.0.0.1:")


def test_a_task_goes_from_processing_to_success_over_http(server: LiveServer) -> None:
    task = video_task(includeCost=True)
    ack = server.post([task])
    assert ack.status_code == 200
    assert ack.headers["Content-Type"] == "application/json"
    assert ack.json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    submitted = time.monotonic()
    processing = server.post([get_response(task["taskUUID"])]).json()["data"][0]
    assert processing["status"] == "processing"
    time.sleep(max(0.0, 0.65 - (time.monotonic() - submitted)))
    done = server.post([get_response(task["taskUUID"])]).json()["data"][0]
    assert done["status"] == "success"
    assert done["cost"] == 0.24
    assert done["videoURL"].startswith(f"{server.base}/video/os/")
    assert "Retry-After" not in ack.headers


def test_errors_over_a_real_socket_are_json(server: LiveServer) -> None:
    assert server.post([video_task()], key=None).status_code == 401
    bad = server.get("/v1")
    assert bad.status_code in (400, 405)  # GET /v1 is the WebSocket upgrade path
    assert bad.headers["Content-Type"] == "application/json"
    missing = server.http.post(f"{server.base}/nope", timeout=5)
    assert (missing.status_code, missing.headers["Content-Type"]) == (404, "application/json")
    injected = server.post([{"taskType": "ping"}], headers={"X-Ltxmock-Fault": "503"})
    assert injected.status_code == 503
    assert injected.json()["errors"][0]["code"] == "serviceUnavailable"
    assert "Retry-After" not in injected.headers


def test_an_oversized_body_gets_a_readable_413(server: LiveServer) -> None:
    big = b"[" + b" " * (5 * 1024 * 1024) + b"]"
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    declared = server.http.post(server.url, data=big, headers=headers, timeout=10)
    assert (declared.status_code, declared.json()["errors"][0]["code"]) == (413, "payloadTooLarge")

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    chunked = server.http.post(server.url, data=chunks(), headers=headers, timeout=10)
    assert (chunked.status_code, chunked.json()["errors"][0]["code"]) == (413, "payloadTooLarge")


def test_the_live_server_never_answered_5xx_by_itself(server: LiveServer) -> None:
    # The tests above use this server only when pytest-xdist runs them in this
    # worker too: so this test makes its own exchanges first, good, bad and faulted.
    task = video_task()
    assert server.post([task]).status_code == 200
    assert server.post([get_response(task["taskUUID"])]).status_code == 200
    assert server.post([video_task(duration=7)]).status_code == 400
    assert (
        server.post([{"taskType": "ping"}], headers={"X-Ltxmock-Fault": "500"}).status_code == 500
    )
    entries = server.admin("GET", "/requests").json()["requests"]
    assert len(entries) >= 4
    assert [e for e in entries if e["status"] >= 500 and e["fault"] is None] == []
    assert [e["fault"] for e in entries if e["status"] >= 500] != []  # the injected one
    assert "Traceback" not in server.log


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["sigterm", "ctrl-c"],
)
def test_stopping_is_clean_with_exit_status_0(sig: int, group: bool) -> None:
    live = LiveServer(latency=0).start()
    assert live.post([{"taskType": "ping"}]).status_code == 200
    assert live.stop(sig, group=group) == 0
    assert "Traceback" not in live.log
    assert "Error" not in live.log


def test_two_processes_sharing_a_data_dir_serve_the_same_tasks(tmp_path: Path) -> None:
    with (
        LiveServer(latency=0.3, data_dir=tmp_path) as one,
        LiveServer(latency=0.3, data_dir=tmp_path) as two,
    ):
        task = video_task(numberResults=2)
        assert one.post([task]).status_code == 200
        assert two.post([task]).status_code == 200  # a retry reaching the other process
        time.sleep(0.35)
        from_one = one.post([get_response(task["taskUUID"])]).json()["data"]
        from_two = two.post([get_response(task["taskUUID"])]).json()["data"]
        assert [item["status"] for item in from_two] == ["success", "success"]
        assert [i["videoUUID"] for i in from_one] == [i["videoUUID"] for i in from_two]
        one.admin("POST", "/faults", {"status": 429, "times": 1})
        assert two.post([{"taskType": "ping"}]).status_code == 429  # faults are shared too


def test_a_restart_keeps_the_tasks(tmp_path: Path) -> None:
    task = video_task()
    with LiveServer(latency=0, data_dir=tmp_path) as before:
        assert before.post([task]).status_code == 200
    with LiveServer(latency=0, data_dir=tmp_path) as after:
        answer = after.post([get_response(task["taskUUID"])])
        assert [item["status"] for item in answer.json()["data"]] == ["success"]


def test_several_workers_share_one_store(tmp_path: Path) -> None:
    with LiveServer("--workers", "2", latency=0) as live:
        assert "(temporary)" in "".join(live.banner)
        tasks = [video_task() for _ in range(6)]
        for task in tasks:
            assert live.post([task]).status_code == 200
        for task in tasks:
            polled = live.post([get_response(task["taskUUID"])])
            assert polled.status_code == 200, polled.text


def test_a_busy_port_fails_fast_with_a_clear_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", SERVE, "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert "already in use" in result.stderr
    assert time.monotonic() - started < 5


def test_an_invalid_spec_dir_fails_at_start_naming_the_file_and_place(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text('{"openapi": "3.1.0", "info": 5, "paths": {}}')
    result = subprocess.run(
        [sys.executable, "-c", SERVE, "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LTXMOCK_SPEC_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert f"{tmp_path / 'model.json'}: not a valid OpenAPI document: at $.info" in result.stderr


def test_responses_arrive_whole_on_a_kept_alive_socket_and_websockets_upgrade(
    server: LiveServer,
) -> None:
    # Kept-alive connections carry several whole responses, then an upgrade.
    host, port = server.base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        for _ in range(3):
            conn.sendall(b"GET /__ltxmock/health HTTP/1.1\r\nHost: x\r\n\r\n")
            head, body = _read_response(conn)
            assert head.startswith(b"HTTP/1.1 200")
            assert json.loads(body)["status"] == "ok"
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"GET /v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 101")
        assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in answer  # the RFC 6455 example's accept key


def _read_response(conn: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(4096)
    return head, body
