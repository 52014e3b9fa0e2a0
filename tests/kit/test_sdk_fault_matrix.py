"""Every fault class, through every selector an unmodified runware-sdk 1.8.0 can use,
against ``ltxmock serve`` on 127.0.0.1: what the SDK raises, and how many requests
the journal shows it made.

Selectors the SDK reaches without code changes:

* ``directive``: ``[[ltxmock:status|error|transport=...]]`` in ``positivePrompt``;
* ``key``: the API key the SDK is built with (``--fault-key KEY=FAULT``);
* ``header``: ``X-Ltxmock-Fault`` on the aiohttp session the SDK is handed
  (``RuntimeDependencies(session=ClientSession(headers=...))``: a constructor
  option, the SDK itself untouched);
* ``rule``, ``rule:taskType``, ``rule:match``, ``rule:nth``: a stored rule (admin API),
  plain, by task type, by body fields (a nested one too) and from the nth call;
  each variant first shows a request it must not pick passing untouched;
* ``script``: the outcomes of each poll of one taskUUID.

The matrices show what the SDK raises: a fault it would retry is met with
``max_retries=0`` there (each retry sleeps up to 1 s of jitter, whatever the
delay), one it does not retry with the SDK's default of 3, so the journal's single
request shows it was not retried. ``test_the_sdk_retries_a_lasting_fault_then_raises_it``
counts the retries of the others, ``test_a_one_shot_rule_is_absorbed_by_the_sdks_retry``
shows a retry succeed. docs/faults.md ("What the official Python SDK raises") has
the table these tests pin.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from support.faults import rule_json
from support.sdk import exchanges_naming, runware_sdk, sdk_run
from support.server import API_KEY, LiveServer, new_uuid

from ltxmock.server.core.faults import FAULT_HEADER, HTTP_FAULTS, TASK_FAILURES, Fault

pytestmark = [pytest.mark.sdk, pytest.mark.slow]

runware = runware_sdk()
aiohttp = pytest.importorskip("aiohttp")  # the SDK's own HTTP client

# Fields a ``rule:match`` rule picks (one nested, by its dotted path); every SDK
# run below sends them, the control request of that variant does not.
MATCH = {"duration": 10, "providerSettings.lightricks.generateAudio": True}
TASK = {
    "taskType": "videoInference",
    "model": "lightricks:2@1",
    "width": 1920,
    "height": 1080,
    "duration": 10,
    "providerSettings": {"lightricks": {"generateAudio": True}},
}
PROMPT = "A red fox runs through fresh snow at dawn"
# No base retry delay (only the SDK's jitter); nothing waits long for an answer.
SDK_OPTIONS: dict[str, Any] = {
    "retry_delay": 0,
    "timeout": 10_000,
    "poll_timeout": 15_000,
}
HANG_TIMEOUT_MS = 250  # the SDK's per-request timeout in the hang cells

RULE_SELECTORS = ("rule", "rule:taskType", "rule:match", "rule:nth")
SDK_SELECTORS = ("directive", "key", "header", *RULE_SELECTORS)

HTTP_CASES = ("429;retry-after=1", "503;retry-after=1", "500", "504", "401", "403", "402")
# HTTP status -> the SDK's RunwareError.code (its derive_code of the body's code).
SDK_CODES = {429: "rateLimit", 503: "serverError", 500: "serverError", 504: "timeout",
             401: "auth", 403: "auth", 402: "quota"}  # fmt: skip
SDK_RETRIES = {408, 429, *range(500, 600)}  # runware/transport/rest.py _RETRYABLE_STATUS
# Task failure code -> the SDK's RunwareError.code (its derive_code: "timeoutProvider"
# has no capital-T "Timeout" and is no known code, so 1.8.0 calls it "unknown").
TASK_CASES = {
    "timeoutProvider": "unknown",
    "providerError": "provider",
    "providerTimeout": "timeout",
    "contentPolicyViolation": "safety",
    "inferenceError": "provider",
}
TRANSPORT_CASES = ("delay:0.2", "delay:0.05-0.25", "reset", "truncate", "hang:5")
# Every fault the SDK retries (a retryable status, a lost or cut answer, a timeout).
RETRIED = ("429;retry-after=1", "503;retry-after=1", "500", "504", "reset", "truncate", "hang:5")
# A random delay is a fixed one to every selector but the two that spell its range
# (each selector's reading of it is checked at protocol level): those two only.
TRANSPORT_SELECTOR_CASES = [
    *(
        (fault, selector)
        for fault in TRANSPORT_CASES[:1] + TRANSPORT_CASES[2:]
        for selector in SDK_SELECTORS
    ),
    ("delay:0.05-0.25", "directive"),
    ("delay:0.05-0.25", "rule"),
]

FAULT_KEYS = {
    fault: f"fault-key-{n:02d}-0123456789"
    for n, fault in enumerate(
        [*HTTP_CASES, *(f"task:{code}" for code in TASK_CASES), *TRANSPORT_CASES]
    )
}


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    keys = [arg for fault, key in FAULT_KEYS.items() for arg in ("--fault-key", f"{key}={fault}")]
    with LiveServer(*keys, latency=0.5) as server:
        yield server


@pytest.fixture(autouse=True)
def no_rules_left(live: LiveServer) -> Iterator[None]:
    yield
    assert live.admin("DELETE", "/faults").status_code == 200
    assert live.admin("DELETE", "/scripts").status_code == 200


# -- running the SDK ---------------------------------------------------------------


@dataclass
class Run:
    """One ``client.run`` of the SDK: its result or exception, and what the mock saw."""

    task_uuid: str
    result: list[dict[str, Any]] | None
    error: Exception | None
    exchanges: list[dict[str, Any]]
    # (status, Retry-After) of each answer the SDK's session got (``watch=True``).
    answers: list[tuple[int, str | None]] = field(default_factory=list)

    def of_type(self, task_type: str) -> list[dict[str, Any]]:
        return [e for e in self.exchanges if e["request"][0]["taskType"] == task_type]

    @property
    def submits(self) -> list[dict[str, Any]]:
        return self.of_type("videoInference")

    @property
    def polls(self) -> list[dict[str, Any]]:
        return self.of_type("getResponse")


def run(
    live: LiveServer,
    *,
    directive: str = "",
    key: str = API_KEY,
    transport: str = "rest",
    header: str | None = None,
    watch: bool = False,
    task_uuid: str | None = None,
    **options: Any,
) -> Run:
    """``client.run`` of one LTX-2 Fast task, the way a user calls it; ``header``
    rides on the aiohttp session handed to the SDK, ``watch`` records its answers."""
    task_uuid = task_uuid or new_uuid()
    params = {**TASK, "taskUUID": task_uuid, "positivePrompt": f"{PROMPT} {directive}".strip()}
    answers: list[tuple[int, str | None]] = []

    async def seen(_session: Any, _context: Any, sent: Any) -> None:
        answers.append((sent.response.status, sent.response.headers.get("Retry-After")))

    async def go() -> list[dict[str, Any]]:
        session = None
        if header is not None or watch:
            trace = aiohttp.TraceConfig()
            trace.on_request_end.append(seen)
            session = aiohttp.ClientSession(
                headers={FAULT_HEADER: header} if header is not None else None,
                trace_configs=[trace],
            )
        try:
            result: list[dict[str, Any]] = await sdk_run(
                runware,
                live.url,
                params,
                key=key,
                transport=transport,
                session=session,
                **{**SDK_OPTIONS, **options},
            )
            return result
        finally:
            if session is not None:
                await session.close()

    try:
        result, error = asyncio.run(go()), None
    except Exception as raised:  # the cell asserts on its type
        result, error = None, raised
    return Run(task_uuid, result, error, exchanges_naming(live, task_uuid), answers)


# -- selecting a fault --------------------------------------------------------------


def rule_of(fault: str, selector: str) -> dict[str, Any]:
    """The admin API rule of ``fault`` (header syntax) for a ``rule*`` selector; it
    stays until removed, so the SDK's retry meets it too."""
    rule = rule_json(fault)
    variant = selector.partition(":")[2]
    if variant == "taskType":
        rule["taskType"] = "videoInference"
    elif variant == "match":
        rule["match"] = MATCH
    elif variant == "nth":
        rule["nth"] = 2
    return {**rule, "times": None}


def plain_submit(live: LiveServer, **fields: Any) -> str:
    """A submit by another client (plain HTTP), which must be acked untouched."""
    task_uuid = new_uuid()
    task = {**TASK, "taskUUID": task_uuid, "positivePrompt": PROMPT, **fields}
    answer = live.post([{k: v for k, v in task.items() if v is not None}])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": [{"taskType": "videoInference", "taskUUID": task_uuid}]}
    return task_uuid


@dataclass
class Armed:
    """A fault set up through one selector: how to run the SDK, and the request
    the selector had to let pass (checked again after the run)."""

    options: dict[str, Any]
    control: str | None = None  # taskUUID of a submit the rule let pass


def arm(live: LiveServer, selector: str, fault: str) -> Armed:
    """Set ``fault`` (header syntax) up through ``selector``."""
    if selector == "directive":
        parsed = Fault.parse(fault)
        name = {"http": "status", "task": "error", "transport": "transport"}[parsed.kind]
        return Armed({"directive": f"[[ltxmock:{name}={fault.removeprefix('task:')}]]"})
    if selector == "key":
        return Armed({"key": FAULT_KEYS[fault]})
    if selector == "header":
        return Armed({"header": fault})
    added = live.admin("POST", "/faults", rule_of(fault, selector))
    assert added.status_code == 201, added.text
    control = None
    if selector == "rule:taskType":
        pong = live.post([{"taskType": "ping"}])  # no videoInference task: passes
        assert (pong.status_code, pong.json()) == (
            200,
            {"data": [{"taskType": "ping", "pong": True}]},
        )
    elif selector == "rule:match":
        control = plain_submit(live, duration=6, providerSettings=None)  # lacks the fields
    elif selector == "rule:nth":
        control = plain_submit(live)  # the first matching call passes; the SDK's is the 2nd
    return Armed({}, control)


def assert_control_passed(live: LiveServer, armed: Armed, *, ran: bool = False) -> None:
    """The request the rule let pass got no fault; with ``ran``, its task (by now past
    its latency: the SDK's first poll comes after 1 s) polls as a success."""
    if armed.control is None:
        return
    (submit, *_) = exchanges_naming(live, armed.control)
    assert (submit["status"], submit["fault"]) == (200, None)
    if ran:
        polled = live.post([{"taskType": "getResponse", "taskUUID": armed.control}]).json()
        assert [item["status"] for item in polled["data"]] == ["success"], polled


# -- what the SDK raises --------------------------------------------------------------


def retries_for(fault: str) -> dict[str, Any]:
    """The SDK options of a matrix cell: no retries of a fault the SDK would retry
    (test_the_sdk_retries_a_lasting_fault_then_raises_it counts those), its default
    of 3 otherwise; a hang gets a short per-request timeout."""
    parsed = Fault.parse(fault)
    retried = parsed.kind == "transport" and parsed.code != "delay"
    options: dict[str, Any] = {"max_retries": 0} if retried or parsed.status in SDK_RETRIES else {}
    if parsed.code == "hang":
        options["timeout"] = HANG_TIMEOUT_MS
    return options


def assert_raised(fault: str, outcome: Run, *, attempts: int) -> None:
    """What the SDK raises for ``fault`` (an HTTP status or a transport fault every
    request met), after ``attempts`` requests, each journaled with the fault."""
    parsed = Fault.parse(fault)
    error = outcome.error
    if parsed.kind == "http":
        status = parsed.status
        assert isinstance(error, runware.RunwareError), outcome
        assert (error.code, error.status_code) == (SDK_CODES[status], status)
        assert error.retryable is (status in SDK_RETRIES)
        assert error.message == HTTP_FAULTS[status][1]
        # 401's body is the API's own invalidApiKey item, which names no task.
        assert error.task_uuid == (None if status == 401 else outcome.task_uuid)
        journaled = [(e["status"], e["fault"]) for e in outcome.exchanges]
        assert journaled == [(status, parsed.label)] * attempts
        return
    # Handled each time (a submit is accepted): only the answer is lost.
    journaled = [(e["status"], e["fault"]) for e in outcome.exchanges]
    assert journaled == [(200, parsed.label)] * attempts
    if parsed.code == "hang":
        assert isinstance(error, runware.RunwareError), outcome
        assert (error.code, error.retryable) == ("timeout", True)
        assert error.message == (
            f"REST request timed out after {HANG_TIMEOUT_MS}ms (gave up after {attempts} attempts)"
        )
        return
    # Not a RunwareError: 1.8.0 lets aiohttp's own exception out (after its retries).
    assert not isinstance(error, runware.RunwareError), outcome
    if parsed.code == "reset":
        assert isinstance(error, aiohttp.ClientConnectionError), outcome
    else:  # a body shorter than its Content-Length
        assert parsed.code == "truncate"
        assert isinstance(error, aiohttp.ClientPayloadError), outcome
        assert (
            "content length" in str(error).lower()
        )  # aiohttp: "Not enough data to satisfy content length header"


# -- HTTP status faults ------------------------------------------------------------


@pytest.mark.parametrize("selector", SDK_SELECTORS)
@pytest.mark.parametrize("fault", HTTP_CASES)
def test_an_http_status_fault_raises_its_runware_error_by_every_selector(
    live: LiveServer, selector: str, fault: str
) -> None:
    armed = arm(live, selector, fault)
    outcome = run(live, **armed.options, **retries_for(fault))
    assert_raised(fault, outcome, attempts=1)
    assert_control_passed(live, armed)


@pytest.mark.parametrize("fault", HTTP_CASES)
@pytest.mark.parametrize("selector", ["directive", "key", "rule"])
def test_over_the_websocket_an_http_fault_raises_the_same_code_unretried(
    live: LiveServer, selector: str, fault: str
) -> None:
    status = Fault.parse(fault).status
    outcome = run(live, transport="websocket", **arm(live, selector, fault).options)
    error = outcome.error
    assert isinstance(error, runware.RunwareError), outcome
    # No HTTP status on a frame, and the SDK's WebSocket path does not retry.
    assert (error.code, error.status_code) == (SDK_CODES[status], None)
    assert error.message == HTTP_FAULTS[status][1]
    assert [(e["transport"], e["status"]) for e in outcome.exchanges] == [("ws", status)]


@pytest.mark.parametrize("fault", ["429;retry-after=1", "503;retry-after=1"])
def test_the_sdk_gets_retry_after_and_ignores_it(live: LiveServer, fault: str) -> None:
    armed = arm(live, "directive", fault)
    outcome = run(live, watch=True, max_retries=0, **armed.options)
    error = outcome.error
    assert isinstance(error, runware.RunwareError), outcome
    assert outcome.answers == [(Fault.parse(fault).status, "1")]  # it reached the SDK's session
    assert error.retry_after is None  # 1.8.0 reads Retry-After for its serverless API only


@pytest.mark.parametrize("fault", RETRIED)
def test_the_sdk_retries_a_lasting_fault_then_raises_it(live: LiveServer, fault: str) -> None:
    # The directive rides on every attempt: the first request and max_retries=1 retry.
    options = {**retries_for(fault), "max_retries": 1}
    outcome = run(live, **arm(live, "directive", fault).options, **options)
    assert_raised(fault, outcome, attempts=2)


@pytest.mark.parametrize("fault", ["401", "402", "403"])
def test_the_sdk_does_not_retry_an_auth_or_quota_error(live: LiveServer, fault: str) -> None:
    outcome = run(live, **arm(live, "rule:taskType", fault).options, max_retries=3)
    assert_raised(fault, outcome, attempts=1)


@pytest.mark.parametrize("fault", RETRIED)
def test_a_one_shot_rule_is_absorbed_by_the_sdks_retry(live: LiveServer, fault: str) -> None:
    rule = {**rule_of(fault, "rule:taskType"), "times": 1}
    assert live.admin("POST", "/faults", rule).status_code == 201
    options = {"timeout": HANG_TIMEOUT_MS} if fault.startswith("hang") else {}
    outcome = run(live, max_retries=1, **options)
    assert outcome.error is None, outcome
    assert [r["status"] for r in outcome.result or []] == ["success"]
    parsed = Fault.parse(fault)
    first, second = outcome.submits
    # An HTTP fault refused the first; a transport fault only lost its answer, so the
    # retry is the same task, acked again.
    assert (first["status"], first["fault"]) == (parsed.status or 200, parsed.label)
    assert (second["status"], second["fault"]) == (200, None)


def test_a_402_from_spent_credits_is_a_quota_error(live: LiveServer) -> None:
    key = f"broke-{new_uuid()}"
    assert live.admin("PUT", "/credits", {"apiKey": key, "balance": 0}).status_code == 200
    outcome = run(live, key=key)
    error = outcome.error
    assert isinstance(error, runware.RunwareError), outcome
    assert (error.code, error.status_code, error.retryable) == ("quota", 402, False)
    assert [(e["status"], e["fault"]) for e in outcome.exchanges] == [(402, None)]


# -- task failures -----------------------------------------------------------------

# Every code through the directive; every other selector with a code of its own;
# ``script``: processing twice, then timeoutProvider (the example).
TASK_SELECTOR_CASES = [
    *(("directive", code) for code in TASK_CASES),
    *zip(("key", "header", *RULE_SELECTORS), itertools.cycle(TASK_CASES)),
    ("script", "timeoutProvider"),
]


@pytest.mark.parametrize(("selector", "code"), TASK_SELECTOR_CASES)
def test_a_task_failure_raises_its_runware_error_by_every_selector(
    live: LiveServer, selector: str, code: str
) -> None:
    task_uuid = new_uuid()
    if selector == "script":
        script = {"taskUUID": task_uuid, "outcomes": ["processing", "processing", code]}
        assert live.admin("POST", "/scripts", script).status_code == 201
        armed = Armed({})
    else:
        armed = arm(live, selector, f"task:{code}")
    outcome = run(live, task_uuid=task_uuid, **armed.options)  # the SDK's default 3 retries
    error = outcome.error
    assert isinstance(error, runware.RunwareError), outcome
    assert (error.code, error.status_code, error.task_uuid) == (TASK_CASES[code], None, task_uuid)
    assert error.message == TASK_FAILURES[code]
    (submit,) = outcome.submits  # a failed task is not resubmitted
    assert submit["status"] == 200
    if selector in ("directive", "key", "header"):
        assert submit["fault"] == f"task:{code}"
    # A task failure a rule chose is journaled with "fault": null today: see
    # tests/server/core/test_fault_selectors.py::test_the_journal_names_a_task_failure_a_rule_chose
    *waiting, last = outcome.polls
    assert [e["status"] for e in outcome.polls] == [200] * len(outcome.polls)
    assert [item["code"] for item in last["response"]["errors"]] == [code]
    if selector == "script":
        assert [e["response"]["data"][0]["status"] for e in waiting] == ["processing"] * 2
    assert_control_passed(live, armed, ran=True)


@pytest.mark.parametrize("selector", ["directive", "key", "rule"])
def test_over_the_websocket_a_task_failure_raises_the_same_code(
    live: LiveServer, selector: str
) -> None:
    outcome = run(live, transport="websocket", **arm(live, selector, "task:providerError").options)
    error = outcome.error
    assert isinstance(error, runware.RunwareError), outcome
    assert (error.code, error.task_uuid) == ("provider", outcome.task_uuid)
    assert {e["transport"] for e in outcome.exchanges} == {"ws"}


def test_a_latency_directive_keeps_the_sdk_polling_until_success(live: LiveServer) -> None:
    outcome = run(live, directive="[[ltxmock:latency=2]]")
    assert outcome.error is None, outcome
    assert [r["status"] for r in outcome.result or []] == ["success"]
    (submit,) = outcome.submits
    # By the mock's clock: processing for 2 s (not the server's 0.5), then success.
    # The SDK's first poll comes 1 s after the ack, so it sees processing first.
    seen = [
        (e["at"] - submit["at"] >= 2, e["response"]["data"][0]["status"]) for e in outcome.polls
    ]
    assert seen == [(done, "success" if done else "processing") for done, _ in seen]
    assert seen[-1] == (True, "success")


def test_a_latency_past_the_poll_timeout_is_the_sdks_timeout(live: LiveServer) -> None:
    outcome = run(live, directive="[[ltxmock:latency=60]]", poll_timeout=1_500)
    error = outcome.error
    assert isinstance(error, runware.RunwareError), outcome
    assert error.code == "timeout"
    assert error.message.startswith(f"Polling for task {outcome.task_uuid}")
    assert {e["response"]["data"][0]["status"] for e in outcome.polls} == {"processing"}


# -- transport faults --------------------------------------------------------------


@pytest.mark.parametrize(("fault", "selector"), TRANSPORT_SELECTOR_CASES)
def test_a_transport_fault_meets_the_sdk_by_every_selector(
    live: LiveServer, selector: str, fault: str
) -> None:
    armed = arm(live, selector, fault)
    outcome = run(live, **armed.options, **retries_for(fault))
    if fault.startswith("delay"):  # slow, not failed: success, and no retry
        assert outcome.error is None, outcome
        assert [r["status"] for r in outcome.result or []] == ["success"]
        submits = [(e["status"], e["fault"]) for e in outcome.submits]
        assert submits == [(200, Fault.parse(fault).label)]
    else:
        assert_raised(fault, outcome, attempts=1)
    assert_control_passed(live, armed)


@pytest.mark.parametrize("selector", ["directive", "key"])
def test_transport_faults_leave_the_websocket_alone(live: LiveServer, selector: str) -> None:
    outcome = run(live, transport="websocket", **arm(live, selector, "reset").options)
    assert outcome.error is None, outcome
    assert [r["status"] for r in outcome.result or []] == ["success"]
    assert [e["transport"] for e in outcome.submits] == ["ws"]
