"""GroupCommit: the ``POST /v1`` requests that arrive within ``extra_turns`` turns of the
event loop go to ``service.handle_batch`` together; nobody waits longer than that.

A recording stand-in for the service shows the batches; what a batch means for
the store is tests/server/core/test_batch.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest

from ltxmock.server import ApiRequest, MockService, Reply
from ltxmock.server.serve.group_commit import GroupCommit


class Recording:
    """``handle_batch`` that answers each request with its position and records batches."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.batches: list[list[Any]] = []
        self.failure = failure

    def handle_batch(self, requests: Sequence[ApiRequest]) -> list[Reply]:
        self.batches.append([request.body for request in requests])
        if self.failure is not None:
            raise self.failure
        return [Reply(200, {"data": [{"echo": request.body}]}) for request in requests]


def group(service: Recording, **options: Any) -> GroupCommit:
    return GroupCommit(cast(MockService, service), **options)


def test_requests_ready_in_one_turn_are_one_batch_in_arrival_order() -> None:
    service = Recording()
    commits = group(service)

    async def run() -> list[Reply]:
        return list(await asyncio.gather(*(commits.submit(ApiRequest(n)) for n in range(5))))

    replies = asyncio.run(run())
    assert service.batches == [[0, 1, 2, 3, 4]]
    assert [reply.payload for reply in replies] == [{"data": [{"echo": n}]} for n in range(5)]


def test_a_request_of_a_later_turn_is_a_batch_of_its_own() -> None:
    service = Recording()
    commits = group(service)

    async def run() -> None:
        first = asyncio.gather(commits.submit(ApiRequest("a")), commits.submit(ApiRequest("b")))
        await first
        await commits.submit(ApiRequest("c"))  # queued after the first flush ran

    asyncio.run(run())
    assert service.batches == [["a", "b"], ["c"]]


def submit_turns_apart(commits: GroupCommit, turns: int) -> None:
    """Submit "a", let ``turns`` turns of the loop pass, submit "b"."""

    async def run() -> None:
        first = asyncio.ensure_future(commits.submit(ApiRequest("a")))
        await asyncio.sleep(0)  # "a" is queued and its flush scheduled
        for _ in range(turns):
            await asyncio.sleep(0)
        await asyncio.gather(first, commits.submit(ApiRequest("b")))

    asyncio.run(run())


@pytest.mark.parametrize("extra_turns", [0, 1, 2, 5])
def test_a_request_within_the_extra_turns_joins_the_group(extra_turns: int) -> None:
    for turns in range(extra_turns):
        service = Recording()
        submit_turns_apart(group(service, extra_turns=extra_turns), turns)
        assert service.batches == [["a", "b"]], (extra_turns, turns)


@pytest.mark.parametrize("extra_turns", [0, 1, 2, 5])
def test_a_request_after_them_is_the_next_group(extra_turns: int) -> None:
    service = Recording()
    submit_turns_apart(group(service, extra_turns=extra_turns), extra_turns + 1)
    assert service.batches == [["a"], ["b"]]


def test_the_extra_turns_are_not_negative() -> None:
    with pytest.raises(ValueError, match="extra_turns"):
        group(Recording(), extra_turns=-1)


def test_a_failing_batch_tells_every_waiter() -> None:
    service = Recording(failure=RuntimeError("store gone"))
    commits = group(service)

    async def run() -> list[Any]:
        waiters = (commits.submit(ApiRequest(n)) for n in range(3))
        return list(await asyncio.gather(*waiters, return_exceptions=True))

    outcomes = asyncio.run(run())
    assert [str(outcome) for outcome in outcomes] == ["store gone"] * 3
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)


def test_a_client_that_left_does_not_take_the_others_down() -> None:
    service = Recording()
    commits = group(service)

    async def run() -> Reply:
        left = asyncio.ensure_future(commits.submit(ApiRequest("left")))
        stays = asyncio.ensure_future(commits.submit(ApiRequest("stays")))
        await asyncio.sleep(0)  # both queued; the flush is scheduled
        left.cancel()
        with pytest.raises(asyncio.CancelledError):
            await left
        return await stays

    reply = asyncio.run(run())
    assert service.batches == [["left", "stays"]]  # its request was still handled
    assert reply.payload == {"data": [{"echo": "stays"}]}
