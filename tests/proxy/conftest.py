"""Fixtures of the proxy tests: an upstream ltxmock and the proxy in front of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy  # noqa: F401  # imported now, not by two threads at once (the upstream's

# warm-up and Hypothesis): a concurrent first import can see it half-initialized
import pytest
from support.proxy import RunningProxy, proxy_to
from support.server import API_KEY

from ltxmock.testing import MockServer


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockServer]:
    # Webhooks and uploads of generated tasks go nowhere: only a closed loopback port is allowed.
    with MockServer(latency=0.3, api_keys=[API_KEY], callback_allow=["127.0.0.1:9"]) as running:
        yield running


@pytest.fixture
def proxy(upstream: MockServer) -> Iterator[RunningProxy]:
    with proxy_to(upstream.url) as running:
        yield running


@pytest.fixture
def recording_proxy(upstream: MockServer, tmp_path: Path) -> Iterator[RunningProxy]:
    with proxy_to(upstream.url, record_dir=tmp_path / "cassettes") as running:
        yield running
