"""The loopback guard (``ltxmock_loopback_only = true`` in pyproject.toml) catches
the mock itself trying to reach another machine (a webhook on an ordinary
address), not only the test."""

from __future__ import annotations

import pytest
from video_client import VideoClient

from ltxmock.network_guard import LoopbackGuard
from ltxmock.testing import MockServer


@pytest.mark.ltxmock(delivery_max_attempts=1)
def test_a_webhook_to_an_ordinary_address_is_caught(
    client: VideoClient, ltxmock_server: MockServer, ltxmock_loopback_guard: LoopbackGuard
) -> None:
    # Caught on purpose: attempts inside expect() do not fail this test.
    with ltxmock_loopback_guard.expect() as caught:
        # 203.0.113.0/24 (TEST-NET-3) is no reserved *name*: the mock would send to it.
        client.submit("a red fox", webhook_url="https://203.0.113.9/hook")
        # The delivery fails after its one attempt was refused (and recorded).
        (failed,) = ltxmock_server.wait_for_deliveries(kind="webhook", state="failed")
    assert "not loopback" in (failed["last_error"] or "")
    assert [(a.kind, a.host, a.port) for a in caught] == [("lookup", "203.0.113.9", 443)]
