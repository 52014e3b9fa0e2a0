"""``@runware/sdk-js`` 1.3.2 under Node, unmodified: ``tests/js/video_inference.mjs``.

The driver builds ``new RunwareServer({ apiKey, url: "ws://127.0.0.1:P/v1" })``
(the SDK appends ``?sdk=js&version=1.3.2``) and runs one ``videoInference``,
which acks, then polls ``getResponse`` every 2 s. Needs ``node`` and
``npm install`` in tests/js (the CI script does that before pytest).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.server import API_KEY, video_task

from ltxmock.testing import MockServer

pytestmark = pytest.mark.sdk

JS_DIR = Path(__file__).parents[1] / "js"
DRIVER = JS_DIR / "video_inference.mjs"
SDK_PACKAGE = JS_DIR / "node_modules" / "@runware" / "sdk-js" / "package.json"
SDK_VERSION = "1.3.2"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed (the JS SDK tests need Node.js 18+)")
    if not SDK_PACKAGE.exists():
        pytest.skip(f"@runware/sdk-js is not installed: run `npm install` in {JS_DIR}")
    installed = json.loads(SDK_PACKAGE.read_text())["version"]
    if installed != SDK_VERSION:
        pytest.skip(f"@runware/sdk-js {installed} in tests/js; run `npm install` there")
    return found


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    # 3 s: the SDK's first poll (at +2 s) sees processing, the second success.
    with MockServer(latency=3.0, api_keys=[API_KEY]) as running:
        yield running


def drive(node: str, server: MockServer, params: dict[str, Any]) -> dict[str, Any]:
    job = {"url": server.ws_url, "apiKey": API_KEY, "params": params}
    done = subprocess.run(
        [node, str(DRIVER), json.dumps(job)],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def test_a_1080p_6s_video_with_cost(node: str, server: MockServer) -> None:
    task = video_task(includeCost=True)
    outcome = drive(node, server, task)
    assert outcome["ok"], outcome
    (video,) = outcome["result"]
    assert video["status"] == "success"
    assert video["taskUUID"] == task["taskUUID"]
    assert uuid.UUID(video["videoUUID"])
    assert video["videoURL"].startswith(f"http://127.0.0.1:{server.port}/")
    assert isinstance(video["cost"], float)
    server.assert_submitted(times=1, taskUUID=task["taskUUID"], duration=6, width=1920)
    polls = [
        entry.response["data"][0]["status"]
        for entry in server.service.journal.for_task(task["taskUUID"])
        if "getResponse" in entry.task_types
    ]
    assert polls[0] == "processing"
    assert polls[-1] == "success"


def test_an_unsupported_duration_rejects_with_the_error_item(node: str, server: MockServer) -> None:
    task = video_task(includeCost=True, duration=7)
    outcome = drive(node, server, task)
    assert not outcome["ok"]
    error = outcome["error"]
    assert error["code"] == "unsupportedDuration"
    assert error["parameter"] == "duration"
    assert error["taskUUID"] == task["taskUUID"]
