"""In-process transports: httpx and requests reach the mock's app with no socket."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from support.server import API_KEY, video_task

from ltxmock.strategies import submittable_tasks
from ltxmock.testing import MockServer
from ltxmock.transports import (
    RUNWARE_URL,
    Route,
    httpx_async_transport,
    httpx_transport,
    mount_requests,
    requests_adapter,
)

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    server = MockServer(latency=0)  # never started: no port, no socket
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch, mock: MockServer) -> None:
    mock.reset()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an in-process transport opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def poll(task_uuid: str) -> list[dict[str, str]]:
    return [{"taskType": "getResponse", "taskUUID": task_uuid}]


def test_httpx_submit_poll_and_download(mock: MockServer) -> None:
    task = video_task(duration=6)
    with httpx.Client(transport=httpx_transport(mock), headers=AUTH) as client:
        ack = client.post(RUNWARE_URL, json=[task])
        assert ack.status_code == 200
        acked = {"taskType": "videoInference", "taskUUID": task["taskUUID"]}
        assert ack.json() == {"data": [acked]}
        result = client.post(RUNWARE_URL, json=poll(task["taskUUID"])).json()["data"][0]
        assert result["status"] == "success"
        assert result["videoURL"].startswith("https://api.runware.ai/video/")
        video = client.get(result["videoURL"])
        assert video.status_code == 200
        assert video.headers["content-type"] == "video/mp4"
        assert video.content[4:8] == b"ftyp"
    mock.assert_submitted(times=1, taskUUID=task["taskUUID"])


def test_httpx_errors_are_the_mock_s_errors(mock: MockServer) -> None:
    with httpx.Client(transport=httpx_transport(mock), headers=AUTH) as client:
        refused = client.post(RUNWARE_URL, json=[video_task(duration=7)])
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["code"] == "unsupportedDuration"
        mock.respond_with(429)
        assert client.post(RUNWARE_URL, json=[video_task()]).status_code == 429


def test_httpx_sends_nothing_to_another_origin(mock: MockServer) -> None:
    with httpx.Client(transport=httpx_transport(mock)) as client:
        for url in ("https://example.com/v1", "http://api.runware.ai/v1", "https://runware.ai/"):
            with pytest.raises(httpx.ConnectError, match="is not the mock"):
                client.post(url, json=[video_task()])
    assert mock.requests == []


def test_a_base_url_of_your_own_maps_to_v1(mock: MockServer) -> None:
    base = "http://gateway.test:8080/runware/v1"
    with httpx.Client(transport=httpx_transport(mock, base), headers=AUTH) as client:
        assert client.post(base, json=[{"taskType": "ping"}]).json()["data"][0]["pong"] is True
        health = client.get("http://gateway.test:8080/__ltxmock/health")
        assert health.status_code == 200


def test_httpx_async(mock: MockServer) -> None:
    task = video_task()

    async def run() -> tuple[int, dict[str, Any]]:
        transport = httpx_async_transport(mock)
        async with httpx.AsyncClient(transport=transport, headers=AUTH) as client:
            ack = await client.post(RUNWARE_URL, json=[task])
            polled = await client.post(RUNWARE_URL, json=poll(task["taskUUID"]))
            return ack.status_code, polled.json()

    status, polled = asyncio.run(run())
    assert status == 200
    assert polled["data"][0]["status"] == "success"


def test_requests_adapter(mock: MockServer) -> None:
    task = video_task()
    with requests.Session() as session:
        mount_requests(session, mock)
        ack = session.post(RUNWARE_URL, json=[task], headers=AUTH)
        assert ack.status_code == 200
        assert ack.reason == "OK"
        result = session.post(RUNWARE_URL, json=poll(task["taskUUID"]), headers=AUTH)
        assert result.json()["data"][0]["status"] == "success"
        refused = session.post(RUNWARE_URL, data=b"not json", headers=AUTH)
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["code"]
    mock.assert_polled(task["taskUUID"], times=1)


def test_requests_adapter_refuses_other_origins(mock: MockServer) -> None:
    adapter = requests_adapter(mock)
    with requests.Session() as session:
        session.mount("https://", adapter)
        with pytest.raises(requests.ConnectionError, match="is not the mock"):
            session.get("https://example.org/v1")


@settings(max_examples=30, deadline=None)
@given(task=submittable_tasks())
def test_every_submittable_task_is_accepted_in_process(mock: MockServer, task: Any) -> None:
    with httpx.Client(transport=httpx_transport(mock), headers=AUTH) as client:
        assert client.post(RUNWARE_URL, json=[task]).status_code == 200


@given(
    prefix=st.sampled_from(["", "/runware", "/a/b"]),
    rest=st.sampled_from(["", "/", "/x"]),
    query=st.sampled_from(["", "q=1"]),
)
def test_route_maps_the_prefix_only(prefix: str, rest: str, query: str) -> None:
    route = Route(f"https://h.example{prefix}/v1")
    url = f"https://H.example{prefix}/v1{rest}" + (f"?{query}" if query else "")
    assert route.path_for(url) == f"/v1{rest}" + (f"?{query}" if query else "")
    assert route.path_for(f"https://h.example:444{prefix}/v1") is None
    assert route.path_for("https://other.example/video/x.mp4") is None
    assert route.path_for("https://h.example/video/x.mp4") == "/video/x.mp4"


@pytest.mark.parametrize("bad", ["api.runware.ai/v1", "ftp://h/v1", "https:///v1"])
def test_route_refuses_a_base_url_without_scheme_or_host(bad: str) -> None:
    with pytest.raises(ValueError, match="http"):
        Route(bad)
