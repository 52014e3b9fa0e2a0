"""``runware-sdk`` 1.8.0 (import name ``runware``) over WebSocket, unmodified.

Pointed at the mock only through its constructor:
``Runware(api_key=..., transport="websocket", ws_base_url="ws://127.0.0.1:P/v1")``.
``taskType`` is passed because lightricks:2@1 is not in the SDK's bundled
registry (without it the SDK asks schemas.runware.ai); ``validate`` stays off.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.sdk import runware_sdk
from support.server import API_KEY, video_task

from ltxmock.testing import MockServer

pytestmark = pytest.mark.sdk


@pytest.fixture(scope="module")
def runware() -> Any:
    return runware_sdk()


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    # 1.2 s: the SDK's first poll (after 1 s) sees processing, the second success.
    with MockServer(latency=1.2, api_keys=[API_KEY]) as running:
        yield running


def run(runware: Any, server: MockServer, params: dict[str, Any], key: str = API_KEY) -> Any:
    async def go() -> Any:
        async with runware.Runware(
            api_key=key, transport="websocket", ws_base_url=server.ws_url
        ) as client:
            return await client.run(params)

    return asyncio.run(go())


def test_a_1080p_6s_video_with_cost(runware: Any, server: MockServer) -> None:
    task = video_task(includeCost=True)
    results = run(runware, server, task)
    (result,) = results
    assert result["taskUUID"] == task["taskUUID"]
    assert result["status"] == "success"
    assert uuid.UUID(result["videoUUID"])
    assert result["videoURL"].startswith(f"http://127.0.0.1:{server.port}/")
    assert isinstance(result["cost"], float)
    server.assert_submitted(times=1, taskUUID=task["taskUUID"], duration=6, width=1920)
    polls = [e for e in server.service.journal.for_task(task["taskUUID"]) if e.transport == "ws"]
    statuses = [e.response["data"][0].get("status") for e in polls[1:]]
    assert statuses[0] == "processing"
    assert statuses[-1] == "success"


def test_an_unsupported_duration_raises_a_validation_error(
    runware: Any, server: MockServer
) -> None:
    task = video_task(includeCost=True, duration=7)
    with pytest.raises(runware.RunwareError) as raised:
        run(runware, server, task)
    error = raised.value
    assert error.code == "validation"
    assert error.parameter == "duration"
    assert error.task_uuid == task["taskUUID"]
    assert error.task_type == "videoInference"
    assert "duration" in error.message


def test_a_wrong_key_fails_authentication(runware: Any, server: MockServer) -> None:
    with pytest.raises(runware.RunwareError) as raised:
        run(runware, server, video_task(), key="not-the-key")
    assert raised.value.code == "auth"
