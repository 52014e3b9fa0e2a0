"""The loopback guard of conftest.py catches the mock itself trying to reach
another machine (a webhook on an ordinary address), not only the test."""

from __future__ import annotations

import time

import pytest
from video_client import VideoClient

from ltxmock.testing import MockServer


@pytest.mark.ltxmock(delivery_max_attempts=1)
def test_a_webhook_to_an_ordinary_address_is_caught(
    client: VideoClient, ltxmock_server: MockServer, only_loopback: list[str]
) -> None:
    before = len(only_loopback)
    # 203.0.113.0/24 (TEST-NET-3) is no reserved *name*: the mock would send to it.
    client.submit("a red fox", webhook_url="https://203.0.113.9/hook")
    (failed,) = ltxmock_server.wait_for_deliveries(kind="webhook", state="failed")
    assert "not loopback" in (failed["last_error"] or "")
    deadline = time.monotonic() + 5
    while len(only_loopback) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert only_loopback[before:] == ["name lookup of '203.0.113.9'"]
    del only_loopback[before:]  # caught on purpose: no_network_attempt must not fail us
