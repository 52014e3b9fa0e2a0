"""The fixture reads and sets credit balances, scripts polls per taskUUID, and shows
captured webhooks and uploads with what they would have sent."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.server import API_KEY, get_response, new_uuid, video_task

from ltxmock.server.core.credits import task_cost
from ltxmock.testing import MockAssertionError, MockServer

KEY = API_KEY
HEADERS = {"Authorization": f"Bearer {KEY}"}
usd = st.floats(0, 1000, allow_nan=False).map(lambda x: round(x, 4))


def _post(mock: MockServer, body: object, key: str = KEY) -> httpx.Response:
    return httpx.post(mock.url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10)


# -- credits ---------------------------------------------------------------------


def test_no_balance_means_unlimited(ltxmock_server: MockServer) -> None:
    assert ltxmock_server.balance() is None
    assert ltxmock_server.balance(KEY) is None
    assert _post(ltxmock_server, [video_task()]).status_code == 200
    assert ltxmock_server.balance(KEY) is None


@settings(deadline=None, max_examples=25)
@given(start=usd, other=usd)
def test_a_balance_set_is_the_balance_read(
    ltxmock_session: MockServer, start: float, other: float
) -> None:
    ltxmock_session.set_balance(start)
    ltxmock_session.set_balance(other, api_key="someone-else")
    assert ltxmock_session.balance() == start
    assert ltxmock_session.balance(KEY) == start  # a key that never spent: the default
    assert ltxmock_session.balance("someone-else") == other


@settings(deadline=None, max_examples=15)
@given(durations=st.lists(st.sampled_from([6, 8, 10]), min_size=1, max_size=4), spare=usd)
def test_accepted_tasks_spend_their_cost_then_402(
    ltxmock_session: MockServer, durations: list[int], spare: float
) -> None:
    key = f"key-{new_uuid()}"  # a fresh account per example
    tasks = [video_task(duration=d) for d in durations]
    costs = [task_cost(t) for t in tasks]
    ltxmock_session.set_balance(round(sum(costs[:-1]) + min(spare, costs[-1] / 2), 4), key)
    for task in tasks[:-1]:
        assert _post(ltxmock_session, [task], key).status_code == 200
    assert ltxmock_session.spent(key) == pytest.approx(sum(costs[:-1]), abs=1e-4)
    left = ltxmock_session.balance(key)
    assert left is not None
    assert left < costs[-1]
    refused = _post(ltxmock_session, [tasks[-1]], key)
    assert refused.status_code == 402
    assert refused.json()["errors"][0]["code"] == "insufficientCredits"
    assert ltxmock_session.balance(key) == left  # nothing spent on a refusal


@pytest.mark.ltxmock(balance=0)
def test_a_balance_in_the_marker_needs_no_server_of_its_own(ltxmock_server: MockServer) -> None:
    assert ltxmock_server.base_config.balance is None  # the session's ordinary server
    assert ltxmock_server.balance() == 0
    reply = _post(ltxmock_server, [video_task()])
    assert reply.status_code == 402
    ltxmock_server.set_balance(None, KEY)
    assert _post(ltxmock_server, [video_task()]).status_code == 200


def test_configure_and_reset_undo_a_balance(ltxmock_server: MockServer) -> None:
    ltxmock_server.configure(balance=2.5)
    assert ltxmock_server.balance() == 2.5
    ltxmock_server.configure()
    assert ltxmock_server.balance() is None
    ltxmock_server.set_balance(1, KEY)
    ltxmock_server.reset()
    assert ltxmock_server.balance(KEY) is None


def test_a_server_started_with_a_balance_keeps_it_across_resets() -> None:
    with MockServer(latency=0, balance=3) as mock:
        mock.set_balance(0)
        mock.configure(balance=1)
        mock.configure()
        assert mock.balance() == 3
        mock.set_balance(0)
        mock.reset()
        assert mock.balance(KEY) == 3


def test_a_negative_balance_is_refused(ltxmock_server: MockServer) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        ltxmock_server.set_balance(-1)


# -- scripts ---------------------------------------------------------------------


def test_a_script_answers_each_poll_in_turn(ltxmock_server: MockServer) -> None:
    task = video_task()
    ltxmock_server.script(task["taskUUID"], ["processing", "processing", "timeoutProvider"])
    assert _post(ltxmock_server, [task]).status_code == 200
    answers = [_post(ltxmock_server, [get_response(task["taskUUID"])]) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert [a.json()["data"][0]["status"] for a in answers[:2]] == ["processing"] * 2
    for failed in answers[2:]:  # the last outcome repeats
        (error,) = failed.json()["errors"]
        assert (error["code"], error["taskUUID"]) == ("timeoutProvider", task["taskUUID"])
    (script,) = ltxmock_server.scripts
    assert script["taskUUID"] == task["taskUUID"]
    assert script["outcomes"] == ["processing", "processing", "timeoutProvider"]


@settings(deadline=None, max_examples=20)
@given(
    outcomes=st.lists(
        st.sampled_from(["processing", "success", "providerError", "timeoutProvider"]),
        min_size=1,
        max_size=5,
    )
)
def test_any_script_is_followed(ltxmock_session: MockServer, outcomes: list[str]) -> None:
    task = video_task()
    ltxmock_session.script(task["taskUUID"], outcomes)
    assert _post(ltxmock_session, [task]).status_code == 200
    for expected in [*outcomes, outcomes[-1]]:
        body = _post(ltxmock_session, [get_response(task["taskUUID"])]).json()
        if expected in ("processing", "success"):
            assert {item["status"] for item in body["data"]} == {expected}
        else:
            assert [e["code"] for e in body["errors"]] == [expected]


@pytest.mark.parametrize("outcomes", [[], ["no such thing!"], [3], ["processing"] * 101])
def test_a_bad_script_is_refused(ltxmock_server: MockServer, outcomes: list[object]) -> None:
    with pytest.raises(ValueError, match="outcome"):
        ltxmock_server.script(new_uuid(), outcomes)  # type: ignore[arg-type]
    assert ltxmock_server.scripts == []


# -- the sink --------------------------------------------------------------------


def test_a_captured_webhook_shows_in_webhooks_with_its_body(ltxmock_server: MockServer) -> None:
    task = video_task(webhookURL="https://hooks.example.com/runware?token=t")
    assert _post(ltxmock_server, [task]).status_code == 200
    (delivery,) = ltxmock_server.wait_for_deliveries(kind="webhook", state="captured")
    assert ltxmock_server.webhooks == [delivery]
    assert delivery["task_uuid"] == task["taskUUID"]
    body = delivery["captured"]["body"]
    assert (body["taskUUID"], body["status"]) == (task["taskUUID"], "success")
    assert body["videoURL"].startswith(ltxmock_server.base_url)
    assert ltxmock_server.uploads == []


@pytest.mark.slow
def test_a_captured_upload_shows_in_uploads_with_its_size_and_hash(
    ltxmock_server: MockServer,
) -> None:
    task = video_task(uploadEndpoint="https://bucket.test/put/video.mp4")
    assert _post(ltxmock_server, [task]).status_code == 200
    (upload,) = ltxmock_server.wait_for_deliveries(kind="upload", state="captured", timeout=60)
    assert ltxmock_server.uploads == [upload]
    captured = upload["captured"]
    assert captured["contentType"] == "video/mp4"
    video = httpx.get(ltxmock_server.base_url + captured["bodyURL"], timeout=10)
    assert hashlib.sha256(video.content).hexdigest() == captured["sha256"]
    assert len(video.content) == captured["size"]


def test_waiting_for_deliveries_that_never_come_says_what_there_is(
    ltxmock_server: MockServer,
) -> None:
    task = video_task(webhookURL="https://hooks.example.com/h")
    assert _post(ltxmock_server, [task]).status_code == 200
    ltxmock_server.wait_for_deliveries(kind="webhook", state="captured")
    with pytest.raises(MockAssertionError, match=r"expected 1 deliveries.*found 0") as failure:
        ltxmock_server.wait_for_deliveries(kind="upload", timeout=0.1)
    assert "'kind': 'webhook'" in str(failure.value) or '"kind": "webhook"' in str(failure.value)


# -- faults with Retry-After, rules, and what counts as a rejection ---------------


@pytest.mark.parametrize("status", [429, 503])
def test_respond_with_sends_retry_after(ltxmock_server: MockServer, status: int) -> None:
    ltxmock_server.respond_with(status, retry_after=7)
    refused = _post(ltxmock_server, [video_task()])
    assert refused.status_code == status
    assert refused.headers["Retry-After"] == "7"
    assert "Retry-After" not in _post(ltxmock_server, [video_task()]).headers


def test_add_fault_takes_the_admin_api_rule(ltxmock_server: MockServer) -> None:
    ltxmock_server.add_fault({"status": 429, "retryAfter": 2, "match": {"duration": 10}})
    assert _post(ltxmock_server, [video_task(duration=6)]).status_code == 200
    refused = _post(ltxmock_server, [video_task(duration=10)])
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "2")
    with pytest.raises(ValueError, match="unknown fault fields"):
        ltxmock_server.add_fault({"status": 429, "retry_after": 2})


@pytest.mark.ltxmock(balance=0, fail_on_rejected=True)
def test_a_402_for_want_of_credit_is_no_unexpected_rejection(
    ltxmock_server: MockServer,
) -> None:
    assert _post(ltxmock_server, [video_task()]).status_code == 402
    assert ltxmock_server.rejected() == []
    assert _post(ltxmock_server, [video_task(duration=7)]).status_code == 400
    assert [e.status for e in ltxmock_server.rejected()] == [400]
    ltxmock_server.reset()  # (else the teardown check would fail this test)
