"""Shared set-up of the contract tests: Hypothesis profiles, a guard that fails any
connection to a host other than this machine, and a client aimed at the mock.

The ``ltxmock_server`` / ``ltxmock_session`` fixtures and the ``ltxmock`` marker
come from ltxmock's pytest plugin: installing ltxmock registers it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any, NoReturn

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


class NonLoopbackConnectionError(ConnectionRefusedError):
    """A test (or the mock, on its behalf) tried to reach another machine. A network
    error, so that code that handles one (the mock's delivery loop) goes on."""


def _loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def only_loopback() -> Iterator[list[str]]:
    """No name lookup and no connection beyond 127.0.0.1/::1, in any thread (the
    mock's webhook deliveries included): each attempt is refused and recorded, and
    ``no_network_attempt`` fails the test it happened in."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def refuse(what: str) -> NoReturn:
        attempts.append(what)
        raise NonLoopbackConnectionError(f"{what}: not loopback")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host):
            refuse(f"name lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not _loopback(address[0]):
            refuse(f"connection to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        yield attempts


@pytest.fixture(autouse=True)
def no_network_attempt(only_loopback: list[str]) -> Iterator[None]:
    # An attempt in another thread (the mock's) raises there, not in the test: check.
    before = len(only_loopback)
    yield
    if len(only_loopback) > before:
        pytest.fail(f"tried to reach another machine: {only_loopback[before:]}", pytrace=False)


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
