"""Tasks that are accepted and then fail: a prompt directive, a scripted poll."""

from __future__ import annotations

import pytest
from video_client import TaskFailedError, VideoClient

from ltxmock import matchers as m
from ltxmock.testing import MockServer


def test_a_prompt_directive_fails_the_task_when_polled(
    client: VideoClient, ltxmock_server: MockServer
) -> None:
    # Any client can send the directive: no header, no admin call.
    with pytest.raises(TaskFailedError) as failed:
        client.generate("a red fox [[ltxmock:error=providerError]]")
    assert failed.value.code == "providerError"
    # The journal keeps the request as the client sent it, directive included.
    ltxmock_server.assert_submitted(times=1, positivePrompt=m.contains("red fox [[ltxmock:"))
    ltxmock_server.assert_polled(failed.value.task_uuid or "", times=1)


def test_a_scripted_task_fails_after_processing_twice(
    client: VideoClient, ltxmock_server: MockServer
) -> None:
    task_uuid = client.submit("a red fox")
    ltxmock_server.script(task_uuid, ["processing", "processing", "timeoutProvider"])
    with pytest.raises(TaskFailedError) as failed:
        client.wait(task_uuid)
    assert (failed.value.code, failed.value.task_uuid) == ("timeoutProvider", task_uuid)
    ltxmock_server.assert_polled(task_uuid, times=3)


def test_the_client_gives_up_on_a_task_that_never_ends(
    client: VideoClient, ltxmock_server: MockServer
) -> None:
    client.max_polls = 5
    task_uuid = client.submit("a red fox")
    ltxmock_server.script(task_uuid, ["processing"])
    with pytest.raises(TimeoutError, match="still processing after 5 polls"):
        client.wait(task_uuid)
    ltxmock_server.assert_polled(task_uuid, times=5)
