"""Fixtures and helpers shared by the server tests (``tests/test_server_*.py``).

A test module binds the fixtures it needs (with their dependencies) as module
names, ``client, service, ... = fx.client, fx.service, ...``, and imports the
helpers it uses by name.

    def test_x(client: MockClient, clock: FakeClock) -> None:
        task = video_task()
        client.submit(task)
        clock.advance(3)
        assert client.poll(task["taskUUID"]).data[0]["status"] == "success"

Every ``service`` (and so every ``client``) checks after its test that no
request produced a 5xx the test did not inject.
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from ltxmock.server import MockConfig, MockService, create_app

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
        service: MockService = self.app.extensions["ltxmock"]
        return service

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
        options = {} if body is None else {"json": body}
        return self.request(method, f"/__ltxmock{path}", **options)


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


# -- fixtures -------------------------------------------------------------------
@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mock_config(clock: FakeClock) -> MockConfig:
    """In memory, 3 s latency, on the fake clock. Override per module if needed.

    Lazy rendering: these protocol tests see success right at the latency (on
    the fake clock); tests/test_results_*.py cover the eager default.
    """
    return MockConfig(latency=3.0, clock=clock, render_mode="lazy")


@pytest.fixture
def mock_app(mock_config: MockConfig) -> Flask:
    return create_app(mock_config)


@pytest.fixture
def service(mock_app: Flask) -> Iterator[MockService]:
    service: MockService = mock_app.extensions["ltxmock"]
    yield service
    unexpected = [entry.to_dict() for entry in service.journal.unexpected_errors()]
    service.close()
    assert not unexpected, f"the mock answered 5xx by itself: {unexpected}"


@pytest.fixture
def client(mock_app: Flask, service: MockService) -> MockClient:
    return MockClient(mock_app)


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
    ) -> None:
        self.args = ["--port", "0", "--latency", str(latency), "--render-mode", render_mode, *args]
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
        return self.http.request(method, f"{self.base}/__ltxmock{path}", json=body, timeout=10)

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
