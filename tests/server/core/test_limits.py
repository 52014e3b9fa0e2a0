"""Bounded cost per request (``core/limits.py``): a cap on tasks per request, answered
before authentication and validation, and a cap on the error items of every reply.

This module's ``client`` runs with small caps (``CAP`` tasks, ``MAX_ERRORS`` items);
tests/server/serve/test_limits.py covers the WebSocket, the CLI and the defaults
under ``ltxmock serve``'s ASGI app.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltxmock.validators import PayloadError, RequestValidator, default_validator
from support.server import (
    API_KEY,
    FakeClock,
    MockClient,
    assert_runware_shaped,
    auth_element,
    get_response,
    new_uuid,
    video_task,
)

from ltxmock.server import ApiRequest, MockConfig, MockService
from ltxmock.server.core.errors import CONNECT_DOCS
from ltxmock.server.core.limits import cap_errors, task_count, too_many_tasks
from ltxmock.server.core.reply import Reply
from ltxmock.server.http.app import build_store

CAP = 5
MAX_ERRORS = 4


@pytest.fixture
def mock_config(clock: FakeClock) -> MockConfig:
    return MockConfig(
        latency=3.0,
        clock=clock,
        render_mode="lazy",
        max_tasks_per_request=CAP,
        max_error_items=MAX_ERRORS,
    )


def too_many(count: int, limit: int = CAP) -> dict[str, Any]:
    return {
        "code": "tooManyTasks",
        "message": f"Too many tasks in one request: {count:,}; the limit is {limit:,}. "
        f"Send at most {limit:,} tasks per request (an authentication element is not "
        "counted), or start the mock with a higher --max-tasks-per-request.",
        "type": "array",
        "documentation": CONNECT_DOCS,
    }


def invalid(**changes: Any) -> dict[str, Any]:
    """A task with two validation errors (duration and fps), plus ``changes``."""
    return video_task(duration=7, fps=13, **changes)


# -- the settings ---------------------------------------------------------------------


def test_the_defaults_and_their_environment_variables() -> None:
    assert (MockConfig().max_tasks_per_request, MockConfig().max_error_items) == (10, 100)
    config = MockConfig.from_env(
        {"LTXMOCK_MAX_TASKS_PER_REQUEST": "25", "LTXMOCK_MAX_ERROR_ITEMS": "7"}
    )
    assert (config.max_tasks_per_request, config.max_error_items) == (25, 7)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_tasks_per_request", 0, "max_tasks_per_request must be >= 1"),
        ("max_tasks_per_request", -5, "max_tasks_per_request must be >= 1"),
        ("max_error_items", 1, "max_error_items must be >= 2"),
    ],
)
def test_caps_below_their_minimum_are_refused(field: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MockConfig(**{field: value})


# -- the pieces -----------------------------------------------------------------------


def test_a_leading_authentication_element_is_not_a_task() -> None:
    tasks = [video_task(), video_task()]
    assert task_count(tasks) == 2
    assert task_count([auth_element(), *tasks]) == 2
    assert task_count([*tasks, auth_element()]) == 3  # anywhere else it is an element like any
    assert task_count([]) == 0


@pytest.mark.parametrize("body", [None, {}, "x", 12, [], [1] * CAP, [auth_element()] + [1] * CAP])
def test_bodies_within_the_cap_or_not_arrays_are_left_to_validation(body: Any) -> None:
    assert too_many_tasks(body, CAP) is None


def test_the_too_many_tasks_error() -> None:
    error = too_many_tasks([{}] * 12_345, 10)
    assert error is not None
    assert (error.status, error.errors) == (400, [too_many(12_345, 10)])


def errors_of(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"code": "c", "message": str(i), **fields} for i in range(count)]


@pytest.mark.parametrize("count", [0, 1, MAX_ERRORS])
def test_errors_within_the_cap_are_kept_as_they_are(count: int) -> None:
    errors = errors_of(count, taskUUID="t")
    assert cap_errors(errors, MAX_ERRORS) is errors


def test_errors_over_the_cap_end_with_how_many_more_there_were() -> None:
    errors = errors_of(20_000)
    capped = cap_errors(errors, 100)
    assert capped[:99] == errors[:99]
    assert capped[99:] == [
        {
            "code": "moreErrors",
            "message": "... and 19,901 more errors (this reply shows the first 99 of 20,000).",
        }
    ]


def test_the_summary_is_scoped_to_the_one_task_it_stands_for() -> None:
    # Over the WebSocket, an error without a taskUUID fails every pending task.
    shown = errors_of(1, taskUUID="a", taskType="videoInference")
    hidden = errors_of(3, taskUUID="b", taskType="videoInference")
    assert cap_errors(shown + hidden, 2)[1] == {
        "code": "moreErrors",
        "message": "... and 3 more errors (this reply shows the first 1 of 4).",
        "taskUUID": "b",
        "taskType": "videoInference",
    }
    mixed = hidden + errors_of(1, taskUUID="c", taskType="videoInference")
    assert set(cap_errors(shown + mixed, 2)[1]) == {"code", "message"}
    unhashable = errors_of(3, taskUUID=["b"])  # never from the mock, but must not crash
    assert set(cap_errors(unhashable, 2)[1]) == {"code", "message"}


def test_a_capped_reply_keeps_its_status_data_and_fault() -> None:
    reply = Reply.envelope([{"taskType": "ping", "pong": True}], errors_of(9), fault="f")
    capped = reply.capped(3)
    assert (capped.status, capped.data, capped.fault) == (200, reply.data, "f")
    assert [e["code"] for e in capped.errors] == ["c", "c", "moreErrors"]
    assert reply.capped(9) is reply


# -- REST -----------------------------------------------------------------------------


def test_a_request_over_the_cap_is_refused_before_authentication(client: MockClient) -> None:
    body = [invalid() for _ in range(CAP + 1)]
    for key in (API_KEY, None, "not-a-configured-key"):
        answer = client.post(body, key=key)
        assert (answer.status, answer.body) == (400, {"errors": [too_many(CAP + 1)]})
    assert client.service.store.tasks.count(now=client.service.now()) == 0


def test_the_cap_counts_tasks_not_the_authentication_element(client: MockClient) -> None:
    tasks = [video_task() for _ in range(CAP)]
    answer = client.post([auth_element(), *tasks], key=None)
    assert answer.status == 200
    assert [item["taskUUID"] for item in answer.data] == [t["taskUUID"] for t in tasks]
    answer = client.post([auth_element(), *tasks, video_task()], key=None)
    assert answer.body == {"errors": [too_many(CAP + 1)]}


def test_validation_errors_are_capped(client: MockClient) -> None:
    tasks = [invalid() for _ in range(CAP)]
    full = [e.to_dict() for e in default_validator().validate(tasks)]
    assert len(full) == 2 * CAP > MAX_ERRORS
    answer = client.submit(*tasks)
    assert answer.status == 400
    assert_runware_shaped(answer.status, answer.body)
    assert answer.errors[:-1] == full[: MAX_ERRORS - 1]
    assert answer.errors[-1] == {
        "code": "moreErrors",
        "message": f"... and {len(full) - MAX_ERRORS + 1} more errors "
        f"(this reply shows the first {MAX_ERRORS - 1} of {len(full)}).",
    }
    # The journal keeps what the client got.
    entry = client.service.journal.last()
    assert entry is not None
    assert entry.response == answer.body


def test_one_task_s_many_errors_end_with_a_summary_scoped_to_it(client: MockClient) -> None:
    task = video_task(**{f"unknown{i}": i for i in range(10)})
    answer = client.submit(task)
    assert answer.codes == ["unsupportedParameter"] * (MAX_ERRORS - 1) + ["moreErrors"]
    assert answer.errors[-1]["taskUUID"] == task["taskUUID"]
    assert answer.errors[-1]["taskType"] == "videoInference"


def test_conflicts_are_capped(client: MockClient) -> None:
    tasks = [video_task() for _ in range(CAP)]
    assert client.submit(*tasks).status == 200
    changed = [{**task, "positivePrompt": "Another prompt entirely"} for task in tasks]
    answer = client.submit(*changed)
    assert answer.status == 400
    shown = MAX_ERRORS - 1
    assert [e["code"] for e in answer.errors] == ["conflictTaskUUID"] * shown + ["moreErrors"]
    assert [e["taskUUID"] for e in answer.errors[:-1]] == [t["taskUUID"] for t in tasks[:shown]]
    assert answer.errors[-1] == {
        "code": "moreErrors",
        "message": f"... and {CAP - shown} more errors (this reply shows the first {shown} "
        f"of {CAP}).",
    }  # no taskUUID: the errors left out are two tasks' ones


def test_poll_errors_are_capped(client: MockClient) -> None:
    known = video_task()
    client.submit(known)
    unknown = [new_uuid() for _ in range(CAP - 1)]
    answer = client.poll(known["taskUUID"], *unknown)
    assert answer.status == 200  # the known task's item is in data
    assert_runware_shaped(answer.status, answer.body)
    assert answer.statuses == ["processing"]
    assert answer.codes == ["taskNotFound"] * (CAP - 1)  # within the cap: as before
    answer = client.poll(*unknown, new_uuid())
    assert answer.status == 404  # every error a taskNotFound, as without the cap
    assert answer.codes == ["taskNotFound"] * (MAX_ERRORS - 1) + ["moreErrors"]
    assert set(answer.errors[-1]) == {"code", "message"}  # two tasks' errors left out


# -- property: around the cap -----------------------------------------------------------


class CountingValidator(RequestValidator):
    """The packaged documents' validator, counting the bodies it looks at."""

    def __init__(self) -> None:
        super().__init__(default_validator().documents)
        self.calls = 0

    def validate(self, body: Any) -> list[PayloadError]:
        self.calls += 1
        return super().validate(body)

    def is_valid(self, body: Any) -> bool:
        self.calls += 1
        return super().is_valid(body)


def property_service(clock: FakeClock, cap: int, validator: RequestValidator) -> MockService:
    config = MockConfig(
        latency=3.0,
        clock=clock,
        render_mode="lazy",
        api_keys=(API_KEY,),
        max_tasks_per_request=cap,
        max_error_items=MAX_ERRORS,
    )
    return MockService(config, store=build_store(config), validator=validator)


@pytest.fixture(scope="module")
def capped_and_not() -> Any:
    """One service with the cap, one without it (Hypothesis reruns the test, not fixtures)."""
    clock = FakeClock()
    capped = property_service(clock, CAP, CountingValidator())
    uncapped = property_service(clock, 10_000, default_validator())
    yield capped, uncapped
    capped.close()
    uncapped.close()


uuids = st.uuids(version=4).map(str)
tasks = st.one_of(
    uuids.map(lambda u: video_task(taskUUID=u)),
    uuids.map(lambda u: invalid(taskUUID=u)),
    uuids.map(lambda u: video_task(taskUUID=u, **{"unknown": 1, "other": 2})),
    uuids.map(get_response),
    st.just({"taskType": "ping"}),
    st.just({"taskType": "nope"}),
    st.just(auth_element()),  # not leading: an element like any other
    st.integers(),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.lists(tasks, max_size=CAP + 3),
    leading_auth=st.booleans(),
    header_key=st.sampled_from([API_KEY, None, "not-a-configured-key"]),
)
def test_at_most_the_cap_is_answered_as_before_above_it_one_early_400(
    capped_and_not: tuple[MockService, MockService],
    body: list[Any],
    leading_auth: bool,
    header_key: str | None,
) -> None:
    capped, uncapped = capped_and_not
    validator = capped.validator
    assert isinstance(validator, CountingValidator)
    body = [auth_element(), *body] if leading_auth else body
    count = len(body) - 1 if body and body[0] == auth_element() else len(body)
    request = ApiRequest(body, api_key=header_key, base_url="http://x")
    capped.journal.clear()
    validator.calls = 0
    stored = capped.store.tasks.count(now=capped.now())

    reply = capped.handle(request)

    assert len(capped.journal) == 1  # the normal entry, and only that
    entry = capped.journal.last()
    assert entry is not None
    assert (entry.status, entry.response) == (reply.status, reply.payload)
    if count <= CAP:
        assert reply == uncapped.handle(request)
        return
    assert (reply.status, reply.payload) == (400, {"errors": [too_many(count)]})
    assert validator.calls == 0
    assert capped.store.tasks.count(now=capped.now()) == stored
