"""429 and 503: the client retries the same request, waiting what Retry-After says."""

from __future__ import annotations

import pytest
from conftest import Sleeps
from hypothesis import given, settings
from hypothesis import strategies as st
from video_client import RateLimitedError, RunwareError, VideoClient

from ltxmock.testing import MockServer


def test_a_429_rule_with_retry_after_is_waited_out(
    client: VideoClient, ltxmock_server: MockServer, sleeps: Sleeps
) -> None:
    # The admin API's rule syntax (POST /__ltxmock/faults): the next two requests.
    ltxmock_server.add_fault({"status": 429, "retryAfter": 2, "times": 2})
    video = client.generate("a red fox")
    assert sleeps[:2] == [2.0, 2.0]
    submits = [e for e in ltxmock_server.requests if "videoInference" in e.task_types]
    assert [e.status for e in submits] == [429, 429, 200]
    # Each retry carried the same task: one task was accepted, under one taskUUID.
    ltxmock_server.assert_submitted(times=1, taskUUID=video.task_uuid)


def test_a_503_without_retry_after_backs_off(
    client: VideoClient, ltxmock_server: MockServer, sleeps: Sleeps
) -> None:
    ltxmock_server.respond_with(503, times=2)
    client.generate("a red fox")
    assert sleeps[:2] == [0.5, 1.0]


def test_only_polls_rate_limited(
    client: VideoClient, ltxmock_server: MockServer, sleeps: Sleeps
) -> None:
    ltxmock_server.add_fault(
        {"status": 429, "retryAfter": 1, "taskType": "getResponse", "times": 1}
    )
    video = client.generate("a red fox")
    assert sleeps == [1.0]
    ltxmock_server.assert_polled(video.task_uuid, times=2)


def test_a_prompt_directive_rate_limits_every_retry_until_the_client_gives_up(
    client: VideoClient, ltxmock_server: MockServer, sleeps: Sleeps
) -> None:
    # A directive travels with the task: every retry of it is refused alike.
    with pytest.raises(RateLimitedError) as refused:
        client.submit("a red fox [[ltxmock:status=429;retry-after=3]]")
    assert (refused.value.status, refused.value.code) == (429, "rateLimitExceeded")
    assert sleeps == [3.0] * client.max_retries
    ltxmock_server.assert_not_submitted()


def test_retry_after_is_capped(
    client: VideoClient, ltxmock_server: MockServer, sleeps: Sleeps
) -> None:
    client.max_retry_after = 5
    ltxmock_server.respond_with(429, retry_after=3600)
    client.generate("a red fox")
    assert sleeps[0] == 5


def test_a_400_is_not_retried(client: VideoClient, ltxmock_server: MockServer) -> None:
    ltxmock_server.respond_with(400, code="invalidPositivePrompt")
    with pytest.raises(RunwareError) as refused:
        client.submit("a red fox")
    assert (refused.value.status, refused.value.code) == (400, "invalidPositivePrompt")
    assert len(ltxmock_server.requests) == 1


@settings(deadline=None, max_examples=20)
@given(
    refusals=st.lists(
        st.tuples(st.sampled_from([429, 503]), st.integers(0, 30)), min_size=0, max_size=3
    )
)
def test_any_run_of_refusals_within_the_retries_is_survived(
    ltxmock_session: MockServer, refusals: list[tuple[int, int]]
) -> None:
    ltxmock_session.reset()  # the session's server is shared by the examples
    for status, seconds in refusals:
        ltxmock_session.respond_with(status, retry_after=seconds)
    sleeps = Sleeps()
    client = VideoClient("k", base_url=ltxmock_session.url, poll_interval=0, sleep=sleeps)
    task_uuid = client.submit("a red fox")
    assert sleeps == [float(s) for _, s in refusals]
    ltxmock_session.assert_submitted(times=1, taskUUID=task_uuid)
