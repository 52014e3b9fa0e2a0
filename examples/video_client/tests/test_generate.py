"""The happy path: submit, poll, download."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from conftest import API_KEY
from video_client import MODEL, VideoClient

from ltxmock import matchers as m
from ltxmock.testing import MockServer
from ltxmock.transports import httpx_transport


def test_generate_submits_polls_and_downloads(
    client: VideoClient, ltxmock_server: MockServer, tmp_path: Path
) -> None:
    video = client.generate("a red fox runs through fresh snow", duration=6)

    ltxmock_server.assert_submitted(
        times=1,
        model=MODEL,
        duration=6,
        deliveryMethod="async",
        positivePrompt=m.contains("red fox"),
        taskUUID=video.task_uuid,
    )
    ltxmock_server.assert_polled(video.task_uuid)
    path = client.download(video, tmp_path / "fox.mp4")
    assert path.read_bytes()[4:8] == b"ftyp"  # an MP4 file


@pytest.mark.ltxmock(latency=0.3)
def test_the_client_polls_until_the_task_is_done(
    client: VideoClient, ltxmock_server: MockServer
) -> None:
    client.sleep, client.poll_interval = time.sleep, 0.05  # really wait, this once
    video = client.generate("a slow render")
    polls = [e for e in ltxmock_server.requests if "getResponse" in e.task_types]
    assert len(polls) >= 2  # processing at least once, then success
    assert polls[-1].response["data"][0]["status"] == "success"
    assert video.url.startswith(ltxmock_server.base_url)


def test_the_cost_is_reported_when_asked_for(client: VideoClient) -> None:
    video = client.generate("a red fox", include_cost=True)
    assert video.cost is not None
    assert video.cost > 0


def test_no_socket_at_all_with_the_in_process_transport(
    ltxmock_server: MockServer, tmp_path: Path
) -> None:
    # The client keeps its default base URL (https://api.runware.ai/v1): the
    # transport answers it from the mock's app in this process.
    http = httpx.Client(transport=httpx_transport(ltxmock_server))
    client = VideoClient(API_KEY, http=http, poll_interval=0)
    video = client.generate("a red fox")
    assert video.url.startswith("https://api.runware.ai/")
    assert client.download(video, tmp_path / "v.mp4").stat().st_size > 0
    ltxmock_server.assert_submitted(times=1, taskUUID=video.task_uuid)
