"""openapi-core's verdicts, as the proxy uses them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltxmock.validators import default_validator
from support.server import video_task

from ltxmock import strategies as S  # noqa: N812
from ltxmock.proxy.contract import Contract


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(default_validator().documents)


def test_openapi_core_reads_the_model_tasks_of_a_request(contract: Contract) -> None:
    (problem,) = contract.check_request([video_task(duration=7)])
    assert "duration" in problem
    assert contract.check_request([{"taskType": "getResponse", "taskUUID": "x"}]) == []


@given(task=S.valid_tasks())
def test_valid_tasks_pass_openapi_core_too(contract: Contract, task: dict[str, Any]) -> None:
    assert contract.check_request([task]) == []


@given(status=st.sampled_from([200, 400, 401, 402, 403, 429, 500, 503]))
def test_documented_answers_pass_and_others_do_not(contract: Contract, status: int) -> None:
    error = {"errors": [{"code": "x", "message": "y", "taskUUID": "z"}]}
    body = {"data": [{"taskType": "ping", "pong": True}]} if status == 200 else error
    assert contract.check_response(status, json.dumps(body).encode()) == []
    assert contract.check_response(418, json.dumps(body).encode()) != []


def test_a_repeated_answer_is_judged_once(
    contract: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = contract._check_response

    def counting(status: int, body: bytes) -> list[str]:
        calls.append(status)
        return real(status, body)

    monkeypatch.setattr(contract, "_check_response", counting)
    body = json.dumps({"data": [{"taskUUID": "unique-to-this-test"}]}).encode()
    assert contract.check_response(200, body) == contract.check_response(200, body) == []
    assert contract.check_response(200, b'{"data": [1]}') != []
    assert calls == [200, 200]
