"""The test kit's runtime: ``ltxmock.testing.MockServer`` runs the ASGI app of ``ltxmock serve``
(``AsgiMock``) on uvicorn in a thread, REST and WebSocket on one port."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests
from support.server import API_KEY, get_response, video_task
from websockets.sync.client import connect

from ltxmock.server.http.app import hub_of, service_of
from ltxmock.server.serve.asgi import AsgiMock
from ltxmock.server.serve.rest_lane import RestLane
from ltxmock.server.serve.threaded import ThreadedServer
from ltxmock.testing import MockServer


def test_mock_server_runs_the_asgi_app_of_serve() -> None:
    mock = MockServer(latency=0)
    try:
        assert isinstance(mock.asgi, AsgiMock)
        assert mock.app is mock.asgi.flask
        assert mock.service is mock.asgi.service is service_of(mock.app)
        assert mock.asgi.hub is hub_of(mock.app)
        assert mock.config.render_mode == "lazy"  # the kit's default
    finally:
        mock.stop()


def test_rest_and_the_websocket_go_through_the_asgi_app_and_its_rest_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As in ``ltxmock serve``: a whole POST /v1 is answered by the app's REST lane
    from the connection; one the lane leaves (a proxy's forwarded headers), the
    WebSocket and the admin API by the ASGI app."""
    seen: list[tuple[str, str]] = []
    call, take = AsgiMock.__call__, RestLane.take

    async def recording(self: AsgiMock, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            seen.append((scope["type"], scope["path"]))
        await call(self, scope, receive, send)

    def taking(self: RestLane, url: bytes, *args: Any) -> bool:
        # Only what the lane took is recorded: a request the lane does not want is
        # offered to it only if it came whole in one read (urllib3 may send its
        # headers and body apart), so whether it was offered is up to timing.
        taken = take(self, url, *args)
        if taken:
            seen.append(("lane", url.decode()))
        return taken

    monkeypatch.setattr(AsgiMock, "__call__", recording)
    monkeypatch.setattr(RestLane, "take", taking)
    task, other = video_task(), video_task()
    with MockServer(latency=0, api_keys=[API_KEY]) as mock:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        ack = requests.post(mock.url, json=[task], headers=headers, timeout=5)
        assert (ack.status_code, ack.headers["Content-Type"]) == (200, "application/json")
        assert "Werkzeug" not in ack.headers.get("server", "")  # not Werkzeug's dev server
        proxied = {**headers, "X-Forwarded-For": "127.0.0.1"}
        assert requests.post(mock.url, json=[other], headers=proxied, timeout=5).status_code == 200
        with connect(mock.ws_url, proxy=None, open_timeout=5) as ws:
            ws.send(json.dumps([{"taskType": "authentication", "apiKey": API_KEY}]))
            assert json.loads(ws.recv(timeout=5))["data"][0]["connectionSessionUUID"]
            ws.send(json.dumps([{"taskType": "ping", "ping": True}]))
            assert json.loads(ws.recv(timeout=5)) == {"data": [{"taskType": "ping", "pong": True}]}
            ws.send(json.dumps([get_response(task["taskUUID"])]))
            done = json.loads(ws.recv(timeout=5))["data"][0]
            assert done["status"] == "success"
            assert done["videoURL"].startswith(f"{mock.base_url}/video/os/")
            assert hub_of(mock.app).open_sockets == 1
        health = requests.get(f"{mock.base_url}/__ltxmock/health", timeout=5)  # Flask, bridged
        assert health.json()["status"] == "ok"
        transports = [(e.transport, e.status) for e in mock.requests]
        assert transports == [("rest", 200), ("rest", 200), ("ws", 200)]
        mock.assert_no_unexpected_errors()
    assert seen == [
        ("lane", "/v1"),
        ("http", "/v1"),
        ("websocket", "/v1"),
        ("http", "/__ltxmock/health"),
    ]


def test_stopping_frees_the_port_and_closes_the_service() -> None:
    mock = MockServer(latency=0).start()
    port = mock.port
    assert requests.post(
        mock.url, json=[{"taskType": "ping"}], headers={"Authorization": "Bearer k"}, timeout=5
    ).ok
    mock.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = mock.port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # free again


def test_a_threaded_server_binds_before_it_starts() -> None:
    app = MockServer(latency=0).asgi
    server = ThreadedServer(app)
    try:
        assert server.port > 0  # known at once, before the loop runs
        with socket.socket() as probe, pytest.raises(OSError, match="in use"):
            probe.bind(("127.0.0.1", server.port))
        server.start()
        answer = requests.get(f"http://127.0.0.1:{server.port}/__ltxmock/health", timeout=5)
        assert answer.status_code == 200
    finally:
        server.stop()
        app.service.close()
