"""Each fault class, triggered by each selector that applies to it.

Classes: an HTTP status (with or without Retry-After), a task failure at poll
time, a transport fault (delay, reset, truncate, hang) and a scripted poll.
Selectors: the ``X-Ltxmock-Fault`` header, a prompt directive, the API key
(``fault_keys``), a stored rule (by task type, body fields, nth call) and, for
polls, a script per taskUUID. Transport faults are checked here as the
protocol's decision (``Reply.transport``); tests/server/serve carries them out
over sockets.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from support.server import API_KEY, FakeClock, MockClient, get_response, new_uuid, video_task

from ltxmock.server import MockConfig, MockService, create_app
from ltxmock.server.core.faults import FAULT_HEADER, Fault
from ltxmock.server.core.request import ApiRequest
from ltxmock.server.http.app import service_of

BAD_KEY = "faulty-key-0123456789"
HTTP_SELECTORS = ("header", "directive", "key", "rule")
TRANSPORT_FAULTS = ("delay:0.25", "delay:0.1-0.3", "reset", "truncate", "hang")


@pytest.fixture
def mock_config(clock: FakeClock) -> MockConfig:
    return MockConfig(latency=3.0, clock=clock, render_mode="lazy")


def with_fault(selector: str, fault: str, mock_app: Flask, client: MockClient) -> MockClient:
    """A client whose next submit carries ``fault`` through ``selector``."""
    if selector == "key":
        config = service_of(mock_app).config.replace(fault_keys=(f"{BAD_KEY}={fault}",))
        return MockClient(create_app(config), key=BAD_KEY)
    if selector == "rule":
        rule = Fault.parse(fault)
        service_of(mock_app).faults.add(rule)
    return client


def submit(selector: str, fault: str, client: MockClient, task: dict[str, object]) -> object:
    if selector == "header":
        return client.submit(task, headers={FAULT_HEADER: fault})
    if selector == "directive":
        name = (
            "status" if fault[0].isdigit() else "error" if fault.startswith("task") else "transport"
        )
        value = fault.removeprefix("task:")
        task = {**task, "positivePrompt": f"{task['positivePrompt']} [[ltxmock:{name}={value}]]"}
    return client.submit(task)


@pytest.fixture
def closing() -> Iterator[list[MockClient]]:
    made: list[MockClient] = []
    yield made
    for client in made:
        client.service.close()


@pytest.mark.parametrize("selector", HTTP_SELECTORS)
@pytest.mark.parametrize(
    ("fault", "status", "code", "retry_after"),
    [
        ("429", 429, "rateLimitExceeded", None),
        ("429;retry-after=7", 429, "rateLimitExceeded", "7"),
        ("503:serviceUnavailable;retry-after=2", 503, "serviceUnavailable", "2"),
        ("402", 402, "insufficientCredits", None),
        ("504", 504, "timeout", None),
    ],
)
def test_an_http_fault_answers_the_submit_with_its_status_by_every_selector(
    selector: str,
    fault: str,
    status: int,
    code: str,
    retry_after: str | None,
    mock_app: Flask,
    client: MockClient,
    closing: list[MockClient],
) -> None:
    faulty = with_fault(selector, fault, mock_app, client)
    if faulty is not client:
        closing.append(faulty)
    task = video_task()
    answer = submit(selector, fault, faulty, task)
    assert (answer.status, answer.codes) == (status, [code])  # type: ignore[attr-defined]
    assert answer.errors[0]["taskUUID"] == task["taskUUID"]  # type: ignore[attr-defined]
    assert answer.headers.get("Retry-After") == retry_after  # type: ignore[attr-defined]
    stored = faulty.service.store.tasks.get(task["taskUUID"], now=faulty.service.now())
    assert stored is None  # nothing was accepted


@pytest.mark.parametrize("selector", HTTP_SELECTORS)
def test_a_task_fault_fails_the_task_at_poll_time_by_every_selector(
    selector: str, mock_app: Flask, client: MockClient, clock: FakeClock, closing: list[MockClient]
) -> None:
    faulty = with_fault(selector, "task:providerError", mock_app, client)
    if faulty is not client:
        closing.append(faulty)
    task = video_task()
    ack = submit(selector, "task:providerError", faulty, task)
    assert ack.body == {  # type: ignore[attr-defined]
        "data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]
    }
    assert faulty.poll(task["taskUUID"]).statuses == ["processing"]
    clock.advance(3)
    failed = faulty.poll(task["taskUUID"])
    assert failed.status == 200
    (error,) = failed.body["errors"]
    assert (error["code"], error["status"], error["taskUUID"]) == (
        "providerError",
        "error",
        task["taskUUID"],
    )


@pytest.mark.parametrize("selector", list(HTTP_SELECTORS))
@pytest.mark.parametrize("fault", TRANSPORT_FAULTS)
def test_a_transport_fault_reaches_the_reply_by_every_selector(
    selector: str, fault: str, mock_app: Flask, service: MockService
) -> None:
    if selector == "key":
        config = service.config.replace(fault_keys=(f"{BAD_KEY}={fault}",))
        service = service_of(create_app(config))
    if selector == "rule":
        service.faults.add(Fault.parse(fault))
    task = video_task()
    if selector == "directive":
        task["positivePrompt"] += f" [[ltxmock:transport={fault}]]"
    header = Fault.parse(fault) if selector == "header" else None
    key = BAD_KEY if selector == "key" else API_KEY
    reply = service.handle(ApiRequest([task], api_key=key, fault=header))
    assert reply.status == 200  # the request is handled; only its answer is disturbed
    assert reply.transport is not None
    assert reply.transport.code == fault.split(":")[0]
    assert service.store.tasks.get(task["taskUUID"], now=service.now()) is not None
    if selector == "key":
        service.close()


def test_a_header_fault_replaces_the_key_fault_and_a_directive_replaces_the_key_fault(
    mock_config: MockConfig,
) -> None:
    client = MockClient(create_app(mock_config.replace(fault_keys=(f"{BAD_KEY}=503",))), BAD_KEY)
    try:
        assert client.submit(video_task()).status == 503
        assert client.submit(video_task(), headers={FAULT_HEADER: "429"}).status == 429
        directed = video_task(positivePrompt="a fox [[ltxmock:status=504]]")
        assert client.submit(directed).status == 504
        assert client.submit(video_task(), key=API_KEY).status == 200  # other keys untouched
    finally:
        client.service.close()


def test_a_rule_matches_body_fields_and_fires_on_the_nth_matching_call(
    client: MockClient,
) -> None:
    rule = client.admin(
        "POST",
        "/faults",
        {
            "status": 503,
            "retryAfter": 3,
            "match": {"duration": 10, "providerSettings.lightricks.generateAudio": True},
            "nth": 3,
            "times": 2,
        },
    )
    assert rule.status == 201
    assert rule.body["fault"]["nth"] == 3
    audio = {"lightricks": {"generateAudio": True}}
    statuses = [
        client.submit(video_task(duration=d, providerSettings=audio)).status
        for d in (6, 10, 6, 10, 10, 10, 10)
    ]
    # Only 10 s tasks with audio count; the third and fourth of them fail.
    assert statuses == [200, 200, 200, 200, 503, 503, 200]
    assert client.admin("GET", "/faults").body == {"faults": []}


def test_a_rule_can_match_the_task_type_of_polls(client: MockClient, clock: FakeClock) -> None:
    task = video_task()
    client.submit(task)
    client.admin("POST", "/faults", {"status": 500, "taskType": "getResponse"})
    assert client.submit(video_task()).status == 200
    assert client.poll(task["taskUUID"]).status == 500
    assert client.poll(task["taskUUID"]).status == 200


def test_a_task_rule_with_a_match_fails_only_the_matching_task(
    client: MockClient, clock: FakeClock
) -> None:
    client.admin("POST", "/faults", {"task": "contentPolicyViolation", "match": {"fps": 50}})
    calm, hit = video_task(), video_task(fps=50)
    assert client.submit(calm, hit).status == 200
    clock.advance(3)
    answer = client.poll(calm["taskUUID"], hit["taskUUID"])
    assert answer.statuses == ["success"]
    assert answer.codes == ["contentPolicyViolation"]
    assert answer.errors[0]["taskUUID"] == hit["taskUUID"]


def test_a_script_decides_each_poll_of_its_task(client: MockClient, clock: FakeClock) -> None:
    task = video_task()
    script = {
        "taskUUID": task["taskUUID"],
        "outcomes": ["processing", "processing", "timeoutProvider"],
    }
    assert client.admin("POST", "/scripts", script).status == 201
    client.submit(task)
    clock.advance(10)  # long done, by its latency
    seen = [client.poll(task["taskUUID"]) for _ in range(4)]
    assert [a.statuses for a in seen[:2]] == [["processing"], ["processing"]]
    assert [a.codes for a in seen[2:]] == [["timeoutProvider"]] * 2  # the last one repeats
    listed = client.admin("GET", "/scripts").body["scripts"]
    assert listed == [{"taskUUID": task["taskUUID"], "outcomes": script["outcomes"], "next": 2}]
    assert client.admin("DELETE", f"/scripts/{task['taskUUID']}").status == 200
    assert client.poll(task["taskUUID"]).statuses == ["success"]


def test_a_script_can_make_a_task_succeed_early(client: MockClient) -> None:
    task = video_task(includeCost=True)
    client.admin("POST", "/scripts", {"taskUUID": task["taskUUID"], "outcomes": ["success"]})
    client.submit(task)
    (item,) = client.poll(task["taskUUID"]).data
    assert (item["status"], item["cost"]) == ("success", 0.24)


@pytest.mark.parametrize(
    "body",
    [
        {"taskUUID": "x"},
        {"taskUUID": "x", "outcomes": []},
        {"taskUUID": "x", "outcomes": ["not a code!"]},
        {"taskUUID": 5, "outcomes": ["success"]},
        {"taskUUID": "x", "outcomes": ["success"], "extra": 1},
    ],
)
def test_a_bad_script_is_a_clear_400(client: MockClient, body: dict[str, object]) -> None:
    answer = client.admin("POST", "/scripts", body)
    assert (answer.status, answer.codes) == (400, ["invalidScript"])


@pytest.mark.parametrize(
    "body",
    [
        {"transport": "explode"},
        {"transport": "delay"},
        {"transport": "delay", "delay": [3, 1]},
        {"transport": "delay", "delay": 10_000},
        {"status": 429, "retryAfter": "soon"},
        {"status": 429, "nth": 0},
        {"status": 429, "match": ["duration"]},
        {"status": 429, "task": "providerError"},
    ],
)
def test_a_bad_rule_is_a_clear_400(client: MockClient, body: dict[str, object]) -> None:
    answer = client.admin("POST", "/faults", body)
    assert (answer.status, answer.codes) == (400, ["invalidFault"])


@pytest.mark.parametrize(
    "value", ["delay", "delay:x", "delay:3-1", "reset;retry-after=2", "429;wait=2"]
)
def test_an_unreadable_transport_or_retry_after_header_is_400(
    client: MockClient, value: str
) -> None:
    answer = client.post([{"taskType": "ping"}], headers={FAULT_HEADER: value})
    assert (answer.status, answer.codes) == (400, ["invalidFault"])


@settings(max_examples=50, deadline=None)
@given(
    low=st.floats(0, 600, allow_nan=False),
    span=st.floats(0, 600, allow_nan=False),
)
def test_a_random_delay_stays_within_its_range(low: float, span: float) -> None:
    import random

    high = min(600.0, low + span)
    fault = Fault.parse(f"delay:{low!r}-{high!r}")
    assert fault.delay == (low, high)
    pause = fault.pause(random.Random(0))
    assert low <= pause <= high


def test_transport_rules_are_listed_with_their_delay(client: MockClient) -> None:
    added = client.admin("POST", "/faults", {"transport": "delay", "delay": [0.5, 2], "times": 3})
    assert added.status == 201
    assert added.body["fault"]["kind"] == "transport"
    assert added.body["fault"]["delay"] == [0.5, 2]
    (rule,) = client.admin("GET", "/faults").body["faults"]
    assert (rule["code"], rule["times"], rule["delay"]) == ("delay", 3, [0.5, 2])


def test_get_response_of_an_unknown_task_ignores_scripts(client: MockClient) -> None:
    task_uuid = new_uuid()
    client.admin("POST", "/scripts", {"taskUUID": task_uuid, "outcomes": ["success"]})
    assert client.post([get_response(task_uuid)]).codes == ["taskNotFound"]


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (("secret-key",), "KEY=FAULT"),
        (("secret-key=",), "KEY=FAULT"),
        (("secret-key=teapot",), "cannot read fault"),
        (("secret-key=delay",), "needs its seconds"),
    ],
)
def test_a_bad_fault_key_is_refused_without_showing_the_key(
    entries: tuple[str, ...], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        MockConfig(fault_keys=entries)
    assert "secret-key" not in str(caught.value)


def test_fault_keys_and_balance_come_from_the_environment() -> None:
    config = MockConfig.from_env({"LTXMOCK_FAULT_KEYS": "a=429,b=reset", "LTXMOCK_BALANCE": "2.5"})
    assert config.fault_keys == ("a=429", "b=reset")
    assert config.balance == 2.5
    assert {key: fault.label for key, fault in config.key_faults().items()} == {
        "a": "429:rateLimitExceeded",
        "b": "transport:reset",
    }
    assert "a=429" not in repr(config)
    with pytest.raises(ValueError, match="balance"):
        MockConfig(balance=-1)


def test_under_wsgi_a_delay_is_carried_out_and_other_transport_faults_answer_normally(
    client: MockClient, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    started = time.monotonic()
    assert client.post([{"taskType": "ping"}], headers={FAULT_HEADER: "delay:0.2"}).status == 200
    assert time.monotonic() - started >= 0.2
    answer = client.post([{"taskType": "ping"}], headers={FAULT_HEADER: "reset"})
    assert answer.body == {"data": [{"taskType": "ping", "pong": True}]}
    assert "needs ltxmock serve or the test kit" in caplog.text
