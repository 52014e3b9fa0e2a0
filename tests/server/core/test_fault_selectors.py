"""Each fault class, triggered by each selector that applies to it.

Classes: an HTTP status (with or without Retry-After), a task failure at poll
time, a transport fault (delay, reset, truncate, hang) and a scripted poll.
Selectors: the ``X-Ltxmock-Fault`` header, a prompt directive, the API key
(``fault_keys``), a stored rule (plain, by task type, by body fields, from the nth
call: ``RULE_VARIANTS``, each first letting pass a request it must not pick) and, for
polls, a script per taskUUID. tests/kit/test_sdk_fault_matrix.py runs the same
classes and selectors with the official SDK against ``ltxmock serve``. Transport
faults are checked here as the protocol's decision (``Reply.transport``);
tests/server/serve carries them out over sockets.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from support.faults import rule_json
from support.server import API_KEY, FakeClock, MockClient, get_response, new_uuid, video_task

from ltxmock.server import MockConfig, MockService, create_app
from ltxmock.server.core.faults import FAULT_HEADER, Fault
from ltxmock.server.core.request import ApiRequest
from ltxmock.server.http.app import service_of

BAD_KEY = "faulty-key-0123456789"
# A stored rule, plain or with each of its selecting fields. Every faulted task
# below carries MATCHED (one field nested, by its dotted path); a ``rule:*``
# variant first lets a request it must not pick pass untouched.
MATCH = {"duration": 10, "providerSettings.lightricks.generateAudio": True}
MATCHED = {"duration": 10, "providerSettings": {"lightricks": {"generateAudio": True}}}
RULE_VARIANTS: dict[str, dict[str, object]] = {
    "rule": {},
    "rule:taskType": {"taskType": "videoInference"},
    "rule:match": {"match": MATCH},
    "rule:nth": {"nth": 2},
}
HTTP_SELECTORS = ("header", "directive", "key", *RULE_VARIANTS)
TRANSPORT_FAULTS = ("delay:0.25", "delay:0.1-0.3", "reset", "truncate", "hang")


@pytest.fixture
def mock_config(clock: FakeClock) -> MockConfig:
    return MockConfig(latency=3.0, clock=clock, render_mode="lazy")


def selector_rule(fault: str, selector: str) -> dict[str, object]:
    """The admin API's JSON rule for ``fault`` (header syntax) and a ``rule*`` selector."""
    return {**rule_json(fault), **RULE_VARIANTS[selector]}


def control_request(selector: str) -> list[dict[str, object]] | None:
    """The request a ``rule:*`` variant must let pass before the faulted one: no
    videoInference task, a task without the matched fields, the first matching call."""
    return {
        "rule:taskType": [{"taskType": "ping"}],
        "rule:match": [video_task()],
        "rule:nth": [video_task(**MATCHED)],
    }.get(selector)


def with_fault(
    selector: str, fault: str, mock_app: Flask, client: MockClient
) -> tuple[MockClient, list[dict[str, object]] | None]:
    """A client whose next submit of a MATCHED task carries ``fault`` through
    ``selector``, and the control request a rule variant let pass (answered 200)."""
    if selector == "key":
        config = service_of(mock_app).config.replace(fault_keys=(f"{BAD_KEY}={fault}",))
        return MockClient(create_app(config), key=BAD_KEY), None
    control = control_request(selector)
    if selector in RULE_VARIANTS:
        assert client.admin("POST", "/faults", selector_rule(fault, selector)).status == 201
        if control is not None:
            passed = client.post(control)
            assert passed.status == 200, passed.body
            assert "errors" not in passed.body
            assert client.service.journal.last().fault is None  # type: ignore[union-attr]
    return client, control


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
    faulty, _ = with_fault(selector, fault, mock_app, client)
    if faulty is not client:
        closing.append(faulty)
    task = video_task(**MATCHED)
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
    faulty, control = with_fault(selector, "task:providerError", mock_app, client)
    if faulty is not client:
        closing.append(faulty)
    task = video_task(**MATCHED)
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
    for passed in control or []:
        if passed["taskType"] == "videoInference":  # the rule let it run to success
            assert faulty.poll(str(passed["taskUUID"])).statuses == ["success"]


@pytest.mark.parametrize("selector", HTTP_SELECTORS)
@pytest.mark.parametrize("fault", TRANSPORT_FAULTS)
def test_a_transport_fault_reaches_the_reply_by_every_selector(
    selector: str, fault: str, mock_app: Flask, service: MockService
) -> None:
    if selector == "key":
        config = service.config.replace(fault_keys=(f"{BAD_KEY}={fault}",))
        service = service_of(create_app(config))
    if selector in RULE_VARIANTS:
        service.faults.add(Fault.from_json(selector_rule(fault, selector)))
        control = control_request(selector)
        if control is not None:
            passed = service.handle(ApiRequest(control, api_key=API_KEY))
            assert (passed.status, passed.transport, passed.fault) == (200, None, None)
    task = video_task(**MATCHED)
    if selector == "directive":
        task["positivePrompt"] += f" [[ltxmock:transport={fault}]]"
    header = Fault.parse(fault) if selector == "header" else None
    key = BAD_KEY if selector == "key" else API_KEY
    reply = service.handle(ApiRequest([task], api_key=key, fault=header))
    assert reply.status == 200  # the request is handled; only its answer is disturbed
    assert reply.transport is not None
    assert reply.transport.code == fault.split(":")[0]
    assert reply.transport.delay == Fault.parse(fault).delay  # a range stays a range
    assert service.store.tasks.get(task["taskUUID"], now=service.now()) is not None
    if selector == "key":
        service.close()


@pytest.mark.parametrize("selector", ["rule", "directive", "header"])
def test_a_websocket_frame_neither_gets_nor_uses_up_a_transport_fault(
    selector: str, service: MockService
) -> None:
    """Transport faults apply to POST /v1 answers only: a frame is answered as usual,
    its journal entry names no fault, and a one-shot rule waits for a REST request."""
    service.faults.add(Fault.from_json({**rule_json("reset"), "times": 1}))
    task = video_task()
    if selector == "directive":
        task["positivePrompt"] += " [[ltxmock:transport=reset]]"
    header = Fault.parse("reset") if selector == "header" else None
    frame = service.handle(ApiRequest([task], api_key=API_KEY, fault=header, transport="ws"))
    assert (frame.status, frame.transport, frame.fault) == (200, None, None)
    assert service.journal.entries()[-1].fault is None
    rest = service.handle(ApiRequest([video_task()], api_key=API_KEY))
    assert rest.transport is not None
    assert rest.transport.code == "reset"  # the rule was left for it
    assert rest.fault == "transport:reset"


def test_the_journal_names_a_task_failure_whatever_selector_chose_it(client: MockClient) -> None:
    header = client.submit(video_task(), headers={FAULT_HEADER: "task:providerError"})
    directed = client.submit(video_task(positivePrompt="a fox [[ltxmock:error=providerError]]"))
    assert (header.status, directed.status) == (200, 200)
    labels = [entry.fault for entry in client.service.journal.entries()]
    assert labels == ["task:providerError"] * 2


def test_the_journal_names_a_task_failure_a_rule_chose(client: MockClient) -> None:
    assert client.admin("POST", "/faults", {"task": "providerError"}).status == 201
    assert client.submit(video_task()).status == 200
    (entry,) = client.service.journal.entries()
    assert entry.fault == "task:providerError"


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


@settings(max_examples=40, deadline=None)
@given(
    nth=st.integers(1, 4),
    times=st.integers(1, 3),
    hits=st.lists(st.booleans(), max_size=10),
    kind=st.sampled_from(["status", "transport", "task"]),
)
def test_a_matching_rule_fires_from_the_nth_matching_request_for_times_requests(
    nth: int, times: int, hits: list[bool], kind: str
) -> None:
    """Any interleaving of matching and other requests: only matching ones count, the
    rule fires on the nth to the (nth + times - 1)th of them, for each fault class."""
    fault = {"status": 503, "transport": "reset", "task": "providerError"}[kind]
    clock = FakeClock()
    service = service_of(create_app(MockConfig(latency=3.0, clock=clock, render_mode="lazy")))
    try:
        rule = Fault.from_json({kind: fault, "match": MATCH, "nth": nth, "times": times})
        service.faults.add(rule)
        tasks = [video_task(**MATCHED) if hit else video_task() for hit in hits]
        replies = [service.handle(ApiRequest([task], api_key=API_KEY)) for task in tasks]
        clock.advance(3)
        faulted = []
        for task, reply in zip(tasks, replies, strict=True):
            if kind == "status":
                faulted.append(reply.status == 503)
            elif kind == "transport":
                faulted.append(reply.transport is not None)
            else:
                polled = service.handle(
                    ApiRequest([get_response(task["taskUUID"])], api_key=API_KEY)
                )
                faulted.append("errors" in polled.payload)
        matching = itertools.accumulate(int(hit) for hit in hits)
        assert faulted == [
            hit and nth <= n < nth + times for hit, n in zip(hits, matching, strict=True)
        ]
    finally:
        service.close()


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
