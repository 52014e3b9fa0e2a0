"""Helpers shared by the server and SDK tests: tasks (``video_task``, ``get_response``),
a fake clock, a Runware-speaking Flask test client (``MockClient``), envelope checks,
one in-process request to an ASGI app (``asgi_request``), ``create_app`` on a
WSGI server (``WsgiServer``) and a real ``ltxmock serve`` child process
(``LiveServer``). No fixtures here: those are in ``tests/server/conftest.py``
(``clock``, ``mock_config``, ``mock_app``, ``service``, ``client``).

    from support.server import MockClient, video_task

    def test_x(client: MockClient, clock: FakeClock) -> None:
        task = video_task()
        client.submit(task)
        clock.advance(3)
        assert client.poll(task["taskUUID"]).data[0]["status"] == "success"
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from ltxmock.server import MockConfig, MockService, create_app
from ltxmock.server.http.app import service_of

API_KEY = "test-key-0123456789"
MODEL = "lightricks:2@1"
START = 1_800_000_000.0  # a fixed wall-clock second, so tests never race real time
URL_SHAPE = (
    r"^http://localhost/video/os/[0-9a-f]{6}/ws/2/vi/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.(mp4|webm|mov)$"
)


class FakeClock:
    """An injectable clock: ``clock.advance(2.5)`` instead of ``time.sleep(2.5)``."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def new_uuid() -> str:
    return str(uuid.uuid4())


def video_task(**overrides: Any) -> dict[str, Any]:
    """A valid LTX-2 Fast task (1080p, 6 s, async); override any field."""
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": new_uuid(),
        "model": MODEL,
        "positivePrompt": "A red fox runs through fresh snow at dawn",
        "width": 1920,
        "height": 1080,
        "duration": 6,
        "deliveryMethod": "async",
    }
    task.update(overrides)
    return task


def get_response(task_uuid: str) -> dict[str, Any]:
    return {"taskType": "getResponse", "taskUUID": task_uuid}


def auth_element(key: str = API_KEY) -> dict[str, Any]:
    return {"taskType": "authentication", "apiKey": key}


@dataclass
class Answer:
    """One HTTP answer, with the parts the tests look at."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def data(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.body.get("data", [])
        return items

    @property
    def errors(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.body.get("errors", [])
        return items

    @property
    def codes(self) -> list[str]:
        return [error["code"] for error in self.errors]

    @property
    def statuses(self) -> list[str]:
        return [item.get("status", "") for item in self.data]


class MockClient:
    """Flask's test client, speaking Runware: ``post``, ``submit``, ``poll``, ``admin``."""

    def __init__(self, app: Flask, key: str | None = API_KEY) -> None:
        self.app = app
        self.key = key
        self._http = app.test_client()

    @property
    def service(self) -> MockService:
        return service_of(self.app)

    def post(
        self,
        body: Any = None,
        *,
        key: str | None = "",
        headers: Mapping[str, str] | None = None,
        raw: bytes | str | None = None,
        content_type: str | None = "application/json",
        path: str = "/v1",
    ) -> Answer:
        """POST ``body`` as JSON (or ``raw`` bytes); ``key=None`` sends no Authorization."""
        sent = dict(headers or {})
        key = self.key if key == "" else key
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if content_type is not None:
            sent["Content-Type"] = content_type
        data = raw if raw is not None else json.dumps(body)
        response = self._http.post(path, data=data, headers=sent)
        return _answer(response.status_code, response.get_data(), response.headers)

    def submit(self, *tasks: dict[str, Any], **options: Any) -> Answer:
        return self.post(list(tasks), **options)

    def poll(self, *task_uuids: str, **options: Any) -> Answer:
        return self.post([get_response(u) for u in task_uuids], **options)

    def request(self, method: str, path: str, **options: Any) -> Answer:
        response = self._http.open(path, method=method, **options)
        return _answer(response.status_code, response.get_data(), response.headers)

    def admin(self, method: str, path: str, body: Any = None) -> Answer:
        # The admin guard wants the JSON content type on every change, body or not.
        options: dict[str, Any] = {"headers": {"Content-Type": "application/json"}}
        if body is not None:
            options["json"] = body
        return self.request(method, f"/__ltxmock{path}", **options)


# Retries within tenths of a second, so delivery tests wait little.
FAST_DELIVERIES: dict[str, Any] = {
    "delivery_backoff": 0.02,
    "delivery_backoff_cap": 0.1,
    "delivery_poll_interval": 0.02,
}


def delivery_mock(data_dir: Path, **overrides: Any) -> MockClient:
    """A mock on ``data_dir`` that renders in a thread and retries deliveries fast."""
    config = MockConfig(latency=0, render_executor="thread", data_dir=data_dir, **FAST_DELIVERIES)
    return MockClient(create_app(config.replace(**overrides)))


def _answer(status: int, payload: bytes, headers: Mapping[str, str]) -> Answer:
    content_type = headers.get("Content-Type", "")
    assert content_type == "application/json", f"HTTP {status} answered as {content_type!r}"
    return Answer(status, json.loads(payload), dict(headers))


def assert_runware_shaped(status: int, body: Any) -> None:
    """The envelope rules every answer of POST /v1 obeys."""
    assert isinstance(body, dict), body
    assert body, "an empty envelope"
    assert set(body) <= {"data", "errors"}, body
    if "errors" in body:
        assert isinstance(body["errors"], list), body
        assert body["errors"], "errors is never empty"
        for error in body["errors"]:
            assert isinstance(error["code"], str), error
            assert isinstance(error["message"], str), error
        assert status != 200 or "taskUUID" in body["errors"][0], "200 errors are task-scoped"
    else:
        assert status == 200, f"HTTP {status} without errors: {body}"
    if "data" in body:
        assert isinstance(body["data"], list)


# -- an ASGI app, in process -------------------------------------------------------
@dataclass
class RawAnswer:
    """An HTTP answer as sent: status, headers (names in lower case), body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes


async def asgi_request(
    app: Any,
    *,
    method: str = "POST",
    path: str = "/v1",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    host: str = "127.0.0.1:8080",
) -> RawAnswer:
    """One HTTP request to an ASGI ``app`` (``AsgiMock``), without sockets.

    ``headers`` are sent as given (lower-cased), after ``host``; add
    ``content-length`` yourself if the request should declare one.
    """
    sent = [(b"host", host.encode("latin-1"))] + [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in (headers or {}).items()
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "headers": sent,
    }
    messages: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    answer_headers = {
        name.decode("latin-1"): value.decode("latin-1") for name, value in start["headers"]
    }
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return RawAnswer(start["status"], answer_headers, content)


# -- create_app under a WSGI server -------------------------------------------------
class WsgiServer:
    """``create_app`` on Werkzeug's threaded server, on a free 127.0.0.1 port: the
    Flask view for ``POST /v1`` and flask-sock for the WebSocket (``http/websocket.py``),
    as under any WSGI server. The same face as ``ltxmock.testing.MockServer``
    (``port``, ``url``, ``ws_url``, ``app``, ``service``), which runs the ASGI app.
    """

    def __init__(self, config: MockConfig | None = None, **overrides: Any) -> None:
        from werkzeug.serving import make_server

        self.config = (config or MockConfig()).replace(
            **{"port": 0, "render_mode": "lazy", **overrides}
        )
        self.app = create_app(self.config)
        self._server = make_server(self.config.host, 0, self.app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ltxmock-wsgi", daemon=True
        )

    @property
    def service(self) -> MockService:
        return service_of(self.app)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/v1"

    def __enter__(self) -> WsgiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self.service.close()


# -- a real ``ltxmock serve`` process ---------------------------------------------
SERVE = "import sys; from ltxmock.cli import main; sys.exit(main(sys.argv[1:]))"


class LiveServer:
    """``ltxmock serve --port 0 ...`` in a child process; ``url`` once it is ready."""

    def __init__(
        self,
        *args: str,
        latency: float = 0.5,
        data_dir: Path | None = None,
        render_mode: str = "lazy",  # protocol tests: success right at the latency
        render_niceness: int = 0,
    ) -> None:
        # Renders at the server's own priority (serve lowers it by 10): on a machine
        # crowded by other tests, niced renders barely run and webhooks come late.
        self.args = ["--port", "0", "--latency", str(latency), "--render-mode", render_mode,
                     "--render-niceness", str(render_niceness), *args]  # fmt: skip
        if data_dir is not None:
            self.args += ["--data-dir", str(data_dir)]
        self.process: subprocess.Popen[str] | None = None
        self.banner: list[str] = []
        self.stderr: list[str] = []
        self.base = ""
        self.ready_after = 0.0
        # One session, closed before stopping: an idle kept-alive connection
        # would make gunicorn's graceful stop linger for ~2 s.
        self.http = requests.Session()
        self._lines: queue.Queue[str | None] = queue.Queue()

    @property
    def url(self) -> str:
        return f"{self.base}/v1"

    def start(self, timeout: float = 15.0) -> LiveServer:
        started = time.monotonic()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group, like a terminal job
        )
        threading.Thread(target=self._pump, args=(self.process.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, False), daemon=True).start()
        deadline = started + timeout
        while not self.banner or "Ctrl-C" not in self.banner[-1]:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError(f"ltxmock serve did not start: {''.join(self.stderr)}")
            self.banner.append(line)
            if "listening on " in line:
                self.base = line.split("listening on ")[1].strip().removesuffix("/v1")
        # Ready means answering, not just bound: wait for the first health check.
        while True:
            try:
                self.get("/__ltxmock/health").raise_for_status()
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.ready_after = time.monotonic() - started
        return self

    def later_stdout(self) -> list[str]:
        """The lines ``serve`` printed after its banner and not yet read (call after
        ``stop``: then every one of them)."""
        lines = []
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return lines
            if line is not None:
                lines.append(line)

    def _pump(self, stream: Any, is_stdout: bool) -> None:
        for line in stream:
            (self._lines.put if is_stdout else self.stderr.append)(line)
        if is_stdout:
            self._lines.put(None)

    def post(self, body: Any, *, key: str | None = API_KEY, **options: Any) -> requests.Response:
        headers = dict(options.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return self.http.post(self.url, json=body, headers=headers, timeout=10, **options)

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.base}{path}", timeout=10)

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Content-Type": "application/json"}  # the admin guard wants it, body or not
        return self.http.request(
            method, f"{self.base}/__ltxmock{path}", json=body, headers=headers, timeout=10
        )

    def stop(self, sig: int = signal.SIGINT, *, group: bool = False) -> int:
        """Signal the server (its whole process group if ``group``, like Ctrl-C).

        SIGINT is a quick stop; SIGTERM is graceful, and lets a kept-alive idle
        connection linger for up to 2 s (gunicorn's choice), so tests avoid it.
        """
        self.http.close()
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            if group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
        time.sleep(0.05)  # let the pump threads collect the last lines
        return code

    @property
    def log(self) -> str:
        return "".join(self.stderr)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        assert "Traceback" not in self.log, self.log


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; a failed assertion after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def masked_text(payload: bytes) -> bytes:
    """One client-to-server WebSocket text frame, built by hand (clients must mask)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = bytes([0x81, 0x80 | size])
    elif size < 1 << 16:
        header = bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
