"""The two read-only admin routes the dashboard adds: ``GET /__ltxmock/tasks`` (a task's
state, progress, cost, videos, deliveries) and ``POST /__ltxmock/lint`` (the
playground's linter), with the bounds that keep a dashboard poll cheap."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st
from support.server import FakeClock, MockClient, new_uuid, video_task

from ltxmock.server.core.task_view import MAX_TASKS
from ltxmock.server.http.admin import MAX_LINT_BYTES, MAX_LINT_PROBLEMS


def tasks(client: MockClient, *uuids: str) -> Any:
    query = "&".join(f"uuid={u}" for u in uuids)
    answer = client.admin("GET", f"/tasks?{query}")
    assert answer.status == 200, answer.body
    return answer.body


def test_a_task_is_seen_processing_then_finished_with_its_cost(
    client: MockClient, clock: FakeClock
) -> None:
    task = video_task(includeCost=True, width=3840, height=2160, duration=10)
    assert client.submit(task).status == 200
    clock.advance(1.5)
    [view] = tasks(client, task["taskUUID"])["tasks"]
    assert (view["status"], view["progress"], view["cost"], view["videos"]) == (
        "processing",
        50,
        0,
        [],
    )
    clock.advance(2)
    [view] = tasks(client, task["taskUUID"])["tasks"]
    assert view["status"] == "success"
    assert view["progress"] == 100
    assert view["cost"] == 1.60  # 4K x 10 s at $0.16/s, the price list's anchor
    polled = client.poll(task["taskUUID"]).data[0]
    assert [v["videoURL"] for v in view["videos"]] == [polled["videoURL"]]
    assert view["params"]["positivePrompt"] == task["positivePrompt"]


def test_a_failed_task_shows_its_error(client: MockClient, clock: FakeClock) -> None:
    task = video_task()
    client.submit(task, headers={"X-Ltxmock-Fault": "task:providerError"})
    clock.advance(5)
    [view] = tasks(client, task["taskUUID"])["tasks"]
    assert view["status"] == "error"
    assert view["cost"] == 0
    assert [e["code"] for e in view["errors"]] == ["providerError"]


def test_unknown_tasks_are_listed_as_missing(client: MockClient) -> None:
    task = video_task()
    client.submit(task)
    unknown = new_uuid()
    body = tasks(client, unknown, task["taskUUID"].upper())
    assert body["missing"] == [unknown]
    assert [v["taskUUID"] for v in body["tasks"]] == [task["taskUUID"]]


def test_deliveries_are_shown_with_their_task(client: MockClient, clock: FakeClock) -> None:
    # A closed loopback port (discard): the delivery fails and is retried, on this machine.
    task = video_task(webhookURL="http://127.0.0.1:9/runware")
    client.submit(task)
    clock.advance(5)
    [view] = tasks(client, task["taskUUID"])["tasks"]
    [delivery] = view["deliveries"]
    assert delivery["kind"] == "webhook"
    assert delivery["url"] == "http://127.0.0.1:9/runware"


def test_more_tasks_than_the_cap_are_refused(client: MockClient) -> None:
    query = "&".join(f"uuid={new_uuid()}" for _ in range(MAX_TASKS + 1))
    answer = client.admin("GET", f"/tasks?{query}")
    assert answer.status == 400
    assert answer.body["errors"][0]["code"] == "tooManyTasks"
    assert tasks(client, *[new_uuid() for _ in range(MAX_TASKS)])["tasks"] == []


@given(uuids=st.lists(st.text(min_size=1, max_size=60) | st.uuids().map(str), max_size=MAX_TASKS))
def test_any_uuid_list_within_the_cap_is_answered(
    shared_client: MockClient, uuids: list[str]
) -> None:
    client = shared_client
    known = video_task()
    client.submit(known)
    query = "&".join(f"uuid={quote(u, safe='')}" for u in [*uuids, known["taskUUID"]])
    answer = client.admin("GET", f"/tasks?{query}")
    assert answer.status == 200
    shown = [v["taskUUID"] for v in answer.body["tasks"]]
    assert known["taskUUID"] in shown
    assert len(shown) + len(answer.body["missing"]) == len(uuids) + 1


# -- lint -------------------------------------------------------------------------------


def lint(client: MockClient, text: str) -> Any:
    answer = client.admin("POST", "/lint", {"text": text})
    assert answer.status == 200, answer.body
    return answer.body


def test_lint_places_each_problem_on_its_line(client: MockClient) -> None:
    task = video_task(duration=7, seed=1)
    text = json.dumps([task], indent=2)
    body = lint(client, text)
    found = {p["code"]: p for p in body["problems"]}
    assert set(found) == {"unsupportedDuration", "unsupportedParameter"}
    lines = text.split("\n")
    assert '"duration": 7' in lines[found["unsupportedDuration"]["line"] - 1]
    assert '"seed": 1' in lines[found["unsupportedParameter"]["line"] - 1]
    assert found["unsupportedDuration"]["pointer"] == "/0/duration"


def test_lint_of_a_valid_body_finds_nothing_and_stores_nothing(client: MockClient) -> None:
    task = video_task()
    assert lint(client, json.dumps([task])) == {"problems": [], "more": 0}
    assert client.admin("GET", f"/tasks?uuid={task['taskUUID']}").body["tasks"] == []
    assert len(client.service.journal) == 0  # linting is not a request to the mock


def test_lint_reports_broken_json_where_it_breaks(client: MockClient) -> None:
    [problem] = lint(client, '[{"taskType": "videoInference",\n  "width": 19 20}]')["problems"]
    assert problem["code"] == "invalidJSON"
    assert problem["line"] == 2


def test_lint_lists_a_bounded_number_of_problems(client: MockClient) -> None:
    body = [video_task(seed=1, duration=7, fps=3) for _ in range(60)]
    answer = lint(client, json.dumps(body))
    assert len(answer["problems"]) == MAX_LINT_PROBLEMS
    assert answer["more"] == 3 * 60 - MAX_LINT_PROBLEMS


def test_lint_refuses_a_huge_text_and_a_wrong_shape(client: MockClient) -> None:
    huge = client.admin("POST", "/lint", {"text": "x" * MAX_LINT_BYTES})
    assert huge.status == 413
    assert huge.body["errors"][0]["code"] == "payloadTooLarge"
    for wrong in ({"body": "[]"}, [1], {"text": 3}):
        answer = client.admin("POST", "/lint", wrong)
        assert answer.status == 400
        assert answer.body["errors"][0]["code"] == "invalidLintRequest"


@given(text=st.text(max_size=300))
def test_lint_answers_any_text(shared_client: MockClient, text: str) -> None:
    answer = shared_client.admin("POST", "/lint", {"text": text})
    assert answer.status == 200
    for problem in answer.body["problems"]:
        assert isinstance(problem["code"], str)
        assert isinstance(problem["message"], str)


def test_lint_is_guarded_like_every_change(client: MockClient) -> None:
    plain = client.request("POST", "/__ltxmock/lint", data='{"text": "[]"}')
    assert plain.status == 415  # no JSON content type: what a foreign page could send
    foreign = client.request(
        "POST",
        "/__ltxmock/lint",
        json={"text": "[]"},
        headers={"Origin": "http://evil.example"},
    )
    assert foreign.status == 403


# -- GET /__ltxmock/credits?limit=: the dashboard's bounded read of the accounts ---------


@given(keys=st.integers(min_value=0, max_value=14), limit=st.integers(min_value=0, max_value=16))
def test_a_credits_limit_shows_the_first_accounts_and_says_whether_there_are_more(
    shared_client: MockClient, keys: int, limit: int
) -> None:
    assert shared_client.admin("POST", "/reset").status == 200
    for n in range(keys):
        answer = shared_client.admin("PUT", "/credits", {"apiKey": f"k{n}", "balance": n})
        assert answer.status == 200
    shared_client.admin("PUT", "/credits", {"balance": 3})  # the default is no account
    whole = shared_client.admin("GET", "/credits").body
    assert len(whole["accounts"]) == keys
    assert "more" not in whole  # the unbounded shape is unchanged
    page = shared_client.admin("GET", f"/credits?limit={limit}")
    assert page.status == 200, page.body
    assert page.body == {
        "default": 3,
        "accounts": whole["accounts"][:limit],
        "more": keys > limit,
    }


def test_a_credits_limit_that_is_not_a_count_is_refused(client: MockClient) -> None:
    for bad in ("-1", "x", "", "1.5"):
        answer = client.admin("GET", f"/credits?limit={bad}")
        assert answer.status == 400, (bad, answer.body)
        assert answer.codes == ["invalidQuery"]
