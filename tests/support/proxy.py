"""Helpers of the proxy tests: the proxy in front of an upstream (uvicorn in a thread, as
the test kit runs the mock), and ``run_asgi`` for the fake upstreams. Everything listens
on 127.0.0.1; nothing here contacts another host."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
import uvicorn
from ltxmock.validators import RequestValidator

from ltxmock.proxy.app import ProxyApp, ProxyConfig
from support.server import API_KEY


@contextlib.contextmanager
def run_asgi(app: Any) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1 (a free port) in a thread; yields the port."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app, lifespan="on", log_level="warning", access_log=False, ws="websockets-sansio"
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the server thread died"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.005)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class RunningProxy:
    """A ``ProxyApp`` being served: ``url``, ``ws_url``, ``post``, ``drift()``."""

    def __init__(self, app: ProxyApp, port: int) -> None:
        self.app = app
        self.port = port
        self.http = requests.Session()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1"

    def post(self, body: Any, *, key: str | None = API_KEY, **options: Any) -> requests.Response:
        headers = dict(options.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return self.http.post(self.url, json=body, headers=headers, timeout=10, **options)

    def drift(self) -> dict[str, Any]:
        """The drift report once every exchange so far is checked."""
        self.app.checker.join(10)
        answer: dict[str, Any] = self.http.get(f"{self.base}/__ltxmock/drift", timeout=10).json()
        return answer

    def rules_fired(self) -> set[str]:
        return {d["rule"] for d in self.drift()["drift"]}


@contextlib.contextmanager
def proxy_to(
    upstream: str, *, validator: RequestValidator | None = None, **config: Any
) -> Iterator[RunningProxy]:
    app = ProxyApp(ProxyConfig(upstream=upstream, **config), validator=validator)
    with run_asgi(app) as port:
        running = RunningProxy(app, port)
        try:
            yield running
        finally:
            running.http.close()


Answerer = Any  # (body) -> (status, payload) for REST; (body) -> [payload, ...] for a frame


class FakeUpstream:
    """A deliberately wrong Runware upstream: ``rest(body)`` gives (status, payload) for a
    ``POST /v1``; ``ws(body)`` the frames answering one WebSocket message."""

    def __init__(self, rest: Answerer = None, ws: Answerer = None) -> None:
        self.rest = rest
        self.ws = ws
        self.received: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        elif scope["type"] == "http":
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = json.loads(b"".join(chunks))
            self.received.append(body)
            status, payload = self.rest(body)
            raw = json.dumps(payload).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": raw})
        elif scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return
                body = json.loads(message.get("text") or message.get("bytes"))
                self.received.append(body)
                for payload in self.ws(body):
                    await send({"type": "websocket.send", "text": json.dumps(payload)})


@contextlib.contextmanager
def proxy_to_fake(fake: FakeUpstream, **config: Any) -> Iterator[RunningProxy]:
    with run_asgi(fake) as port, proxy_to(f"http://127.0.0.1:{port}/v1", **config) as proxy:
        yield proxy
