"""Shared set-up of the contract tests: Hypothesis profiles and a client aimed at
the mock.

The ``ltxmock_server`` / ``ltxmock_session`` fixtures, the ``ltxmock`` marker and
the loopback guard (``ltxmock_loopback_only = true`` in pyproject.toml: any
lookup of, or connection to, another machine fails the test it happened in)
come from ltxmock's pytest plugin: installing ltxmock registers it.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from video_client import VideoClient

from ltxmock.testing import MockServer

API_KEY = "test-key"

# Each example is an HTTP round trip or two: a few dozen per test keep the suite
# quick. Generating schema-valid tasks can be slow on a loaded CI runner: no
# deadline, and no "too slow" health check (the tests are not timing anything).
QUICK = settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", QUICK)
settings.register_profile("ci", QUICK, derandomize=True, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


class Sleeps(list[float]):
    """Stands in for ``time.sleep``: records how long the client would have waited."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(ltxmock_server: MockServer, sleeps: Sleeps) -> VideoClient:
    """The client under test, aimed at the mock (http://127.0.0.1:PORT/v1)."""
    return VideoClient(API_KEY, base_url=ltxmock_server.url, poll_interval=0.01, sleep=sleeps)
