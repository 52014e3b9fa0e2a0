"""``ltxmock proxy`` as a command: the banner, the exit status with ``--fail-on-drift``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from support.proxy import FakeUpstream, run_asgi
from support.server import API_KEY, video_task

from ltxmock.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wrong_upstream() -> Iterator[str]:
    # Acknowledges with a key too many: one ack-shape drift per submit.
    def answer(body: list[dict[str, Any]]) -> tuple[int, Any]:
        task = body[0]
        if task["taskType"] == "ping":
            return 200, {"data": [{"taskType": "ping", "pong": True}]}
        return 200, {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"], "x": 1}]}

    with run_asgi(FakeUpstream(rest=answer)) as port:
        yield f"http://127.0.0.1:{port}/v1"


def run_proxy(upstream: str, body: Any, *args: str) -> tuple[int, str]:
    command = [sys.executable, "-m", "ltxmock", "proxy", "--port", "0", "--upstream", upstream]
    process = subprocess.Popen(
        [*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on " in line, line
        url = line.split("listening on ")[1].strip()
        base = url.removesuffix("/v1")
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(f"{base}/__ltxmock/health", timeout=5).raise_for_status()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the proxy did not answer"
                time.sleep(0.05)
        headers = {"Authorization": f"Bearer {API_KEY}"}
        assert requests.post(url, json=body, headers=headers, timeout=10).status_code == 200
        deadline = time.monotonic() + 10  # the check runs after the answer
        while requests.get(f"{base}/__ltxmock/drift", timeout=5).json()["total"] == 0:
            if body[0]["taskType"] == "ping" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    return process.returncode, err


def test_fail_on_drift_exits_1_after_a_drift(wrong_upstream: str) -> None:
    code, err = run_proxy(wrong_upstream, [video_task()], "--fail-on-drift")
    assert code == 1
    assert '1 drift(s) {"ack-shape": 1}' in err


def test_without_drift_or_without_the_option_it_exits_0(wrong_upstream: str) -> None:
    assert run_proxy(wrong_upstream, [{"taskType": "ping"}], "--fail-on-drift")[0] == 0
    assert run_proxy(wrong_upstream, [video_task()])[0] == 0


def test_bad_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["proxy", "--upstream", "ftp://x/v1"]) == 2
    assert "upstream must be a http or https URL" in capsys.readouterr().err
    assert main(["proxy", "--record-media"]) == 2
