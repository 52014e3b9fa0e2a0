"""The fixtures every in-process server test gets by name: a fake clock, the app and its
service, and a Runware-speaking client. A ``conftest.py`` imports them by name.

    def test_x(client: MockClient, clock: FakeClock) -> None: ...

A module that needs other settings overrides ``mock_config`` (a plain pytest
fixture override); ``mock_app``, ``service`` and ``client`` follow it. Every
``service`` (and so every ``client``) checks after its test that no request
produced a 5xx the test did not inject.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from ltxmock.server import MockConfig, MockService, create_app
from ltxmock.server.http.app import service_of
from support.server import FakeClock, MockClient


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mock_config(clock: FakeClock) -> MockConfig:
    """In memory, 3 s latency, on the fake clock. Override per module if needed.

    Lazy rendering: these protocol tests see success right at the latency (on
    the fake clock); tests/server/core/test_renders.py covers the eager default.
    """
    return MockConfig(latency=3.0, clock=clock, render_mode="lazy")


@pytest.fixture
def mock_app(mock_config: MockConfig) -> Flask:
    return create_app(mock_config)


@pytest.fixture
def service(mock_app: Flask) -> Iterator[MockService]:
    service = service_of(mock_app)
    yield service
    unexpected = [entry.to_dict() for entry in service.journal.unexpected_errors()]
    service.close()
    assert not unexpected, f"the mock answered 5xx by itself: {unexpected}"


@pytest.fixture
def client(mock_app: Flask, service: MockService) -> MockClient:
    return MockClient(mock_app)
