"""The proxy as an ASGI app: ``POST /v1`` and the ``/v1`` WebSocket, forwarded upstream.

Each request is validated first, by the validator of ``lint`` and ``serve``
(and openapi-core too with ``openapi_gate``): an invalid one is answered here
with the Runware-shaped 400 and never sent. A valid one is forwarded byte for
byte with the caller's headers (credentials included); the upstream's status,
headers and body come back as they are. openapi-core's checks of the request
and the answer, the protocol rules and the recording happen afterwards, in the
``Checker``'s process. ``GET /__ltxmock/drift`` lists the drift found,
``GET /__ltxmock/health`` answers ``{"ok": true}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ltxmock.server.core import jsontext
from ltxmock.server.core.decoding import decode_json
from ltxmock.server.core.errors import ApiError, error_item
from ltxmock.server.core.reply import Reply
from ltxmock.server.http.request import REST_PATHS, parse_request
from ltxmock.server.serve.asgi import headers_of, read_body
from ltxmock.validators import RequestValidator, default_validator

from .checker import Checker
from .checks import Answered, Sent
from .contract import Contract
from .drift import DriftLog

log = logging.getLogger("ltxmock.proxy")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_UPSTREAM = "https://api.runware.ai/v1"
DEFAULT_UPSTREAM_WS = "wss://ws-api.runware.ai/v1"
MIB = 1024 * 1024
# Not forwarded either way (RFC 9110 7.6.1), plus what the proxy sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
WS_SENT_MEMORY = 1000  # taskUUIDs a socket sent that its error frames may name
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


@dataclass(frozen=True)
class ProxyConfig:
    """How the proxy runs. ``upstream_ws`` None: derived from ``upstream`` (the real
    API's WebSocket for the real API's URL, else ``http(s)`` -> ``ws(s)``)."""

    upstream: str = DEFAULT_UPSTREAM
    upstream_ws: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    record_dir: Path | None = None
    record_media: bool = False
    max_body_bytes: int = 4 * MIB
    max_error_items: int = 100
    timeout: float = 120.0  # seconds for one upstream exchange
    # The largest upstream answer passed on (read into memory whole, to be checked):
    # the real API's largest carry a video inline (base64Data, dataURI).
    max_upstream_bytes: int = 64 * MIB
    ws_max_message_bytes: int = 16 * MIB
    # openapi-core checks every forwarded model request in the checker's process
    # (a rejection of what the gate passed is a ``request-schema`` drift); with
    # this, it also gates them, before forwarding: about a millisecond each.
    openapi_gate: bool = False

    def __post_init__(self) -> None:
        for name, url, schemes in (
            ("upstream", self.upstream, ("http", "https")),
            ("upstream_ws", self.upstream_ws, ("ws", "wss")),
        ):
            if url is not None and (
                urlsplit(url).scheme not in schemes or not urlsplit(url).netloc
            ):
                raise ValueError(f"{name} must be a {' or '.join(schemes)} URL, got {url!r}")

    @property
    def websocket_url(self) -> str:
        if self.upstream_ws is not None:
            return self.upstream_ws
        if self.upstream.rstrip("/") == DEFAULT_UPSTREAM:
            return DEFAULT_UPSTREAM_WS
        parts = urlsplit(self.upstream)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


class ProxyApp:
    """The ASGI application of ``ltxmock proxy``."""

    def __init__(self, config: ProxyConfig, *, validator: RequestValidator | None = None) -> None:
        self.config = config
        self.validator = validator or default_validator()
        # openapi-core in this process only to gate with it; its checks run in the
        # checker's process either way.
        self.contract = Contract(self.validator.documents) if config.openapi_gate else None
        self.drift = DriftLog()
        self.checker = Checker(
            self.validator.documents,
            self.drift,
            check_requests=not config.openapi_gate,
            record_dir=config.record_dir,
            record_media=config.record_media,
        )
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await asyncio.to_thread(self.validator.warm_up)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await asyncio.to_thread(self.checker.close)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                auto_decompress=False,  # the body goes back untouched
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    # -- HTTP ----------------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        headers = headers_of(scope)
        if method == "POST" and path in REST_PATHS:
            await self._rest(scope, headers, receive, send)
        elif path in ("/__ltxmock/drift", "/__ltxmock/health"):
            if not _local_host(headers.get("host", ""), self.config.host):
                await _send_error(
                    send, 403, "forbidden", "the proxy's admin API answers local hosts only"
                )
            elif method != "GET":
                await _send_error(send, 405, "methodNotAllowed", f"{method} {path}: use GET")
            elif path.endswith("health"):
                await _send_json(send, 200, {"ok": True, "upstream": self.config.upstream})
            else:
                await _send_json(send, 200, self.drift.snapshot())
        else:
            await _send_error(send, 404, "notFound", f"{method} {path}: the proxy answers POST /v1")

    async def _rest(
        self, scope: Scope, headers: dict[str, str], receive: Receive, send: Send
    ) -> None:
        limit = self.config.max_body_bytes
        raw = await read_body(receive, headers, limit)
        if raw is None:
            return
        request = parse_request(
            path=scope["path"], headers=headers, body=raw, limit=limit, base_url=""
        )
        refusal = Reply.from_error(request.refusal) if request.refusal is not None else None
        refusal = refusal or self._gate(request.body)
        if refusal is not None:  # answered here: the upstream never sees it
            await _send_json(
                send, refusal.status, refusal.capped(self.config.max_error_items).payload
            )
            return
        at = time.time()
        self.checker.put(Sent("rest", request.body, at, len(raw)))
        forward = {k: v for k, v in _raw_headers(scope) if k.lower() not in HOP_BY_HOP}
        try:
            async with self.session().post(
                self.config.upstream, data=raw, headers=forward
            ) as answer:
                body = await _read_bounded(answer, self.config.max_upstream_bytes)
                status = answer.status
                back = [
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in answer.headers.items()
                    if k.lower() not in HOP_BY_HOP
                ]
                encoding = answer.headers.get("content-encoding", "")
        except UpstreamTooLargeError as exc:
            await _send_error(send, 502, "upstreamTooLarge", str(exc))
            return
        except TimeoutError:
            await _send_error(
                send,
                504,
                "upstreamTimeout",
                f"the upstream did not answer within {self.config.timeout} s",
            )
            return
        except aiohttp.ClientError as exc:
            await _send_error(send, 502, "upstreamUnavailable", f"cannot reach the upstream: {exc}")
            return
        back.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": back})
        await send({"type": "http.response.body", "body": body})
        self.checker.put(
            Answered("rest", request.body, status, _decoded(body, encoding), time.time())
        )

    def _gate(self, body: Any) -> Reply | None:
        """The local 400 for a body the validator of ``lint`` and ``serve`` rejects (and,
        with ``openapi_gate``, openapi-core), or None to forward it."""
        if not self.validator.is_valid(body):
            problems = self.validator.validate(body)
            if problems:
                return Reply.from_error(ApiError(400, [p.to_dict() for p in problems]))
        if self.contract is None:
            return None  # openapi-core checks it in the checker's process
        problems_of_contract = self.contract.check_request(body)
        if problems_of_contract:
            items = [
                error_item(
                    "invalidRequestBody",
                    f"The OpenAPI document rejects the request: {problem}",
                    documentation="https://runware.ai/docs/en/getting-started/how-to-connect",
                )
                for problem in problems_of_contract
            ]
            return Reply.from_error(ApiError(400, items))
        return None

    # -- WebSocket -------------------------------------------------------------------
    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        if scope["path"] not in REST_PATHS:
            await send({"type": "websocket.close", "code": 1008})
            return
        try:
            upstream = await connect(
                self.config.websocket_url,
                max_size=self.config.ws_max_message_bytes,
                open_timeout=self.config.timeout,
                ping_interval=None,  # the clients' own pings go through
                compression=None,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            log.warning("cannot open the upstream WebSocket: %s", exc)
            await send({"type": "websocket.close", "code": 1011})
            return
        await send({"type": "websocket.accept"})
        sent: deque[dict[str, str]] = deque(maxlen=WS_SENT_MEMORY)
        pump = asyncio.create_task(self._from_upstream(upstream, send, sent))
        try:
            await self._to_upstream(upstream, receive, send, sent)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
            await upstream.close()

    async def _to_upstream(
        self, upstream: ClientConnection, receive: Receive, send: Send, sent: deque[dict[str, str]]
    ) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message["type"] != "websocket.receive":
                continue
            text = message.get("text")
            frame: str | bytes = text if text is not None else message.get("bytes") or b""
            refusal: Reply | None
            tasks: list[Any] = []
            try:
                body = decode_json(frame)
            except ApiError as exc:
                body, refusal = None, Reply.from_error(exc)
            else:
                tasks = body if isinstance(body, list) else [body]
                refusal = self._gate(tasks)
            if refusal is not None:
                payload = refusal.capped(self.config.max_error_items).payload
                await send({"type": "websocket.send", "text": jsontext.dumps(payload)})
                continue
            for task in tasks:
                if isinstance(task, dict) and isinstance(task.get("taskUUID"), str):
                    sent.append({"taskUUID": task["taskUUID"]})
            self.checker.put(Sent("ws", body, time.time(), len(frame)))
            try:
                await upstream.send(frame)
            except ConnectionClosed:
                await send({"type": "websocket.close", "code": 1011})
                return

    async def _from_upstream(
        self, upstream: ClientConnection, send: Send, sent: deque[dict[str, str]]
    ) -> None:
        try:
            async for frame in upstream:
                if isinstance(frame, str):
                    await send({"type": "websocket.send", "text": frame})
                    raw = frame.encode()
                else:
                    await send({"type": "websocket.send", "bytes": frame})
                    raw = frame
                ok, payload = jsontext.loads_fast(raw)
                status = (
                    400
                    if ok
                    and isinstance(payload, dict)
                    and "errors" in payload
                    and not payload.get("data")
                    else 200
                )
                self.checker.put(Answered("ws", list(sent), status, raw, time.time()))
        except ConnectionClosed:
            pass
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": 1000})


def _raw_headers(scope: Scope) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]


def _local_host(host: str, bound: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK_HOSTS or name == bound


class UpstreamTooLargeError(Exception):
    """The upstream's answer is over ``ProxyConfig.max_upstream_bytes``."""


async def _read_bounded(answer: aiohttp.ClientResponse, limit: int) -> bytes:
    """The answer's body, or ``UpstreamTooLargeError`` as soon as it is over ``limit`` bytes
    (declared or received): never more than that in memory."""
    too_large = UpstreamTooLargeError(
        f"the upstream's answer is over {limit} bytes (ProxyConfig.max_upstream_bytes)"
    )
    if answer.content_length is not None and answer.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _decoded(body: bytes, encoding: str) -> bytes:
    """The body to check: the upstream's own, inflated if it came compressed."""
    import gzip
    import zlib

    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError):
        return body
    return body


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    """A Runware-shaped error answer of the proxy's own."""
    await _send_json(send, status, {"errors": [error_item(code, message)]})


async def _send_json(send: Send, status: int, payload: Any) -> None:
    body = jsontext.dumps_bytes(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
