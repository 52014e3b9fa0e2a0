"""The ASGI face of the mock: what ``ltxmock serve`` runs (gunicorn + uvicorn workers).

One app, one port, three routes by kind:

* ``POST /v1``: answered right on the event loop by the same steps as the WSGI
  fast lane (the work is CPU-bound and short: a thread hop would only add
  latency), except that the writes of every request ready in one turn of the
  loop are committed together (``GroupCommit``): one SQLite transaction, one
  turn of the write lock the workers share, for several requests.
* ``/v1`` WebSocket: the same ``Channel`` as under a WSGI server, on a thread
  of its own, talking to the loop through ``LoopSocket``. One thread per open
  socket, not a bounded pool: 200 idle SDK connections must not starve anyone.
* every other HTTP request (admin API, video downloads, 404s): the Flask app,
  through a2wsgi's WSGI bridge on a thread pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask

from .config import MockConfig
from .errors import internal_server_error
from .rest import JSON_TYPE, REST_PATHS, begin, encode, host_url, reply_bytes
from .service import Exchange, MockService, Reply
from .ws import EXTENSION, WS_PATHS, SocketClosedError, WebSocketHub

log = logging.getLogger("ltxmock.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_BRIDGE_THREADS = 8
_CLOSED = object()  # the inbox's end-of-stream mark


class AsgiMock:
    """The ASGI application wrapping a ``create_app`` Flask app."""

    def __init__(self, flask_app: Flask, *, threads: int = DEFAULT_BRIDGE_THREADS) -> None:
        self.flask = flask_app
        self.service: MockService = flask_app.extensions["ltxmock"]
        self.hub: WebSocketHub = flask_app.extensions[EXTENSION]
        self.config: MockConfig = self.service.config
        self._bridge = WSGIMiddleware(flask_app, workers=threads)  # type: ignore[arg-type]
        self._commits = GroupCommit(self.service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["method"] == "POST" and scope["path"] in REST_PATHS:
                await self._rest(scope, receive, send)
            else:
                await self._bridge(scope, receive, send)  # type: ignore[arg-type]
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # -- POST /v1 ---------------------------------------------------------------
    async def _rest(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        raw = await _read_body(receive, headers, self.config.max_body_bytes)
        if raw is None:
            return  # the client left before sending its body
        try:
            opened = begin(self.service, _environ(scope, headers, raw))
            if isinstance(opened, tuple):
                status, body = opened
            else:
                status, body = reply_bytes(await self._commits.submit(opened))
        except Exception:  # a bug: answer as the real API would, never a traceback
            log.exception("unexpected error on POST %s", scope["path"])
            status, body = 500, encode({"errors": [internal_server_error()]})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", JSON_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
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
        headers = _headers(scope)
        scheme = "https" if scope.get("scheme") == "wss" else "http"
        base_url = host_url(scheme, headers.get("host") or _server_host(scope))
        threading.Thread(
            target=self.hub.serve,
            args=(sock,),
            kwargs={"base_url": base_url, "path": scope["path"]},
            name="ltxmock-ws",
            daemon=True,
        ).start()
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    sock.deliver(text if text is not None else message.get("bytes") or b"")
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


class GroupCommit:
    """Commit the writes of the requests that are ready together, on the event loop.

    Each request is begun (checked, polled, drafted) as it comes; the first to
    queue its writes schedules a flush for the end of this turn of the loop, by
    which time every other request that was ready has queued its own. The
    flush writes them all in one transaction (each in a savepoint of its own),
    and only after the commit does any of them get its reply.
    """

    def __init__(self, service: MockService) -> None:
        self.service = service
        self._queue: list[tuple[Exchange, asyncio.Future[Reply]]] = []
        self._scheduled = False

    async def submit(self, exchange: Exchange) -> Reply:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._queue.append((exchange, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._queue = self._queue, []
        service = self.service
        try:
            with service.store.transaction():
                service.write_all([exchange for exchange, _ in batch])
        except Exception as exc:  # nothing of the batch was stored
            for exchange, _ in batch:
                service.write_failed(exchange, exc)
        for exchange, future in batch:
            reply = service.finish(exchange)  # even for a client that left: start its renders
            if not future.done():
                future.set_result(reply)


class LoopSocket:
    """A WebSocket served by the event loop, as a blocking ``Socket`` for a thread.

    The loop's receiving coroutine ``deliver``s messages into an inbox the
    channel thread reads; sends are scheduled on the loop and waited for, at
    most ``send_timeout`` seconds (a peer that stopped reading stalls them).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send, *, send_timeout: float) -> None:
        self._loop = loop
        self._send = send
        self._send_timeout = send_timeout if send_timeout > 0 else None
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._open = True
        self._ended = False  # the reader saw the end of the inbox

    # Called on the loop.
    def deliver(self, message: str | bytes) -> None:
        self._inbox.put(message)

    def disconnected(self) -> None:
        self._open = False
        self._inbox.put(_CLOSED)

    # Called on the channel's thread.
    @property
    def connected(self) -> bool:
        return self._open

    def send(self, frame: str) -> None:
        if not self._open:
            raise SocketClosedError("the socket is closed")
        self._run({"type": "websocket.send", "text": frame})

    def receive(self, timeout: float) -> str | bytes | None:
        if self._ended:
            raise SocketClosedError("the socket is closed")
        try:
            message = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if message is _CLOSED:
            self._ended = True
            raise SocketClosedError("the peer closed the socket")
        item: str | bytes = message
        return item

    def close(self, code: int = 1000, reason: str = "") -> None:
        if not self._open:
            return
        self._open = False
        with contextlib.suppress(SocketClosedError):
            self._run({"type": "websocket.close", "code": code, "reason": reason})

    def finish(self) -> None:
        pass  # the loop owns the connection; it ends when the close completes

    def _run(self, message: Message) -> None:
        async def sending() -> None:
            await self._send(message)

        future = asyncio.run_coroutine_threadsafe(sending(), self._loop)
        try:
            future.result(self._send_timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            self._open = False
            raise SocketClosedError("the send timed out: the peer stopped reading") from exc
        except Exception as exc:  # the connection is gone (uvicorn raises on a closed socket)
            self._open = False
            raise SocketClosedError(repr(exc)) from exc


def create_asgi_app(
    config: MockConfig | None = None, *, threads: int = DEFAULT_BRIDGE_THREADS
) -> AsgiMock:
    """The mock as an ASGI app: ``uvicorn --factory ltxmock.server.asgi:create_asgi_app``.

    With no config, ``LTXMOCK_*`` environment variables decide (as ``create_app``).
    """
    from .app import create_app

    return AsgiMock(create_app(config), threads=threads)


def _headers(scope: Scope) -> dict[str, str]:
    # Header names arrive lower-cased; a repeated header keeps its last value.
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes | None:
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


def _environ(scope: Scope, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    """The WSGI environ ``answer`` reads: path, body, content headers, key, fault, host."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": scope["path"],
        "wsgi.input": io.BytesIO(raw),
        "wsgi.input_terminated": True,  # the whole (or the refusable) body is here
        "wsgi.url_scheme": scope.get("scheme", "http"),
    }
    server = scope.get("server") or ("127.0.0.1", 80)
    environ["SERVER_NAME"], environ["SERVER_PORT"] = server[0], str(server[1])
    for name, value in headers.items():
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name == "content-length":
            environ["CONTENT_LENGTH"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _server_host(scope: Scope) -> str:
    host, port = scope.get("server") or ("127.0.0.1", 80)
    return f"{host}:{port}"
