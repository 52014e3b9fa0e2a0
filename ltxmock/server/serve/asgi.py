"""The ASGI face of the mock: what ``ltxmock serve`` (gunicorn + uvicorn workers) and
the test kit (uvicorn in a thread) run.

One app, one port, three routes by kind:

* ``POST /v1``: read here, parsed by ``http.request.parse_request`` and
  answered right on the event loop (the work is CPU-bound and short: a thread
  hop would only add latency); the requests that arrive within a few turns
  of the loop share one store commit (``GroupCommit``). Behind the guard
  (``ltxmock serve``, the test kit) most never get here: ``rest_lane`` answers
  them from the connection, with the same parser, commit and rendering.
* ``/v1`` WebSocket: the ``Channel`` of the protocol core, on a thread of its
  own, talking to the loop through ``LoopSocket``. One thread per open socket,
  not a bounded pool: 200 idle SDK connections must not starve anyone.
* every other HTTP request (admin API, video downloads, 404s): the Flask app,
  through a2wsgi's WSGI bridge on a thread pool. Downloads have a pool of
  their own: one may wait seconds for its file to render, and a pool full of
  them must never keep ``/__ltxmock/health``, a reset or a fault rule waiting.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask

from ltxmock.server.core.channel import WS_PATHS, WebSocketHub
from ltxmock.server.core.config import MockConfig
from ltxmock.server.core.faults import DELAY, HANG, RESET, TRUNCATE, Fault
from ltxmock.server.core.reply import Reply
from ltxmock.server.core.service import MockService
from ltxmock.server.http.app import create_app, hub_of, service_of
from ltxmock.server.http.request import REST_PATHS, host_url, parse_request

from .group_commit import GroupCommit
from .guard import CONNECTION
from .loop_socket import LoopSocket
from .rest_lane import PAUSES, RestLane, response_parts

log = logging.getLogger("ltxmock.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_BRIDGE_THREADS = 8
DOWNLOADS_PREFIX = "/video/"  # the result files' route (http/downloads.py)


class TransportFaultError(Exception):
    """Raised to make the ASGI server drop a connection when no guard can reset it."""


class AsgiMock:
    """The ASGI application wrapping a ``create_app`` Flask app."""

    def __init__(self, flask_app: Flask, *, threads: int = DEFAULT_BRIDGE_THREADS) -> None:
        self.flask = flask_app
        self.service: MockService = service_of(flask_app)
        self.hub: WebSocketHub = hub_of(flask_app)
        self.config: MockConfig = self.service.config
        self._bridge = WSGIMiddleware(flask_app, workers=threads)  # type: ignore[arg-type]
        self._downloads = WSGIMiddleware(flask_app, workers=threads)  # type: ignore[arg-type]
        self._commits = GroupCommit(self.service)
        self.rest_lane = RestLane(self._commits, self.config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["method"] == "POST" and scope["path"] in REST_PATHS:
                await self._rest(scope, receive, send)
            elif scope["path"].startswith(DOWNLOADS_PREFIX):
                await self._downloads(scope, receive, send)  # type: ignore[arg-type]
            else:
                await self._bridge(scope, receive, send)  # type: ignore[arg-type]
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # -- POST /v1 ---------------------------------------------------------------
    async def _rest(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = headers_of(scope)
        limit = self.config.max_body_bytes
        raw = await read_body(receive, headers, limit)
        if raw is None:
            return  # the client left before sending its body
        fault: Fault | None = None
        try:
            request = parse_request(
                path=scope["path"],
                headers=headers,
                body=raw,
                limit=limit,
                base_url=_base_url(scope, headers),
            )
            reply = await self._commits.submit(request)
            status, headers_out, body = response_parts(reply)
            fault = reply.transport
        except Exception:  # a bug: answer as the real API would, never a traceback
            log.exception("unexpected error on POST %s", scope["path"])
            status, headers_out, body = response_parts(Reply.internal_error())
        if (
            fault is not None
            and fault.code in (DELAY, HANG)
            and (await _client_left(receive, fault.pause(PAUSES)) or fault.code == HANG)
        ):
            await _drop(scope, send)  # a hang ends when the client gives up (or at its cap)
            return
        start = {"type": "http.response.start", "status": status, "headers": headers_out}
        if fault is not None and fault.code == RESET:
            await _drop(scope, send)
            return
        await send(start)
        if fault is not None and fault.code == TRUNCATE:
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            await _drop(scope, send, started=True)
            return
        await send({"type": "http.response.body", "body": body})

    # -- the WebSocket ----------------------------------------------------------
    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        if scope["path"] not in WS_PATHS:
            await send({"type": "websocket.close", "code": 1008})  # answered 403
            return
        await send({"type": "websocket.accept"})
        loop = asyncio.get_running_loop()
        sock = LoopSocket(loop, send, send_timeout=self.config.ws_send_timeout)
        headers = headers_of(scope)
        threading.Thread(
            target=self.hub.serve,
            args=(sock,),
            kwargs={
                "base_url": _base_url(scope, headers),
                "path": scope["path"],
                "headers": tuple(headers.items()),
            },
            name="ltxmock-ws",
            daemon=True,
        ).start()
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    await sock.deliver(text if text is not None else message.get("bytes") or b"")
                elif message["type"] == "websocket.disconnect":
                    break
        finally:
            sock.disconnected()

    # -- start and stop ---------------------------------------------------------
    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Load the renderer and the validators off the loop, now rather
                # than inside the first submit.
                threading.Thread(target=self._warm_up, name="ltxmock-warm-up", daemon=True).start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _warm_up(self) -> None:
        try:
            self.service.validator.warm_up()
            self.service.results.load()
        except Exception:  # the first request will meet the same problem and report it
            log.debug("warm-up failed", exc_info=True)


def create_asgi_app(
    config: MockConfig | None = None, *, threads: int = DEFAULT_BRIDGE_THREADS
) -> AsgiMock:
    """The mock as an ASGI app: ``uvicorn --factory ltxmock.server.serve.asgi:create_asgi_app``.

    With no config, ``LTXMOCK_*`` environment variables decide (as ``create_app``).
    """
    return AsgiMock(create_app(config), threads=threads)


async def _client_left(receive: Receive, seconds: float) -> bool:
    """Wait ``seconds`` (an injected delay); True if the client disconnected meanwhile."""
    try:
        message = await asyncio.wait_for(receive(), timeout=seconds)
    except TimeoutError:
        return False
    return message.get("type") == "http.disconnect"


async def _drop(scope: Scope, send: Send, *, started: bool = False) -> None:
    """End the connection without (the rest of) an answer: a TCP reset through the
    guard of ``ltxmock serve`` and the test kit; under another ASGI server, an
    exception, on which it closes the connection."""
    guard = CONNECTION.get()
    if guard is None or guard.peer() != tuple(scope.get("client") or ()):
        raise TransportFaultError("injected transport fault: connection dropped")
    guard.reset()
    # Let the server see the connection go (connection_lost runs on the next turn),
    # then finish the ASGI exchange: a send to a lost connection is dropped, and the
    # server logs no "returned without starting response".
    for _ in range(2):
        await asyncio.sleep(0)
    if not started:
        await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def headers_of(scope: Scope) -> dict[str, str]:
    """An HTTP scope's headers as text (names arrive lower-cased; a repeated header
    keeps its last value)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _base_url(scope: Scope, headers: dict[str, str]) -> str:
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    host = headers.get("host")
    if not host:
        server_host, port = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server_host}:{port}"
    return host_url(scheme, host)


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes | None:
    """The body, or its first ``limit + 1`` bytes when it is too large (enough to refuse it)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b""  # refused on the declared length alone; the rest is never read
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)[: limit + 1]
