"""A webhook that cannot be delivered is one log line per attempt, secrets hidden."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from support.server import API_KEY, video_task

from ltxmock.testing import MockServer


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_each_failed_webhook_attempt_is_one_warning_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = f"http://user:pw@127.0.0.1:{_closed_port()}/hook?token=s3cret"
    with (
        caplog.at_level(logging.WARNING, logger="ltxmock"),
        MockServer(latency=0, delivery_max_attempts=2, delivery_backoff=0) as mock,
    ):
        task = video_task(webhookURL=hook)
        reply = mock.app.test_client().post(
            "/v1", json=[task], headers={"Authorization": f"Bearer {API_KEY}"}
        )
        assert reply.status_code == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if [d for d in mock.webhooks if d["state"] == "failed"]:
                break
            time.sleep(0.05)
        assert [d["state"] for d in mock.webhooks] == ["failed"]
    lines = [r.getMessage() for r in caplog.records if "webhook" in r.getMessage()]
    assert len(lines) == 2, lines
    assert lines[0].endswith(", will retry")
    assert lines[1].endswith(", giving up")
    assert all(task["taskUUID"] in line for line in lines)
    assert not any("s3cret" in line or "pw@" in line for line in caplog.text.splitlines())


def test_a_refused_target_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="ltxmock"),
        MockServer(latency=0, callback_allow=["127.0.0.1:9"]) as mock,
    ):
        # Not a reserved name (those are captured, never refused) and outside the
        # allow-list: refused before any connection (192.0.2.0/24 is TEST-NET-1).
        task = video_task(webhookURL="https://192.0.2.7/h?k=s3cret")
        client = mock.app.test_client()
        assert (
            client.post(
                "/v1", json=[task], headers={"Authorization": f"Bearer {API_KEY}"}
            ).status_code
            == 200
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not [
            d for d in mock.webhooks if d["state"] == "failed"
        ]:
            time.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert lines[0].startswith(f"webhook of task {task['taskUUID']} not sent: ")
    assert "s3cret" not in caplog.text
