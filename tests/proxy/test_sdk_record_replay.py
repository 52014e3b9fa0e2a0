"""The issue's "done when": runware-sdk 1.8.0, unmodified, completes a task through the
proxy with recording on (REST and WebSocket), then completes the same task against
``ltxmock serve --replay DIR`` while the upstream is gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.proxy import proxy_to
from support.sdk import run_sdk, runware_sdk
from support.server import API_KEY, LiveServer, video_task

from ltxmock.testing import MockServer

pytestmark = [pytest.mark.sdk, pytest.mark.slow]


@pytest.fixture(scope="module")
def runware() -> Any:
    return runware_sdk()


def run(runware: Any, transport: str, url: str, params: dict[str, Any]) -> Any:
    return run_sdk(runware, url, params, transport=transport)


@pytest.mark.parametrize("transport", ["rest", "websocket"])
def test_record_through_the_proxy_then_replay_without_the_upstream(
    runware: Any, transport: str, tmp_path: Path
) -> None:
    cassettes = tmp_path / "cassettes"
    params = video_task(includeCost=True)
    del params["taskUUID"]
    first = {**params, "taskUUID": video_task()["taskUUID"]}
    with (
        MockServer(latency=1.2, api_keys=[API_KEY]) as upstream,
        proxy_to(upstream.url, record_dir=cassettes) as proxy,
    ):
        (recorded,) = run(runware, transport, proxy.url, first)
        assert recorded["status"] == "success"
        assert recorded["taskUUID"] == first["taskUUID"]
        upstream.assert_submitted(times=1, taskUUID=first["taskUUID"])
        proxy.app.checker.join(10)
        assert proxy.drift()["total"] == 0
    (cassette,) = cassettes.glob("*.jsonl")
    events = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert [e["event"] for e in events][:2] == ["submit", "ack"]
    assert events[-1]["event"] == "poll"
    assert events[-1]["data"][0]["status"] == "success"
    assert API_KEY not in cassette.read_text()

    # The upstream is stopped: only the cassettes can answer now.
    second = {**params, "taskUUID": video_task()["taskUUID"]}
    replay = LiveServer("--replay", str(cassettes), "--replay-strict", "--api-key", API_KEY)
    replay.start()
    try:
        (replayed,) = run(runware, transport, replay.url, second)
    finally:
        replay.stop()
    assert replayed["taskUUID"] == second["taskUUID"]  # rewritten to the caller's
    assert replayed["status"] == "success"
    assert replayed["videoUUID"] == recorded["videoUUID"]
    assert replayed["cost"] == recorded["cost"]
