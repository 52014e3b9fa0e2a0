"""The official Python SDK (runware-sdk 1.8.0, import name ``runware``) against a live mock.

Called as the README's SDK section says: REST transport, the base URLs
as constructor arguments, ``taskType`` in the params (lightricks:2@1 is not in
the SDK's bundled registry), ``validate`` left off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from support.sdk import exchanges_naming, run_sdk, runware_sdk
from support.server import API_KEY, LiveServer, new_uuid

pytestmark = [pytest.mark.sdk, pytest.mark.slow]

runware = runware_sdk()

LTX_FAST_1080P = {
    "taskType": "videoInference",
    "model": "lightricks:2@1",
    "positivePrompt": "A red fox runs through fresh snow at dawn, cinematic",
    "width": 1920,
    "height": 1080,
    "duration": 6,
    "includeCost": True,
}


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with LiveServer(latency=1.0) as server:
        yield server


def run(live: LiveServer, params: dict[str, Any], transport: str = "rest") -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = run_sdk(
        runware, live.url, params, transport=transport, max_retries=3
    )
    return results


def exchanges_for(live: LiveServer, task_uuid: str) -> list[dict[str, Any]]:
    return exchanges_naming(live, task_uuid)


def test_the_sdk_generates_a_1080p_6s_video_with_its_cost(live: LiveServer) -> None:
    task_uuid = new_uuid()
    (result,) = run(live, {**LTX_FAST_1080P, "taskUUID": task_uuid})
    assert result["status"] == "success"
    assert result["taskUUID"] == task_uuid
    assert result["videoURL"].startswith(f"{live.base}/video/os/")
    assert result["videoURL"].endswith(f"/{result['videoUUID']}.mp4")
    assert result["cost"] == 0.24
    exchanges = exchanges_for(live, task_uuid)
    submit, *polls = exchanges
    assert submit["request"][0]["deliveryMethod"] == "async"
    assert submit["response"] == {"data": [{"taskType": "videoInference", "taskUUID": task_uuid}]}
    assert polls
    assert all(p["request"] == [{"taskType": "getResponse", "taskUUID": task_uuid}] for p in polls)
    assert [e["status"] for e in exchanges] == [200] * len(exchanges)
    assert API_KEY not in str(exchanges)


def test_the_sdk_reports_a_validation_error_from_a_400(live: LiveServer) -> None:
    task_uuid = new_uuid()
    with pytest.raises(runware.RunwareError) as caught:
        run(live, {**LTX_FAST_1080P, "taskUUID": task_uuid, "duration": 7})
    error = caught.value
    assert error.code == "validation"
    assert error.parameter == "duration"
    assert error.status_code == 400
    assert error.task_uuid == task_uuid
    assert error.retryable is False
    assert len(exchanges_for(live, task_uuid)) == 1  # a 400 is not retried


def test_the_sdk_retries_an_injected_429_and_the_resubmit_is_idempotent(
    live: LiveServer,
) -> None:
    live.admin("POST", "/faults", {"status": 429, "times": 1, "taskType": "videoInference"})
    task_uuid = new_uuid()
    (result,) = run(live, {**LTX_FAST_1080P, "taskUUID": task_uuid})
    assert result["status"] == "success"
    statuses = [e["status"] for e in exchanges_for(live, task_uuid)]
    assert statuses[:2] == [429, 200]


def test_the_sdk_surfaces_a_task_that_fails_while_polled(live: LiveServer) -> None:
    live.admin("POST", "/faults", {"task": "timeoutProvider", "times": 1})
    task_uuid = new_uuid()
    with pytest.raises(runware.RunwareError) as caught:
        run(live, {**LTX_FAST_1080P, "taskUUID": task_uuid})
    assert "did not respond within the timeout window" in caught.value.message
    assert caught.value.task_uuid == task_uuid


def test_the_sdk_sees_an_unknown_task_as_not_found(live: LiveServer) -> None:
    async def poll() -> Any:
        async with runware.Runware(api_key=API_KEY, transport="rest", http_base_url=live.url) as c:
            return await c.get_response({"taskUUID": new_uuid()})

    with pytest.raises(runware.RunwareError) as caught:
        asyncio.run(poll())
    assert caught.value.code == "notFound"


def test_the_sdk_over_the_websocket_of_a_live_server(live: LiveServer) -> None:
    # The WebSocket of gunicorn workers (a process per core), not the test kit's thread.
    task_uuid = new_uuid()
    (result,) = run(live, {**LTX_FAST_1080P, "taskUUID": task_uuid}, transport="websocket")
    assert (result["status"], result["taskUUID"], result["cost"]) == ("success", task_uuid, 0.24)
    ws_exchanges = [e for e in exchanges_for(live, task_uuid) if e["transport"] == "ws"]
    assert ws_exchanges[0]["response"] == {
        "data": [{"taskType": "videoInference", "taskUUID": task_uuid}]
    }
    with pytest.raises(runware.RunwareError) as caught:
        run(live, {**LTX_FAST_1080P, "taskUUID": new_uuid(), "duration": 7}, "websocket")
    assert (caught.value.code, caught.value.parameter) == ("validation", "duration")
