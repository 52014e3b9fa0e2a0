"""A Hypothesis state machine over the mock's protocol and its store: submit, resubmit
(the same task, and other parameters under the same taskUUID), poll, advance the fake
clock, inject faults, and restart the server on the same data dir.

Invariants, checked after every step over every task acked so far:
- an acked task is never lost (a poll finds it, restarts included);
- a task's status never goes back (processing, then success or error, then that for good);
- results never change once a task has ended;
- one stored task per taskUUID (the store holds exactly the acked tasks);
- costs add up: every result of a task with ``includeCost`` costs what the price table
  says, and a task has ``numberResults`` of them; the key's balance (``balance``,
  small enough to run out) has spent exactly what the acked tasks cost, and a submit
  it cannot pay for is refused with 402 ``insufficientCredits`` and not stored.

In process (Flask's test client on ``create_app``, a data dir of SQLite files), so a
run of many steps takes seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)
from support.server import API_KEY, FakeClock, MockClient, get_response, video_task

from ltxmock.server import MockConfig, create_app
from ltxmock.server.core.cost import result_cost
from ltxmock.server.core.credits import task_cost

LATENCY = 2.0
BALANCE = 15.0  # USD: runs out after about a dozen acked tasks, within a run
ORDER = {"processing": 0, "success": 1, "error": 1}
SIZES = [(1920, 1080), (2560, 1440), (3840, 2160)]


def params_strategy() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "size": st.sampled_from(SIZES),
            "duration": st.sampled_from([6, 8, 10]),
            "numberResults": st.integers(min_value=1, max_value=3),
            "includeCost": st.booleans(),
            "positivePrompt": st.sampled_from(["a fox in snow", "a red kite", "rain at night"]),
        }
    )


def make_task(params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    width, height = params["size"]
    fields = {k: v for k, v in params.items() if k != "size"}
    return video_task(width=width, height=height, **fields, **extra)


class SubmitPollRestart(RuleBasedStateMachine):
    acked = Bundle("acked")

    def __init__(self) -> None:
        super().__init__()
        self.data_dir = Path(tempfile.mkdtemp(prefix="ltxmock-machine-"))
        self.clock = FakeClock()
        self.client = self.open()
        self.tasks: dict[str, dict[str, Any]] = {}  # taskUUID -> the task as acked
        self.status: dict[str, str] = {}
        self.ended: dict[str, list[dict[str, Any]]] = {}  # the items of an ended task
        self.failures_injected = 0
        self.armed_status: int | None = None  # a respond_with fault not yet spent
        self.restarts = 0
        self.spent = 0.0  # what the acked tasks cost, by the model

    def open(self) -> MockClient:
        config = MockConfig(
            latency=LATENCY,
            clock=self.clock,
            data_dir=self.data_dir,
            render_mode="lazy",
            max_tasks_per_request=200,  # the invariants poll every task at once
            balance=BALANCE,
        )
        return MockClient(create_app(config))

    def teardown(self) -> None:
        self.client.service.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- one request, aware of the injected status faults -------------------------------
    def post(self, body: list[dict[str, Any]]) -> Any:
        """The answer, or None if an injected fault answered this request instead."""
        answer = self.client.post(body)
        if self.armed_status is not None and answer.status == self.armed_status:
            self.armed_status = None
            return None
        return answer

    # -- rules ----------------------------------------------------------------------------
    @rule(target=acked, params=params_strategy())
    def submit(self, params: dict[str, Any]) -> Any:
        task = make_task(params)
        answer = self.post([task])
        if answer is None:
            return multiple()  # refused by an injected status: never acked
        cost = task_cost(task)
        if answer.status == 402:
            assert [e["code"] for e in answer.errors] == ["insufficientCredits"], answer.body
            assert round(BALANCE - self.spent, 4) < cost, f"refused with {self.spent} spent"
            return multiple()
        assert answer.status == 200, answer.body
        self.spent = round(self.spent + cost, 4)
        assert answer.data == [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]
        self.tasks[task["taskUUID"]] = task
        return task["taskUUID"]

    @rule(task_uuid=acked)
    def resubmit_the_same(self, task_uuid: str) -> None:
        answer = self.post([self.tasks[task_uuid]])
        if answer is not None:
            assert answer.status == 200, answer.body
            assert answer.data[0]["taskUUID"] == task_uuid

    @rule(task_uuid=acked, params=params_strategy())
    def resubmit_other_parameters(self, task_uuid: str, params: dict[str, Any]) -> None:
        other = make_task(params, taskUUID=task_uuid)
        if {k: other[k] for k in other} == self.tasks[task_uuid]:
            return
        answer = self.post([other])
        if answer is not None:
            assert answer.status == 400, answer.body
            assert answer.codes == ["conflictTaskUUID"], answer.body

    @rule(task_uuid=acked)
    def poll(self, task_uuid: str) -> None:
        answer = self.post([get_response(task_uuid)])
        if answer is not None:
            self.observe(answer, [task_uuid])

    @rule(seconds=st.sampled_from([0.2, 0.9, 1.5, LATENCY, 5.0]))
    def advance_the_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: self.failures_injected < 3)
    @rule(code=st.sampled_from(["timeoutProvider", "invalidProviderResponse"]))
    def inject_a_task_failure(self, code: str) -> None:
        self.client.service.faults.fail_tasks(code, times=1)
        self.failures_injected += 1

    @precondition(lambda self: self.armed_status is None)
    @rule(status=st.sampled_from([429, 500, 503]))
    def inject_a_status(self, status: int) -> None:
        self.client.service.faults.respond_with(status, times=1)
        self.armed_status = status

    @rule()
    def restart_on_the_same_data_dir(self) -> None:
        self.client.service.close()
        self.client = self.open()
        self.restarts += 1

    @rule(task_uuid=consumes(acked))
    def forget_a_handle(self, task_uuid: str) -> None:
        """Only the bundle forgets it: the invariants keep checking the task."""

    # -- invariants -----------------------------------------------------------------------
    def observe(self, answer: Any, asked: list[str]) -> None:
        items: dict[str, list[dict[str, Any]]] = {}
        for item in answer.data:
            items.setdefault(item["taskUUID"].lower(), []).append(item)
        for error in answer.errors:
            key = str(error.get("taskUUID", "")).lower()
            items.setdefault(key, []).append({**error, "status": "error"})
        for task_uuid in asked:
            got = items.get(task_uuid.lower())
            assert got, f"acked task {task_uuid} is lost: {answer.body}"
            statuses = {item.get("status") for item in got}
            assert len(statuses) == 1, got
            status = statuses.pop()
            before = self.status.get(task_uuid, "processing")
            assert ORDER[status] >= ORDER[before], f"{task_uuid}: {before} -> {status}"
            if before != "processing":
                assert status == before, f"{task_uuid}: {before} -> {status}"
            self.status[task_uuid] = status
            if status != "processing":
                if task_uuid in self.ended:
                    assert got == self.ended[task_uuid], "results changed after the end"
                else:
                    self.ended[task_uuid] = got
                    self.check_cost(self.tasks[task_uuid], got)

    def check_cost(self, task: dict[str, Any], items: list[dict[str, Any]]) -> None:
        if items[0]["status"] != "success":
            return
        assert len(items) == task["numberResults"], items
        if task["includeCost"]:
            assert [i["cost"] for i in items] == [result_cost(task)] * len(items), items
        else:
            assert all("cost" not in i for i in items), items

    @invariant()
    def every_acked_task_is_there_once(self) -> None:
        if not self.tasks:
            return
        asked = list(self.tasks)
        answer = self.post([get_response(u) for u in asked])
        if answer is None:
            return
        self.observe(answer, asked)
        stored = self.client.service.store.tasks.count(now=self.clock())
        assert stored == len(self.tasks), f"{stored} stored for {len(self.tasks)} acked"
        ended_in_error = sum(1 for s in self.status.values() if s == "error")
        assert ended_in_error <= self.failures_injected

    @invariant()
    def the_balance_has_spent_what_the_acked_tasks_cost(self) -> None:
        account = self.client.service.credits.account(API_KEY)
        assert account.spent == self.spent, (account, self.spent)
        assert account.balance == round(BALANCE - self.spent, 4), (account, self.spent)


SubmitPollRestart.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_submit_poll_restart = pytest.mark.slow(SubmitPollRestart.TestCase)
