"""The proxy's gate: invalid requests are answered here and never reach the upstream;
valid ones are forwarded with the caller's credentials, answers come back untouched."""

from __future__ import annotations

import time
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.proxy import FakeUpstream, RunningProxy, proxy_to, proxy_to_fake
from support.server import API_KEY, assert_runware_shaped, get_response, new_uuid, video_task

from ltxmock import strategies as S  # noqa: N812
from ltxmock.testing import MockServer

FAST = settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])


def journaled_uuids(upstream: MockServer) -> set[str]:
    found = set()
    for entry in upstream.requests:
        for task in entry.request if isinstance(entry.request, list) else []:
            if isinstance(task, dict) and isinstance(task.get("taskUUID"), str):
                found.add(task["taskUUID"])
    return found


def test_an_invalid_task_gets_the_400_and_never_reaches_the_upstream(
    proxy: RunningProxy, upstream: MockServer
) -> None:
    task = video_task(duration=7)
    before = len(upstream.requests)
    answer = proxy.post([task])
    assert answer.status_code == 400
    assert_runware_shaped(answer.status_code, answer.json())
    (error,) = answer.json()["errors"]
    assert (error["code"], error["parameter"], error["taskUUID"]) == (
        "unsupportedDuration",
        "duration",
        task["taskUUID"],
    )
    assert len(upstream.requests) == before
    assert task["taskUUID"] not in journaled_uuids(upstream)


@FAST
@given(bad=S.invalid_tasks())
def test_no_invalid_task_reaches_the_upstream(
    proxy: RunningProxy, upstream: MockServer, bad: Any
) -> None:
    before = len(upstream.requests)
    answer = proxy.post([bad.task])
    assert answer.status_code == 400, answer.text
    assert_runware_shaped(400, answer.json())
    assert len(upstream.requests) == before


@FAST
@given(task=S.valid_tasks())
def test_valid_tasks_are_forwarded_and_acknowledged(
    proxy: RunningProxy, upstream: MockServer, task: dict[str, Any]
) -> None:
    task = {**task, "taskUUID": new_uuid()}  # derandomized examples repeat UUIDs
    answer = proxy.post([task])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    assert upstream.submitted_tasks()[-1]["taskUUID"] == task["taskUUID"]


def test_bodies_that_are_not_task_arrays_are_refused_here(
    proxy: RunningProxy, upstream: MockServer
) -> None:
    before = len(upstream.requests)
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    for body, status in ((b"{not json", 400), (b"{}", 400), (b"[]", 400), (b"[1]", 400)):
        answer = proxy.http.post(proxy.url, data=body, headers=headers, timeout=10)
        assert answer.status_code == status
        assert_runware_shaped(status, answer.json())
    answer = proxy.http.post(
        proxy.url, data=b"[]", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert answer.status_code == 400
    huge = b"[" + b" " * (4 * 1024 * 1024 + 1) + b"]"
    answer = proxy.http.post(proxy.url, data=huge, headers=headers, timeout=30)
    assert answer.status_code == 413
    assert len(upstream.requests) == before


def test_the_callers_credentials_go_upstream_and_its_answers_come_back_untouched(
    proxy: RunningProxy, upstream: MockServer
) -> None:
    task = video_task(includeCost=True)
    wrong = proxy.post([task], key="not-the-key")
    direct = requests.post(
        upstream.url, json=[task], headers={"Authorization": "Bearer not-the-key"}, timeout=10
    )
    assert (
        (wrong.status_code, wrong.content)
        == (direct.status_code, direct.content)
        == (
            401,
            direct.content,
        )
    )
    assert proxy.post([task]).status_code == 200  # the right key, from the caller's header
    time.sleep(0.35)
    through = proxy.post([get_response(task["taskUUID"])])
    direct = requests.post(
        upstream.url,
        json=[get_response(task["taskUUID"])],
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=10,
    )
    assert through.status_code == 200
    assert through.content == direct.content
    assert through.headers["content-type"] == direct.headers["content-type"]


def test_an_authentication_element_is_forwarded_as_sent(
    proxy: RunningProxy, upstream: MockServer
) -> None:
    task = video_task()
    answer = proxy.post([{"taskType": "authentication", "apiKey": API_KEY}, task], key=None)
    assert answer.status_code == 200
    assert answer.json()["data"] == [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]


def test_an_unreachable_upstream_is_a_runware_shaped_502() -> None:
    with proxy_to("http://127.0.0.1:9/v1") as proxy:  # the discard port: nothing listens
        answer = proxy.post([video_task()])
        assert answer.status_code == 502
        assert_runware_shaped(502, answer.json())
        assert answer.json()["errors"][0]["code"] == "upstreamUnavailable"


def test_the_admin_api_and_unknown_paths(proxy: RunningProxy) -> None:
    assert proxy.http.get(f"{proxy.base}/__ltxmock/health", timeout=10).json()["ok"] is True
    assert proxy.http.get(f"{proxy.base}/nope", timeout=10).status_code == 404
    rebinding = proxy.http.get(
        f"{proxy.base}/__ltxmock/drift", headers={"Host": "evil.example"}, timeout=10
    )
    assert rebinding.status_code == 403


@settings(max_examples=20)
@given(count=st.integers(1, 3))
def test_polls_of_several_tasks_pass_the_gate(count: int) -> None:
    from ltxmock.validators import default_validator

    from ltxmock.proxy.contract import Contract

    contract = Contract(default_validator().documents)
    body = [get_response(video_task()["taskUUID"]) for _ in range(count)]
    assert contract.check_request(body) == []  # no model task: nothing for openapi-core


def test_an_upstream_answer_over_the_bound_is_a_runware_shaped_502() -> None:
    # The answer is read into memory to be checked: past max_upstream_bytes the
    # proxy stops reading and says so, whatever the upstream sends.
    def answer(body: Any) -> tuple[int, Any]:
        pad = "x" * (100 * len(body[0]["positivePrompt"]))
        return 200, {"data": [{"taskType": "videoInference", "pad": pad}]}

    with proxy_to_fake(FakeUpstream(rest=answer), max_upstream_bytes=4096) as proxy:
        small = proxy.post([video_task(positivePrompt="p" * 10)])
        large = proxy.post([video_task(positivePrompt="p" * 500)])
    assert small.status_code == 200
    assert small.json()["data"][0]["pad"] == "x" * 1000
    assert large.status_code == 502
    assert_runware_shaped(502, large.json())
    [error] = large.json()["errors"]
    assert error["code"] == "upstreamTooLarge"
    assert "4096 bytes" in error["message"]
