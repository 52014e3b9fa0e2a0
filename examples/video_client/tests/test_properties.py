"""Hypothesis: any task the API accepts, the client submits as it is; whatever the
mock answers, the client raises one of its own errors, never anything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from video_client import RunwareError, VideoClient

from ltxmock.strategies import submittable_tasks
from ltxmock.testing import MockServer


@settings(deadline=None)
@given(task=submittable_tasks())
def test_any_valid_task_is_submitted_as_it_is(
    ltxmock_session: MockServer, task: dict[str, object]
) -> None:
    # Any webhookURL/uploadEndpoint drawn here is on a reserved name: captured.
    client = VideoClient("k", base_url=ltxmock_session.url, poll_interval=0)
    assert client.submit_task(task) == task["taskUUID"]
    ltxmock_session.assert_submitted(times=1, taskUUID=task["taskUUID"])


@pytest.mark.ltxmock(fail_on_rejected=False)  # refusals are what this test is after
@settings(deadline=None)
@given(
    prompt=st.text(min_size=0, max_size=60),
    duration=st.integers(-2, 25),
    width=st.sampled_from([0, 640, 1920, 2560, 3840, 4000]),
)
def test_whatever_is_refused_surfaces_as_a_runware_error(
    ltxmock_session: MockServer, prompt: str, duration: int, width: int
) -> None:
    client = VideoClient("k", base_url=ltxmock_session.url, poll_interval=0, max_retries=0)
    refusal: RunwareError | None = None
    try:
        task_uuid = client.submit(prompt, duration=duration, width=width)
    except RunwareError as refused:
        refusal = refused
    if refusal is None:
        ltxmock_session.assert_submitted(times=1, taskUUID=task_uuid)
    else:
        assert (refusal.status, bool(refusal.code)) == (400, True)
