"""ltxmock.network_guard and the plugin's loopback-only option.

This suite runs with the option on (pyproject.toml), so the session's guard is
already in place: the guards entered here nest inside it and refuse first.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltxmock.network_guard import (
    MAX_KEPT,
    Attempt,
    LoopbackGuard,
    NonLoopbackConnectionError,
    is_loopback,
    loopback_only,
)


@given(st.ip_addresses())
def test_an_address_is_loopback_exactly_when_ipaddress_says_so(address: object) -> None:
    assert isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
    assert is_loopback(str(address)) == address.is_loopback
    assert is_loopback(str(address).encode()) == address.is_loopback


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "127.0.0.1", "127.9.9.9", "::1"])
def test_this_machine_is_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["example.com", "localhost.example.com", "0.0.0.0", "", None, 7])
def test_anything_else_is_not(host: object) -> None:
    assert not is_loopback(host)


def test_lookups_and_connections_elsewhere_are_refused_and_recorded() -> None:
    with loopback_only() as guard:
        with pytest.raises(NonLoopbackConnectionError, match=r"192\.0\.2\.7"):
            socket.getaddrinfo("192.0.2.7", 443)
        with pytest.raises(ConnectionRefusedError):  # what network code catches
            socket.gethostbyname("hooks.example.com")
        with socket.socket() as sock, pytest.raises(NonLoopbackConnectionError):
            sock.connect(("198.51.100.4", 80))
    assert [(a.kind, a.host, a.port) for a in guard.attempts] == [
        ("lookup", "192.0.2.7", 443),
        ("lookup", "hooks.example.com", None),
        ("connect", "198.51.100.4", 80),
    ]


def test_connect_ex_is_refused_too() -> None:
    with (
        loopback_only() as guard,
        socket.socket() as sock,
        pytest.raises(NonLoopbackConnectionError),
    ):
        sock.connect_ex(("203.0.113.9", 80))
    assert guard.attempts == [Attempt("connect", "203.0.113.9", 80, "MainThread")]
    assert str(guard.attempts[0]) == "connection to 203.0.113.9:80 (thread MainThread)"


def test_loopback_goes_through() -> None:
    with loopback_only() as guard, socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert socket.getaddrinfo("localhost", 80)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    assert guard.attempts == []


def test_exit_puts_the_originals_back() -> None:
    before = (socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex)
    with loopback_only():
        assert socket.getaddrinfo is not before[0]
    assert (socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex) == before


def test_a_guard_is_entered_once() -> None:
    with loopback_only() as guard, pytest.raises(RuntimeError):
        guard.__enter__()


def test_attempts_from_many_threads_are_all_recorded() -> None:
    def attempt(n: int) -> None:
        for port in range(50):
            with contextlib.suppress(NonLoopbackConnectionError):
                socket.getaddrinfo(f"192.0.2.{n}", port)

    with loopback_only() as guard:
        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(guard.attempts) == 8 * 50
    assert {(a.host, a.port) for a in guard.attempts} == {
        (f"192.0.2.{n}", port) for n in range(8) for port in range(50)
    }


def test_the_log_keeps_the_last_attempts_and_counts_them_all() -> None:
    with loopback_only() as guard:
        for port in range(MAX_KEPT + 5):
            with contextlib.suppress(NonLoopbackConnectionError):
                socket.getaddrinfo("192.0.2.7", port)
    assert guard.count == MAX_KEPT + 5
    assert [a.port for a in guard.attempts] == list(range(5, MAX_KEPT + 5))
    assert [a.port for a in guard.since(MAX_KEPT + 3)] == [MAX_KEPT + 3, MAX_KEPT + 4]
    assert len(guard.since(0)) == MAX_KEPT


def test_expect_takes_the_attempts_made_inside() -> None:
    with loopback_only() as guard:
        with guard.expect() as caught, pytest.raises(NonLoopbackConnectionError):
            socket.getaddrinfo("192.0.2.7", 80)
        mark = guard.count
        with pytest.raises(NonLoopbackConnectionError):
            socket.getaddrinfo("192.0.2.8", 80)
    assert [a.host for a in caught] == ["192.0.2.7"]
    assert [a.host for a in guard.since(mark)] == ["192.0.2.8"]


def test_lifted_passes_calls_through() -> None:
    # Two guards: the inner one lifted hands the call to the outer one, which
    # refuses it (no packet leaves the machine, and the call did go through).
    with (
        loopback_only() as outer,
        outer.expect() as reached_outer,
        LoopbackGuard() as inner,
        inner.lifted(),
        pytest.raises(NonLoopbackConnectionError),
    ):
        socket.getaddrinfo("192.0.2.7", 80)
    assert inner.attempts == []
    assert [a.host for a in reached_outer] == ["192.0.2.7"]


PLUGIN_USER = """
import socket, time, uuid
import pytest, requests

def submit(server, webhook):
    task = {
        "taskType": "videoInference", "model": "lightricks:2@1", "positivePrompt": "a red fox",
        "width": 1920, "height": 1080, "duration": 6, "deliveryMethod": "async",
        "taskUUID": str(uuid.uuid4()), "webhookURL": webhook,
    }
    r = requests.post(server.url, json=[task], headers={"Authorization": "Bearer k"})
    assert r.status_code == 200

# Lazy: the webhook goes out at the task's latency, without waiting for a
# render (on a crowded CI runner an eager render took more than 10 s).
@pytest.mark.ltxmock(delivery_max_attempts=1, render_mode="lazy")
def test_the_mock_sends_a_webhook_to_a_real_address(ltxmock_server):
    submit(ltxmock_server, "https://203.0.113.9/hook")
    (failed,) = ltxmock_server.wait_for_deliveries(kind="webhook", state="failed")
    assert "not loopback" in failed["last_error"]

@pytest.mark.ltxmock(delivery_max_attempts=1, render_mode="lazy")
def test_a_reserved_name_is_captured(ltxmock_server):
    submit(ltxmock_server, "https://hooks.example.com/hook")
    ltxmock_server.wait_for_deliveries(kind="webhook", state="captured")

def test_an_attempt_on_purpose(ltxmock_loopback_guard):
    with ltxmock_loopback_guard.expect() as caught:
        with pytest.raises(ConnectionRefusedError):
            socket.getaddrinfo("192.0.2.7", 80)
    assert [a.host for a in caught] == ["192.0.2.7"]

@pytest.mark.ltxmock_allow_network
def test_lifted():
    # A numeric lookup: no packet is sent, but the guard would have refused it.
    assert socket.getaddrinfo("192.0.2.7", 80, flags=socket.AI_NUMERICHOST)
"""


def test_the_option_fails_the_test_that_reached_out(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_client=PLUGIN_USER)
    pytester.makeini("[pytest]\nltxmock_loopback_only = true\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-rf")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_the_mock_sends_a_webhook_to_a_real_address tried to reach another machine*",
            "*name lookup of 203.0.113.9:443 (thread *",
        ]
    )


def test_the_flag_does_the_same_and_off_is_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_client=PLUGIN_USER)
    on = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "--ltxmock-loopback-only")
    on.assert_outcomes(passed=3, failed=1)
    # Off (the default): the fixture says how to turn it on. The webhook test is
    # deselected: without the guard, the mock would really try 203.0.113.9.
    off = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "-k", "on_purpose or reserved"
    )
    off.assert_outcomes(passed=1, errors=1)
    off.stdout.fnmatch_lines(["*ltxmock_loopback_guard needs ltxmock_loopback_only = true*"])
