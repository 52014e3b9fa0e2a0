"""Properties: whatever arrives, the answer is a Runware-shaped JSON, never a 5xx;
and a task's state only moves forward in time."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.server import (
    API_KEY,
    FakeClock,
    MockClient,
    assert_runware_shaped,
    get_response,
    video_task,
)

from ltxmock.server import ApiRequest, MockConfig, create_app, create_service

CLOCK = FakeClock()
# One app for all examples (Hypothesis reruns the test body, not fixtures).
CLIENT = MockClient(create_app(MockConfig(latency=2.0, clock=CLOCK, max_body_bytes=64 * 1024)))
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

keys = st.sampled_from(
    ["taskType", "taskUUID", "apiKey", "model", "positivePrompt", "width", "duration", "x"]
) | st.text(max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["videoInference", "getResponse", "ping", "authentication", "lightricks:2@1"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=20,
)
task_like = st.fixed_dictionaries(
    {"taskType": st.sampled_from(["videoInference", "getResponse", "ping", "authentication"])},
    optional={
        "taskUUID": st.uuids().map(str) | st.text(max_size=5),
        "model": st.just("lightricks:2@1"),
        "positivePrompt": st.text(max_size=12),
        "width": st.sampled_from([1920, 2560, 640]),
        "height": st.sampled_from([1080, 1440, 480]),
        "duration": st.sampled_from([6, 8, 10, 7]),
        "numberResults": st.integers(min_value=0, max_value=5),
        "includeCost": st.booleans(),
        "apiKey": st.text(max_size=5),
    },
)


def check(answer_status: int, body: Any) -> None:
    assert answer_status < 500, body
    assert_runware_shaped(answer_status, body)


@SETTINGS
@given(body=json_values)
def test_any_json_body_gets_a_runware_shaped_answer(body: Any) -> None:
    answer = CLIENT.post(body)
    check(answer.status, answer.body)


@SETTINGS
@given(body=st.lists(task_like, min_size=1, max_size=4), with_key=st.booleans())
def test_any_task_list_gets_a_runware_shaped_answer(body: list[Any], with_key: bool) -> None:
    answer = CLIENT.post(body, key=API_KEY if with_key else None)
    check(answer.status, answer.body)
    if answer.status == 200:
        for item in answer.data:
            assert item["taskType"] in ("videoInference", "ping")


@SETTINGS
@given(raw=st.binary(max_size=200) | st.text(alphabet=string.printable, max_size=200))
def test_any_bytes_get_a_runware_shaped_answer(raw: bytes | str) -> None:
    answer = CLIENT.post(raw=raw)
    check(answer.status, answer.body)


@SETTINGS
@given(
    content_type=st.none() | st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t)
)
def test_any_content_type_gets_a_runware_shaped_answer(content_type: str | None) -> None:
    answer = CLIENT.post([{"taskType": "ping"}], content_type=content_type)
    check(answer.status, answer.body)


@SETTINGS
@given(
    steps=st.lists(st.floats(min_value=0, max_value=1.5), min_size=1, max_size=8),
    count=st.integers(min_value=1, max_value=4),
    latency=st.sampled_from([0.0, 0.5, 2.0]),
)
def test_a_tasks_state_only_moves_forward(steps: list[float], count: int, latency: float) -> None:
    service = create_service(MockConfig(latency=latency, render_mode="lazy"))
    task = video_task(numberResults=count)
    now = 1000.0
    service.handle(ApiRequest([task], api_key=API_KEY, base_url="http://x", now=now))
    previous = (-1, False)
    for step in steps:
        now += step
        reply = service.handle(
            ApiRequest(
                [get_response(task["taskUUID"])],
                api_key=API_KEY,
                transport="rest",
                base_url="http://x",
                now=now,
            )
        )
        items = reply.data
        assert len(items) == count
        assert len({json.dumps(i, sort_keys=True) for i in items}) in (1, count)
        done = items[0]["status"] == "success"
        progress = 100 if done else items[0]["progress"]
        assert (progress, done) >= previous
        assert done == (now - 1000.0 >= latency)
        previous = (progress, done)
    service.close()


def test_the_property_app_never_answered_5xx_by_itself() -> None:
    assert CLIENT.service.journal.unexpected_errors() == []
