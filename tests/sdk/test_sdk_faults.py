"""The official Python SDK (runware-sdk 1.8.0) meets faults any client can trigger: a
prompt directive that fails the task, and credits that run out (402)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.sdk import exchanges_naming, run_sdk, runware_sdk
from support.server import LiveServer, new_uuid

pytestmark = [pytest.mark.sdk, pytest.mark.slow]

runware = runware_sdk()

BROKE_KEY = "broke-key-0123456789"
TASK = {
    "taskType": "videoInference",
    "model": "lightricks:2@1",
    "width": 1920,
    "height": 1080,
    "duration": 6,
    "includeCost": True,
}


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with LiveServer("--balance", "5", latency=0.5) as server:
        yield server


def run(live: LiveServer, params: dict[str, Any], key: str, transport: str = "rest") -> Any:
    return run_sdk(runware, live.url, params, key=key, transport=transport, max_retries=3)


def submits_of(live: LiveServer, task_uuid: str) -> list[dict[str, Any]]:
    return exchanges_naming(live, task_uuid, task_type="videoInference")


@pytest.mark.parametrize("transport", ["rest", "websocket"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [("providerError", "provider"), ("contentPolicyViolation", "safety")],
)
def test_an_error_directive_raises_the_sdk_error_of_its_code(
    live: LiveServer, transport: str, code: str, expected: str
) -> None:
    task_uuid = new_uuid()
    params = {
        **TASK,
        "taskUUID": task_uuid,
        "positivePrompt": f"a red fox [[ltxmock:error={code}]]",
    }
    with pytest.raises(runware.RunwareError) as caught:
        run(live, params, key="sdk-key-0123456789", transport=transport)
    error = caught.value
    assert error.code == expected
    assert error.task_uuid == task_uuid
    assert "ltxmock" not in error.message


def test_running_out_of_credits_raises_a_quota_error_without_retries(live: LiveServer) -> None:
    assert live.admin("PUT", "/credits", {"apiKey": BROKE_KEY, "balance": 0.3}).status_code == 200
    first = run(live, {**TASK, "taskUUID": new_uuid(), "positivePrompt": "a red fox"}, BROKE_KEY)
    assert first[0]["cost"] == 0.24
    task_uuid = new_uuid()
    with pytest.raises(runware.RunwareError) as caught:
        run(live, {**TASK, "taskUUID": task_uuid, "positivePrompt": "a red fox"}, BROKE_KEY)
    error = caught.value
    assert (error.code, error.status_code, error.retryable) == ("quota", 402, False)
    assert "Insufficient credits" in error.message
    assert [e["status"] for e in submits_of(live, task_uuid)] == [402]  # not retried


def test_the_sdk_retries_a_reset_connection_and_the_task_is_acked_once(live: LiveServer) -> None:
    task_uuid = new_uuid()
    rule = {"transport": "reset", "match": {"taskUUID": task_uuid}, "taskType": "videoInference"}
    assert live.admin("POST", "/faults", rule).status_code == 201
    params = {**TASK, "taskUUID": task_uuid, "positivePrompt": "a red fox"}
    (result,) = run(live, params, key="sdk-key-0123456789")
    assert (result["status"], result["taskUUID"]) == ("success", task_uuid)
    submits = submits_of(live, task_uuid)
    assert [e["fault"] for e in submits] == ["transport:reset", None]
    assert [e["response"] for e in submits] == [
        {"data": [{"taskType": "videoInference", "taskUUID": task_uuid}]}
    ] * 2
