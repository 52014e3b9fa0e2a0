"""Each drift rule, proven to fire by a fake upstream that breaks it; a faithful upstream
(a second ltxmock) gives none."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st
from ltxmock.validators import PayloadError, RequestValidator, default_validator
from support.proxy import FakeUpstream, RunningProxy, proxy_to_fake
from support.server import API_KEY, get_response, new_uuid, video_task

from ltxmock.proxy.drift import RULES, Rules

AckOnly = dict[str, Any]


def ack(task: dict[str, Any]) -> AckOnly:
    return {"taskType": "videoInference", "taskUUID": task["taskUUID"]}


def success(task_uuid: str, video: str | None = None) -> dict[str, Any]:
    video = video or new_uuid()
    return {
        "taskType": "videoInference",
        "taskUUID": task_uuid,
        "status": "success",
        "videoUUID": video,
        "videoURL": f"http://127.0.0.1:9/video/{video}.mp4",
    }


class Script:
    """A REST upstream answering submits with ``on_submit`` and polls with ``polls`` in turn."""

    def __init__(self, on_submit: Any = None, polls: list[Any] | None = None) -> None:
        self.on_submit = on_submit or (lambda task: (200, {"data": [ack(task)]}))
        self.polls = list(polls or [])

    def __call__(self, body: list[dict[str, Any]]) -> tuple[int, Any]:
        task = body[0]
        if task["taskType"] == "videoInference":
            answer: tuple[int, Any] = self.on_submit(task)
            return answer
        return self.polls.pop(0)(task["taskUUID"])


def run_session(proxy: RunningProxy, task: dict[str, Any], polls: int) -> None:
    assert proxy.post([task]).status_code < 500
    for _ in range(polls):
        proxy.post([get_response(task["taskUUID"])])


def test_a_response_outside_the_documents_schema() -> None:
    script = Script(on_submit=lambda task: (200, {"data": [ack(task)], "extra": [1]}))
    fake = FakeUpstream(
        rest=lambda body: (200, {"data": [1, 2]}) if body[0]["taskType"] == "ping" else script(body)
    )
    with proxy_to_fake(fake) as proxy:
        assert proxy.post([{"taskType": "ping"}]).json() == {"data": [1, 2]}  # untouched
        drift = proxy.drift()
    (found,) = drift["drift"]
    assert found["rule"] == "response-schema"
    assert "data/0" in found["message"]
    assert drift["byRule"]["response-schema"] == 1


def test_a_status_the_document_does_not_list() -> None:
    fake = FakeUpstream(rest=lambda body: (418, {"errors": [{"code": "teapot", "message": "no"}]}))
    with proxy_to_fake(fake) as proxy:
        assert proxy.post([{"taskType": "ping"}]).status_code == 418
        assert proxy.rules_fired() == {"response-schema"}


def test_an_ack_with_more_than_its_task_type_and_uuid() -> None:
    script = Script(on_submit=lambda task: (200, {"data": [{**ack(task), "queued": True}]}))
    with proxy_to_fake(FakeUpstream(rest=script)) as proxy:
        run_session(proxy, video_task(), polls=0)
        assert proxy.rules_fired() == {"ack-shape"}


def test_a_submit_answered_without_its_ack() -> None:
    script = Script(on_submit=lambda task: (200, {"data": []}))
    with proxy_to_fake(FakeUpstream(rest=script)) as proxy:
        task = video_task()
        run_session(proxy, task, polls=0)
        found = proxy.drift()["drift"]
    assert [(d["rule"], d.get("taskUUID")) for d in found] == [("ack-shape", task["taskUUID"])]


def test_a_poll_that_forgets_a_finished_result() -> None:
    videos = [new_uuid(), new_uuid()]
    both = lambda uuid: (200, {"data": [success(uuid, videos[0]), success(uuid, videos[1])]})  # noqa: E731
    one = lambda uuid: (200, {"data": [success(uuid, videos[0])]})  # noqa: E731
    with proxy_to_fake(FakeUpstream(rest=Script(polls=[both, one]))) as proxy:
        run_session(proxy, video_task(numberResults=2), polls=2)
        fired = proxy.rules_fired()
    assert "cumulative-getresponse" in fired
    assert fired <= {"cumulative-getresponse", "number-results"}


def test_more_results_than_number_results() -> None:
    two = lambda uuid: (200, {"data": [success(uuid), success(uuid)]})  # noqa: E731
    with proxy_to_fake(FakeUpstream(rest=Script(polls=[two]))) as proxy:
        run_session(proxy, video_task(), polls=1)
        assert proxy.rules_fired() == {"number-results"}


def test_a_finished_task_with_fewer_results_than_asked() -> None:
    one = lambda uuid: (200, {"data": [success(uuid)]})  # noqa: E731
    with proxy_to_fake(FakeUpstream(rest=Script(polls=[one]))) as proxy:
        run_session(proxy, video_task(numberResults=3), polls=1)
        assert proxy.rules_fired() == {"number-results"}


@pytest.mark.parametrize(
    "error",
    [
        {"code": "invalidPositivePrompt", "message": "bad"},  # no taskUUID at all
        {"code": "invalidPositivePrompt", "message": "bad", "taskUUID": "another"},
    ],
)
def test_an_error_without_its_tasks_uuid(error: dict[str, Any]) -> None:
    script = Script(on_submit=lambda task: (400, {"errors": [error]}))
    with proxy_to_fake(FakeUpstream(rest=script)) as proxy:
        run_session(proxy, video_task(), polls=0)
        assert proxy.rules_fired() == {"error-task-uuid"}


def test_request_wide_errors_need_no_task_uuid() -> None:
    refusal = {"errors": [{"code": "invalidApiKey", "message": "Invalid API key"}]}
    script = Script(on_submit=lambda task: (401, refusal))
    with proxy_to_fake(FakeUpstream(rest=script)) as proxy:
        run_session(proxy, video_task(), polls=0)
        assert proxy.drift()["total"] == 0


def ws_session(proxy: RunningProxy, frames: list[Any], replies: int) -> list[Any]:
    async def go() -> list[Any]:
        async with websockets.connect(proxy.ws_url) as sock:
            for frame in frames:
                await sock.send(json.dumps(frame))
            return [json.loads(await asyncio.wait_for(sock.recv(), 10)) for _ in range(replies)]

    return asyncio.run(go())


def test_the_websocket_ack_shape_and_errors() -> None:
    def answer(body: Any) -> list[Any]:
        task = body[0]
        if task["taskType"] == "authentication":
            return [{"data": [{"taskType": "authentication", "connectionSessionUUID": new_uuid()}]}]
        if task["taskType"] == "videoInference":
            return [{"data": [{**ack(task), "progress": 0}]}]
        return [{"errors": [{"code": "taskNotFound", "message": "gone"}]}]

    with proxy_to_fake(FakeUpstream(ws=answer)) as proxy:
        task = video_task()
        frames = [
            [{"taskType": "authentication", "apiKey": API_KEY}],
            [task],
            [get_response(task["taskUUID"])],
        ]
        replies = ws_session(proxy, frames, replies=3)
        assert replies[1] == {"data": [{**ack(task), "progress": 0}]}  # untouched
        assert proxy.rules_fired() == {"ack-shape", "error-task-uuid"}


def test_an_invalid_websocket_frame_is_answered_here() -> None:
    fake = FakeUpstream(ws=lambda body: [{"data": [{"taskType": "ping", "pong": True}]}])
    with proxy_to_fake(fake) as proxy:
        task = video_task(duration=7)
        (reply,) = ws_session(proxy, [[task]], replies=1)
        assert reply["errors"][0]["code"] == "unsupportedDuration"
        assert reply["errors"][0]["taskUUID"] == task["taskUUID"]
        assert fake.received == []


class LetsAllThrough(RequestValidator):
    """A gate's validator with a bug: it passes every body."""

    def is_valid(self, body: Any) -> bool:
        return True

    def validate(self, body: Any) -> list[PayloadError]:
        return []


def test_openapi_core_checks_what_the_gate_passed() -> None:
    fake = FakeUpstream(
        rest=lambda body: (200, {"data": [ack(body[0])]}),
        ws=lambda body: [{"data": [ack(body)]}],  # the frame is one task
    )
    gate = LetsAllThrough(default_validator().documents)
    with proxy_to_fake(fake, validator=gate) as proxy:
        rest_task, ws_task = video_task(duration=7), video_task(width=1000)
        assert proxy.post([rest_task]).status_code == 200  # forwarded: the gate passed it
        ws_session(proxy, [ws_task], replies=1)  # a frame of one task, not an array
        assert fake.received == [[rest_task], ws_task]
        report = proxy.drift()
        assert report["byRule"]["request-schema"] == 2
        rest, ws = (d for d in report["drift"] if d["rule"] == "request-schema")
        assert (rest["transport"], ws["transport"]) == ("rest", "ws")
        assert "duration" in rest["message"]
        assert "width" in ws["message"]
        assert proxy.post([video_task()]).status_code == 200
        assert proxy.drift()["byRule"]["request-schema"] == 2  # a valid task: no drift


def test_with_the_openapi_gate_openapi_core_refuses_before_forwarding() -> None:
    fake = FakeUpstream(rest=lambda body: (200, {"data": [ack(body[0])]}))
    gate = LetsAllThrough(default_validator().documents)
    with proxy_to_fake(fake, validator=gate, openapi_gate=True) as proxy:
        answer = proxy.post([video_task(duration=7)])
        assert answer.status_code == 400
        (error,) = answer.json()["errors"]
        assert error["code"] == "invalidRequestBody"
        assert "OpenAPI document rejects" in error["message"]
        assert fake.received == []
        assert proxy.drift()["total"] == 0


def test_a_faithful_upstream_gives_no_drift(proxy: RunningProxy) -> None:
    task = video_task(numberResults=2, includeCost=True)
    assert proxy.post([task]).status_code == 200
    statuses: list[str] = []
    deadline = time.monotonic() + 10
    while "success" not in statuses and time.monotonic() < deadline:
        answer = proxy.post([get_response(task["taskUUID"])]).json()
        statuses = [item["status"] for item in answer["data"]]
        time.sleep(0.05)
    proxy.post([get_response(task["taskUUID"])])
    assert statuses == ["success", "success"]
    drift = proxy.drift()
    assert drift["total"] == 0, drift


# -- the rules alone --------------------------------------------------------------------


@given(number=st.integers(1, 4), finished=st.lists(st.integers(0, 4), min_size=1, max_size=6))
def test_cumulative_polls_are_no_drift_and_a_forgotten_result_is(
    number: int, finished: list[int]
) -> None:
    rules = Rules()
    task = video_task(numberResults=number)
    uuid = task["taskUUID"]
    rules.sent([task])
    videos = [new_uuid() for _ in range(number)]
    done = 0
    for step in finished:
        done = min(number, max(done, step))  # never fewer than before
        items = [success(uuid, v) for v in videos[:done]]
        items += [{"taskType": "videoInference", "taskUUID": uuid, "status": "processing"}] * (
            number - done
        )
        assert (
            rules.answered([get_response(uuid)], 200, {"data": items}, transport="rest", at=0) == []
        )
    if done:
        forgot = [success(uuid, v) for v in videos[1:done]]
        forgot += [{"taskType": "videoInference", "taskUUID": uuid, "status": "processing"}]
        found = rules.answered([get_response(uuid)], 200, {"data": forgot}, transport="rest", at=0)
        assert [d.rule for d in found] == ["cumulative-getresponse"]


def test_every_rule_has_a_name_in_the_report() -> None:
    assert set(RULES) == {
        "response-schema",
        "request-schema",
        "ack-shape",
        "cumulative-getresponse",
        "number-results",
        "error-task-uuid",
    }
