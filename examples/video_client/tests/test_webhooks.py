"""Webhooks: aimed at a reserved name, the mock keeps them (state ``captured``)
instead of sending them; the test hands their body to the client's handler."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_client import TaskFailedError, VideoClient, parse_webhook

from ltxmock.testing import MockServer

HOOK = "https://hooks.example.com/runware/videos?secret=s3cret"


def test_the_webhook_of_a_finished_task_gives_the_video(
    client: VideoClient, ltxmock_server: MockServer, tmp_path: Path
) -> None:
    task_uuid = client.submit("a red fox", webhook_url=HOOK)
    (delivery,) = ltxmock_server.wait_for_deliveries(kind="webhook", state="captured")
    assert ltxmock_server.webhooks == [delivery]
    video = parse_webhook(delivery["captured"]["body"])
    assert video.task_uuid == task_uuid
    assert client.download(video, tmp_path / "fox.mp4").read_bytes()[4:8] == b"ftyp"


@pytest.mark.ltxmock(webhook_envelope="wrapped")
def test_a_wrapped_webhook_is_read_too(client: VideoClient, ltxmock_server: MockServer) -> None:
    task_uuid = client.submit("a red fox", webhook_url=HOOK)
    (delivery,) = ltxmock_server.wait_for_deliveries(kind="webhook", state="captured")
    assert "data" in delivery["captured"]["body"]
    assert parse_webhook(delivery["captured"]["body"]).task_uuid == task_uuid


def test_the_webhook_of_a_failed_task_raises(
    client: VideoClient, ltxmock_server: MockServer
) -> None:
    task_uuid = client.submit("a red fox [[ltxmock:error=timeoutProvider]]", webhook_url=HOOK)
    (delivery,) = ltxmock_server.wait_for_deliveries(kind="webhook", state="captured")
    with pytest.raises(TaskFailedError) as failed:
        parse_webhook(delivery["captured"]["body"])
    assert (failed.value.code, failed.value.task_uuid) == ("timeoutProvider", task_uuid)


def test_the_raw_body_as_received_is_read(client: VideoClient, ltxmock_server: MockServer) -> None:
    # What a web framework hands the handler: the bytes that would have been POSTed.
    task_uuid = client.submit("a red fox", webhook_url=HOOK)
    (delivery,) = ltxmock_server.wait_for_deliveries(kind="webhook", state="captured")
    raw = ltxmock_server.app.test_client().get(delivery["captured"]["bodyURL"]).data
    assert parse_webhook(raw).task_uuid == task_uuid
