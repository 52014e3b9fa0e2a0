"""The callback sink: webhooks and uploads aimed at reserved names are never sent; the
mock keeps them whole as ``captured`` deliveries (``/__ltxmock/deliveries``)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.server import MockClient, delivery_mock, video_task, wait_for

from ltxmock.server.core.callback_targets import is_sink

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
reserved = st.one_of(
    st.builds(
        lambda subs, domain: ".".join([*subs, domain]),
        st.lists(labels, max_size=3),
        st.sampled_from(["example.com", "example.net", "example.org", "EXAMPLE.COM"]),
    ),
    st.builds(
        lambda subs, tld: ".".join([*subs, tld]),
        st.lists(labels, min_size=1, max_size=3),
        st.sampled_from(["example", "invalid", "test", "localhost", "TEST"]),
    ),
)
ordinary_tlds = st.sampled_from(["com", "net", "org", "io", "dev", "ai", "xp"])


@settings(max_examples=300)
@given(
    host=reserved, scheme=st.sampled_from(["http", "https"]), port=st.none() | st.integers(1, 65535)
)
def test_every_reserved_name_is_a_sink(host: str, scheme: str, port: int | None) -> None:
    netloc = host if port is None else f"{host}:{port}"
    assert is_sink(f"{scheme}://{netloc}/hook?token=secret")


@settings(max_examples=300)
@given(subs=st.lists(labels, min_size=1, max_size=3), tld=ordinary_tlds)
def test_ordinary_names_are_not_a_sink(subs: list[str], tld: str) -> None:
    host = ".".join([*subs, tld])
    if host.endswith(("example.com", "example.net", "example.org")):
        return  # generated into the reserved set after all
    assert not is_sink(f"https://{host}/hook")


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9000/hook",  # a receiver the user really runs
        "http://127.0.0.1:9000/hook",
        "http://[::1]:9000/hook",
        "https://notexample.com/hook",
        "https://example.com.evil.io/hook",
        "ftp://hooks.example.com/x",
        "https://",
    ],
)
def test_loopback_lookalikes_and_other_schemes_are_not_a_sink(url: str) -> None:
    assert not is_sink(url)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[MockClient]:
    mock = delivery_mock(tmp_path)
    yield mock
    mock.service.close()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any attempt to open a connection from the delivery code fails the test."""
    attempts: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        raise AssertionError(f"the mock tried to connect to {address}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def settled(client: MockClient, task_uuid: str, count: int) -> list[dict[str, Any]]:
    def done() -> bool:
        rows = client.service.deliveries.all(task_uuid)
        return len(rows) == count and all(row.state != "pending" for row in rows)

    wait_for(done)
    shown: list[dict[str, Any]] = client.admin("GET", f"/deliveries?task={task_uuid}").body[
        "deliveries"
    ]
    return shown


def test_a_webhook_to_a_reserved_name_is_captured_with_its_body(
    client: MockClient, no_network: list[Any]
) -> None:
    task = video_task(webhookURL="https://hooks.example.com/runware?token=s3cret", includeCost=True)
    assert client.submit(task).status == 200
    (delivery,) = settled(client, task["taskUUID"], 1)
    assert delivery["state"] == "captured"
    assert delivery["url"] == "https://hooks.example.com/runware?…"  # the token stays hidden
    assert delivery["attempt_log"] == []  # nothing was attempted
    body = delivery["captured"]["body"]
    assert (body["taskUUID"], body["status"], body["cost"]) == (task["taskUUID"], "success", 0.24)
    assert delivery["captured"]["contentType"] == "application/json"
    raw = client.request("GET", delivery["captured"]["bodyURL"])
    assert raw.body == body
    assert no_network == []


def test_an_upload_to_a_reserved_name_is_captured_with_the_file(
    client: MockClient, no_network: list[Any]
) -> None:
    task = video_task(
        uploadEndpoint="https://bucket.test/put/video.mp4", webhookURL="https://x.invalid/h"
    )
    client.submit(task)
    deliveries = settled(client, task["taskUUID"], 2)
    assert [d["kind"] for d in deliveries] == ["upload", "webhook"]
    assert [d["state"] for d in deliveries] == ["captured", "captured"]
    upload = deliveries[0]["captured"]
    assert upload["contentType"] == "video/mp4"
    assert "body" not in upload  # bytes are read through bodyURL
    http = client.app.test_client()
    video = http.get(upload["bodyURL"])
    assert video.status_code == 200
    assert video.mimetype == "video/mp4"
    assert len(video.data) == upload["size"]
    assert hashlib.sha256(video.data).hexdigest() == upload["sha256"]
    # The log reads an upload's size and hash, never its (up to 64 MiB) bytes.
    listed = client.service.deliveries.captured(deliveries[0]["id"], with_body=False)
    assert listed is not None
    assert (listed.body, listed.size) == (None, upload["size"])
    only_uploads = client.admin("GET", f"/deliveries?task={task['taskUUID']}&kind=upload").body
    assert [d["kind"] for d in only_uploads["deliveries"]] == ["upload"]
    assert no_network == []


def test_a_failed_task_s_webhook_is_captured_with_its_error(
    client: MockClient, no_network: list[Any]
) -> None:
    task = video_task(
        positivePrompt="a fox [[ltxmock:error=timeoutProvider]]",
        webhookURL="http://receiver.localhost:8000/hook",
    )
    client.submit(task)
    (delivery,) = settled(client, task["taskUUID"], 1)
    assert delivery["captured"]["body"]["code"] == "timeoutProvider"


def test_captures_ignore_the_allow_list(tmp_path: Path, no_network: list[Any]) -> None:
    mock = delivery_mock(tmp_path, callback_allow=("hooks.mycompany.io",))
    try:
        task = video_task(webhookURL="https://example.org/hook")
        mock.submit(task)
        (delivery,) = settled(mock, task["taskUUID"], 1)
        assert delivery["state"] == "captured"
    finally:
        mock.service.close()


def test_the_delivery_log_rejects_an_unknown_kind_and_a_missing_body_is_404(
    client: MockClient,
) -> None:
    assert client.admin("GET", "/deliveries?kind=carrier-pigeon").codes == ["invalidQuery"]
    assert client.request("GET", "/__ltxmock/deliveries/12345/body").codes == ["captureNotFound"]
