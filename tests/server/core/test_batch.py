"""``MockService.handle_batch``: several requests, their writes in one store transaction.

What ``ltxmock serve``'s group commit relies on (tests/server/serve/test_asgi.py
drives it through the ASGI app): one commit for the whole batch; every request
answered exactly as it would be alone, in order; a request refused in the batch
(by the transport, at admission, by a conflict, or by a failing write) leaves
nothing of itself and the others stored; a failed commit stores nothing and
says so.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.server import API_KEY, FakeClock, get_response, video_task

from ltxmock.server import ApiRequest, MockConfig, MockService, create_service
from ltxmock.server.core.errors import payload_too_large
from ltxmock.server.store import SqliteStore


@pytest.fixture
def batch_service(tmp_path: Path, clock: FakeClock) -> Iterator[MockService]:
    service = create_service(
        MockConfig(data_dir=tmp_path, latency=1, clock=clock, render_mode="lazy")
    )
    # The first request also purges expired rows (once a minute, a write of its
    # own): done now, so that the tests count only their own commits.
    service.handle(rest([{"taskType": "ping"}]))
    service.journal.clear()
    yield service
    service.close()


def rest(body: Any, **options: Any) -> ApiRequest:
    return ApiRequest(body, **{"api_key": API_KEY, "base_url": "http://x", **options})


def count_commits(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Count the write transactions this thread opens (a nested one joins the open one;
    the service's background threads, deliveries and renders, are not counted)."""
    engine = store.engine
    opened = engine.transaction
    caller = threading.get_ident()
    count = 0

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        if threading.get_ident() == caller and engine.own_open_write() is None:
            count += 1
        return opened(*args, **kwargs)

    monkeypatch.setattr(engine, "transaction", counting)
    return lambda: count


def stored(service: MockService, *tasks: dict[str, Any]) -> list[bool]:
    now = service.now()
    return [service.store.tasks.get(task["taskUUID"], now=now) is not None for task in tasks]


def statuses(replies: list[Any]) -> list[int]:
    return [reply.status for reply in replies]


def test_a_batch_is_one_commit_where_single_requests_are_one_each(
    batch_service: MockService, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(batch_service.store, SqliteStore)
    commits = count_commits(batch_service.store, monkeypatch)
    tasks = [video_task(webhookURL="http://127.0.0.1:9/hook"), video_task(), video_task()]
    replies = batch_service.handle_batch(
        [rest([task]) for task in tasks] + [rest([get_response(tasks[0]["taskUUID"])])]
    )
    assert statuses(replies) == [200, 200, 200, 404]
    assert commits() == 1  # three tasks, a delivery, four journal entries
    assert stored(batch_service, *tasks) == [True] * 3
    assert len(batch_service.journal) == 4
    for task in (video_task(), video_task()):
        assert batch_service.handle(rest([task])).status == 200
    assert commits() == 3  # handle is a batch of one


def test_each_request_of_a_batch_gets_the_answer_it_would_get_alone(
    batch_service: MockService,
) -> None:
    known = video_task()
    assert batch_service.handle(rest([known])).status == 200
    fresh, unknown = video_task(), video_task()
    replies = batch_service.handle_batch(
        [
            rest([fresh]),
            rest([{**known, "positivePrompt": "another prompt, same taskUUID"}]),
            rest([get_response(known["taskUUID"])]),
            rest([get_response(unknown["taskUUID"])]),
            rest([known]),  # a retry: acked again
            rest([{"taskType": "ping"}], api_key=None),
            rest([video_task(duration=7)]),
        ]
    )
    assert statuses(replies) == [200, 400, 200, 404, 200, 401, 400]
    assert replies[0].data == [{"taskType": "videoInference", "taskUUID": fresh["taskUUID"]}]
    assert [e["code"] for e in replies[1].errors] == ["conflictTaskUUID"]
    assert replies[2].data[0]["status"] == "processing"
    assert [e["code"] for e in replies[3].errors] == ["taskNotFound"]
    assert replies[4].data == [{"taskType": "videoInference", "taskUUID": known["taskUUID"]}]
    assert [e["code"] for e in replies[5].errors] == ["invalidApiKey"]
    assert [e["code"] for e in replies[6].errors] == ["unsupportedDuration"]
    # One journal entry each, in the order of the batch.
    assert [e.status for e in batch_service.journal.entries()] == [200, *statuses(replies)]


def test_a_refused_request_leaves_nothing_of_itself_and_the_others_stored(
    batch_service: MockService,
) -> None:
    known = video_task()
    assert batch_service.handle(rest([known])).status == 200
    before, doomed, after = video_task(), video_task(), video_task()
    clash = {**known, "fps": 50}
    replies = batch_service.handle_batch([rest([before]), rest([doomed, clash]), rest([after])])
    assert statuses(replies) == [200, 400, 200]
    assert [e["taskUUID"] for e in replies[1].errors] == [known["taskUUID"]]
    assert stored(batch_service, before, doomed, after) == [True, False, True]
    assert batch_service.store.tasks.count(now=batch_service.now()) == 3
    # The rolled-back task is new again to a later request.
    assert batch_service.handle(rest([doomed])).status == 200


def test_a_request_the_transport_refused_is_journaled_in_its_place(
    batch_service: MockService,
) -> None:
    task = video_task()
    refused = ApiRequest("[{...", transport="rest", refusal=payload_too_large(1000))
    replies = batch_service.handle_batch([refused, rest([task])])
    assert statuses(replies) == [413, 200]
    assert [e["code"] for e in replies[0].errors] == ["payloadTooLarge"]
    entries = batch_service.journal.entries()
    assert [(e.status, e.request) for e in entries] == [(413, "[{..."), (200, [task])]
    assert stored(batch_service, task) == [True]


def test_the_same_task_twice_in_a_batch_is_stored_once(batch_service: MockService) -> None:
    task = video_task()
    replies = batch_service.handle_batch(
        [rest([task]), rest([task]), rest([{**task, "duration": 8}])]
    )
    assert statuses(replies) == [200, 200, 400]
    assert replies[0].payload == replies[1].payload  # the second is a retry
    assert [e["code"] for e in replies[2].errors] == ["conflictTaskUUID"]
    assert batch_service.store.tasks.count(now=batch_service.now()) == 1


def test_polls_are_answered_before_the_batch_writes(batch_service: MockService) -> None:
    # Requests of one batch arrived together: a poll does not see a submit beside it.
    task = video_task()
    replies = batch_service.handle_batch([rest([task]), rest([get_response(task["taskUUID"])])])
    assert statuses(replies) == [200, 404]
    assert batch_service.handle(rest([get_response(task["taskUUID"])])).status == 200


def test_a_write_failing_for_one_request_leaves_the_others_stored(
    batch_service: MockService, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    first, broken, last = video_task(), video_task(), video_task()
    put = batch_service.store.tasks.put

    def failing_put(record: Any) -> None:
        if record.task_uuid == broken["taskUUID"]:
            raise RuntimeError("disk hiccup")
        put(record)

    monkeypatch.setattr(batch_service.store.tasks, "put", failing_put)
    with caplog.at_level(logging.ERROR, logger="ltxmock.server"):
        replies = batch_service.handle_batch([rest([first]), rest([broken]), rest([last])])
    assert statuses(replies) == [200, 500, 200]
    assert [e["code"] for e in replies[1].errors] == ["internalServerError"]
    assert "disk hiccup" not in str(replies[1].payload)  # details go to the log only
    assert "RuntimeError: disk hiccup" in caplog.text
    assert stored(batch_service, first, broken, last) == [True, False, True]
    assert [e.status for e in batch_service.journal.entries()] == [200, 500, 200]


def test_a_failed_commit_stores_nothing_and_says_so(
    batch_service: MockService, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = video_task()
    assert batch_service.handle(rest([known])).status == 200
    batch_service.journal.clear()

    @contextlib.contextmanager
    def unwritable() -> Iterator[None]:
        raise OSError("disk full")
        yield  # pragma: no cover

    monkeypatch.setattr(batch_service.store, "transaction", unwritable)
    task = video_task()
    replies = batch_service.handle_batch(
        [rest([task]), rest([get_response(known["taskUUID"])]), rest([{"taskType": "ping"}])]
    )
    assert statuses(replies) == [500, 200, 200]  # read-only answers stand
    assert [e["code"] for e in replies[0].errors] == ["internalServerError"]
    monkeypatch.undo()
    assert stored(batch_service, task) == [False]
    assert batch_service.journal.entries() == []  # the batch's entries were lost with it
