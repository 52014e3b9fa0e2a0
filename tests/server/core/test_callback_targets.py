"""Webhook and upload targets (core/callback_targets.py): HTTP(S) only, never the mock
itself, only --callback-allow hosts when set; failures are final; the log hides queries."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.server import MockClient, delivery_mock, video_task, wait_for

from ltxmock.server import MockConfig
from ltxmock.server.core.callback_targets import (
    OwnAddress,
    TargetRefusedError,
    parse_allow,
    refusal,
)
from ltxmock.server.core.deliveries import redact_url, send

BASE = "http://127.0.0.1:8123"  # the mock as a client reached it
OWN = OwnAddress.of(MockConfig(port=0), BASE)
SECRET = "s3cr3t-sig"


# -- the rules, without a network -------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_POST%20/__ltxmock/reset",
        "ftp://files.example.com/x",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "//example.com/no-scheme",
    ],
)
def test_only_http_and_https_targets(url: str) -> None:
    reason = refusal(url, own=OWN)
    assert reason is not None
    assert reason.startswith("unsupported URL scheme")
    assert "http(s)://" in reason


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/__ltxmock/reset",
        "http://localhost:8123/__ltxmock/reset",
        "http://LocalHost.:8123/x",
        "http://[::1]:8123/x",
        "http://[::ffff:127.0.0.1]:8123/x",
        "http://0.0.0.0:8123/x",
        "http://[::]:8123/x",
        "http://127.42.0.7:8123/x",
        "http://mock.localhost:8123/x",
        "https://127.0.0.1:8123/x",
        f"http://127.0.0.1:8123/x?token={SECRET}",
    ],
)
def test_the_mock_itself_is_never_a_target(url: str) -> None:
    reason = refusal(url, own=OWN)
    assert reason is not None
    assert "is the mock itself" in reason
    assert SECRET not in reason


@given(
    address=st.ip_addresses(network="127.0.0.0/8").map(str)
    | st.sampled_from(["localhost", "[::1]", "0.0.0.0", "a.localhost"]),
    mock_port=st.integers(1, 65535),
    port=st.integers(1, 65535),
    path=st.sampled_from(["/", "/__ltxmock/reset", "/v1", "/hook?x=1"]),
)
def test_a_loopback_target_is_refused_exactly_on_the_mocks_port(
    address: str, mock_port: int, port: int, path: str
) -> None:
    own = OwnAddress.of(MockConfig(port=0), f"http://127.0.0.1:{mock_port}")
    reason = refusal(f"http://{address}:{port}{path}", own=own)
    assert (reason is not None) == (port == mock_port), reason


def test_other_ports_and_hosts_are_fine() -> None:
    for url in ("http://127.0.0.1:8124/hook", "http://example.com:8123/x", "https://a.example/"):
        assert refusal(url, own=OWN) is None, url


def test_the_configured_address_and_public_base_url_are_the_mock_too() -> None:
    config = MockConfig(host="10.1.2.3", port=9000, public_base_url="https://mock.example.com")
    own = OwnAddress.of(config, "https://mock.example.com")
    for url in (
        "http://10.1.2.3:9000/__ltxmock/reset",
        "http://127.0.0.1:9000/__ltxmock/reset",  # the bound port, by loopback
        "https://MOCK.example.com/__ltxmock/reset",
        "https://mock.example.com:443/x",
    ):
        assert refusal(url, own=own) is not None, url
    for url in ("http://10.1.2.3:9001/", "https://other.example.com/", "http://10.1.2.4:9000/"):
        assert refusal(url, own=own) is None, url


def test_the_allow_list_restricts_targets() -> None:
    allow = parse_allow(["hooks.example.com", "127.0.0.1:9999", "[::1]:7000"])
    for url in (
        "https://hooks.example.com/x",
        "http://HOOKS.example.com:8080/x",
        "http://127.0.0.1:9999/hook",
        "http://[::1]:7000/",
    ):
        assert refusal(url, own=OWN, allow=allow) is None, url
    for url in (
        "http://127.0.0.1:9998/hook",
        "https://evil.example/",
        "https://sub.hooks.example.com/",
        "http://[::1]:7001/",
    ):
        reason = refusal(url, own=OWN, allow=allow)
        assert reason is not None
        assert "is not in --callback-allow (hooks.example.com, 127.0.0.1:9999, [::1]:7000)" in (
            reason
        )
    # Allowing loopback never allows the mock itself.
    reason = refusal(f"{BASE}/__ltxmock/reset", own=OWN, allow=parse_allow(["127.0.0.1"]))
    assert reason is not None
    assert "is the mock itself" in reason


def test_callback_allow_from_config_and_environment() -> None:
    one = MockConfig(callback_allow="a.example")  # type: ignore[arg-type]  # as a CLI might
    assert one.callback_allow == ("a.example",)
    env = {"LTXMOCK_CALLBACK_ALLOW": " a.example, b.example:8080,,[::1]:70 "}
    assert MockConfig.from_env(env).callback_allow == ("a.example", "b.example:8080", "[::1]:70")
    for bad in ("a b", "host:0", "host:99999", "host:x", "[::1", "http://x.example", "-x-"):
        with pytest.raises(ValueError, match="callback_allow"):
            MockConfig(callback_allow=(bad,))


def test_urls_in_the_log_hide_their_query_and_credentials() -> None:
    assert redact_url(f"http://h:1/x?token={SECRET}") == "http://h:1/x?…"
    assert redact_url(f"https://user:{SECRET}@h/x?a=1") == "https://…@h/x?…"
    assert redact_url("http://h/x") == "http://h/x"


# -- the connected peer: names that resolve to the mock ---------------------------------
class Listener:
    """A TCP socket on 127.0.0.1 that records the bytes each connection sends."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while chunk := conn.recv(4096):
                        data += chunk
                        if b"\r\n\r\n" in data:
                            conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                            break
                except OSError:
                    pass
                self.received.append(data)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


def test_a_connection_that_reached_the_mock_is_closed_unsent(listener: Listener) -> None:
    own = OwnAddress(frozenset(), frozenset({listener.port}))  # no name rule: only the peer's
    for host in ("127.0.0.1", "localhost"):  # localhost: whatever the resolver answers
        with pytest.raises(TargetRefusedError, match="the mock itself"):
            send("POST", f"http://{host}:{listener.port}/x", b"{}", {}, timeout=2, own=own)
    wait_for(lambda: len(listener.received) >= 2, timeout=30)
    assert set(listener.received) == {b""}  # connected, then closed before a byte
    other = OwnAddress(frozenset(), frozenset({listener.port + 1 if listener.port < 65535 else 1}))
    status, error = send(
        "POST", f"http://127.0.0.1:{listener.port}/x", b"{}", {}, timeout=2, own=other
    )
    assert (status, error) == (204, None)


# -- deliveries: final at once, never retried --------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[MockClient]:
    made = delivery_mock(tmp_path)
    yield made
    made.service.close()


def settled(client: MockClient, task_uuid: str, count: int) -> list[dict[str, Any]]:
    def done() -> bool:
        rows = client.service.deliveries.all(task_uuid)
        return len(rows) == count and all(d.state != "pending" for d in rows)

    wait_for(done, timeout=30)
    deliveries: list[dict[str, Any]] = client.admin("GET", f"/deliveries?task={task_uuid}").body[
        "deliveries"
    ]
    return deliveries


@pytest.mark.parametrize(
    "url", ["gopher://127.0.0.1:70/_x", "file:///etc/passwd", "ftp://127.0.0.1/x"]
)
def test_a_non_http_target_fails_at_once(client: MockClient, url: str) -> None:
    task = video_task(webhookURL=url, uploadEndpoint=url)
    client.submit(task)
    deliveries = settled(client, task["taskUUID"], 2)
    for delivery in deliveries:
        assert (delivery["state"], delivery["attempts"], delivery["attempt_log"]) == (
            "failed",
            0,
            [],
        )
        assert delivery["last_error"].startswith("unsupported URL scheme")
    time.sleep(0.2)  # a retry would be due by now
    assert client.service.deliveries.log(task["taskUUID"]) == []


def test_a_webhook_at_the_mocks_own_reset_is_never_sent(client: MockClient) -> None:
    # The Flask test client reaches the mock as http://localhost (port 80).
    kept = video_task()
    client.submit(kept)
    task = video_task(
        webhookURL="http://localhost/__ltxmock/reset",
        uploadEndpoint="http://127.0.0.1:80/__ltxmock/reset",
    )
    client.submit(task)
    for delivery in settled(client, task["taskUUID"], 2):
        assert (delivery["state"], delivery["attempts"]) == ("failed", 0)
        assert "is the mock itself" in delivery["last_error"]
    assert client.poll(kept["taskUUID"]).data[0]["taskUUID"] == kept["taskUUID"]


def test_the_allow_list_lets_listed_receivers_through_only(
    tmp_path: Path, listener: Listener
) -> None:
    client = delivery_mock(tmp_path, callback_allow=(f"127.0.0.1:{listener.port}",))
    try:
        allowed = video_task(webhookURL=f"http://127.0.0.1:{listener.port}/hook?token={SECRET}")
        other_port = listener.port + 1 if listener.port < 65535 else listener.port - 1
        refused = video_task(webhookURL=f"http://127.0.0.1:{other_port}/hook")
        client.submit(allowed, refused)
        [sent] = settled(client, allowed["taskUUID"], 1)
        [unsent] = settled(client, refused["taskUUID"], 1)
        assert (sent["state"], sent["attempts"]) == ("delivered", 1)
        assert (unsent["state"], unsent["attempts"]) == ("failed", 0)
        assert "is not in --callback-allow" in unsent["last_error"]
        # The log shows the URL without its query; the receiver got it whole.
        assert sent["url"] == f"http://127.0.0.1:{listener.port}/hook?…"
        [stored] = client.service.deliveries.all(allowed["taskUUID"])
        assert stored.url.endswith(f"?token={SECRET}")
        assert f"/hook?token={SECRET} ".encode() in listener.received[0]
        assert SECRET not in str(client.admin("GET", "/deliveries").body)
    finally:
        client.service.close()
