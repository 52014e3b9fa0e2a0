"""Bounded cost per request under ``ltxmock serve``: the ASGI app's ``POST /v1``, the
WebSocket on both runtimes and the ``--max-tasks-per-request`` option.

The shapes and the property around the cap are tests/server/core/test_limits.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.server import API_KEY, MODEL, WsgiServer, asgi_request, video_task
from websockets.sync.client import ClientConnection, connect

from ltxmock.server import MockConfig
from ltxmock.server.core.config import MIB
from ltxmock.server.serve import cli, workers
from ltxmock.server.serve.asgi import create_asgi_app
from ltxmock.testing import MockServer

Server = MockServer | WsgiServer


def post(config: MockConfig, body: Any) -> tuple[int, bytes]:
    raw = json.dumps(body).encode()
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {API_KEY}",
        "content-length": str(len(raw)),
    }
    answer = asyncio.run(asgi_request(create_asgi_app(config), headers=headers, body=raw))
    return answer.status, answer.body


def small_invalid_task() -> dict[str, Any]:
    # About the size of the probe: 20,000 of them in 3.5 MB.
    return {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": MODEL,
        "positivePrompt": "A red fox",
        "width": 1920,
        "height": 1080,
        "duration": 7,
    }


# -- REST, as ltxmock serve answers it -----------------------------------------------


@pytest.mark.parametrize(
    ("count", "max_body_bytes"), [(20_000, 4 * MIB), (40_000, 16 * MIB)], ids=["20k", "40k"]
)
def test_thousands_of_invalid_tasks_get_one_small_400(count: int, max_body_bytes: int) -> None:
    config = MockConfig(render_mode="lazy", max_body_bytes=max_body_bytes)
    body = [small_invalid_task() for _ in range(count)]
    assert len(json.dumps(body)) <= max_body_bytes  # refused for its tasks, not its size
    status, reply = post(config, body)
    assert status == 400
    assert len(reply) < 1000  # was 25 MB (20,000 tasks) and 51 MB (40,000)
    [error] = json.loads(reply)["errors"]
    assert error["code"] == "tooManyTasks"
    assert f"Too many tasks in one request: {count:,}; the limit is 10." in error["message"]


def test_without_the_task_cap_the_error_items_still_bound_the_reply() -> None:
    config = MockConfig(render_mode="lazy", max_tasks_per_request=1000)
    status, reply = post(config, [small_invalid_task() for _ in range(300)])
    assert status == 400
    errors = json.loads(reply)["errors"]
    assert len(errors) == 100
    assert {e["code"] for e in errors[:99]} == {"unsupportedDuration"}
    assert errors[99]["code"] == "moreErrors"
    assert (
        errors[99]["message"] == "... and 201 more errors (this reply shows the first 99 of 300)."
    )
    assert len(reply) < 100_000


# -- the WebSocket, on both runtimes --------------------------------------------------


@pytest.fixture(params=("asgi", "wsgi"))
def ws_mock(request: pytest.FixtureRequest) -> Iterator[Server]:
    settings: dict[str, Any] = {
        "latency": 0.0,
        "api_keys": [API_KEY],
        "max_tasks_per_request": 2,
        "max_error_items": 3,
    }
    server = MockServer(**settings) if request.param == "asgi" else WsgiServer(**settings)
    with server:
        yield server


def exchange(ws: ClientConnection, tasks: Any) -> dict[str, Any]:
    ws.send(json.dumps(tasks))
    frame: dict[str, Any] = json.loads(ws.recv(timeout=5))
    return frame


def test_the_websocket_refuses_too_many_tasks_and_caps_error_items(ws_mock: Server) -> None:
    with connect(ws_mock.ws_url, proxy=None, open_timeout=5) as ws:
        assert exchange(ws, [{"taskType": "authentication", "apiKey": API_KEY}])["data"]
        tasks = [video_task() for _ in range(3)]
        [error] = exchange(ws, tasks)["errors"]
        assert error["code"] == "tooManyTasks"
        assert error["message"].startswith("Too many tasks in one request: 3; the limit is 2.")
        assert set(error) == {"code", "message", "type", "documentation"}
        # Two tasks with two errors each: two shown, then how many more.
        invalid = [video_task(duration=7, fps=13) for _ in range(2)]
        errors = exchange(ws, invalid)["errors"]
        assert [e["code"] for e in errors] == [
            "unsupportedDuration",
            "unsupportedFps",
            "moreErrors",
        ]
        assert errors[2] == {
            "code": "moreErrors",
            "message": "... and 2 more errors (this reply shows the first 2 of 4).",
            "taskUUID": invalid[1]["taskUUID"],
            "taskType": "videoInference",
        }
        # Within the cap, tasks run as ever.
        assert exchange(ws, tasks[:2])["data"] == [
            {"taskType": "videoInference", "taskUUID": t["taskUUID"]} for t in tasks[:2]
        ]
    assert ws_mock.service.store.tasks.count(now=ws_mock.service.now()) == 2


# -- the command line -----------------------------------------------------------------


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ltxmock")
    cli.add_serve_command(parser.add_subparsers())
    return parser


def test_the_option_reaches_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[MockConfig] = []
    monkeypatch.setattr(workers, "serve", lambda config, **_: started.append(config) or 0)
    args = serve_parser().parse_args(["serve"])
    assert args.max_tasks_per_request == MockConfig().max_tasks_per_request
    args = serve_parser().parse_args(["serve", "--max-tasks-per-request", "50"])
    assert cli.run_serve(args) == 0
    assert [config.max_tasks_per_request for config in started] == [50]


def test_a_cap_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = serve_parser().parse_args(["serve", "--max-tasks-per-request", "0"])
    assert cli.run_serve(args) == 2
    assert "max_tasks_per_request must be >= 1" in capsys.readouterr().err
