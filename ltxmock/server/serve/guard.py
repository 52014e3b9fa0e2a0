"""HTTP hygiene in front of uvicorn's protocol: header caps, slow clients, malformed requests,
and a lingering close so that every client sees an early answer.

uvicorn's httptools protocol accepts headers of any size, never times out a
client that trickles its headers or body, answers malformed HTTP with a
``text/plain`` 400, and closes a ``Connection: close`` request's socket right
after an early answer (the 413 of a too-large body) while the client is still
sending: the kernel then resets the connection, and the client never reads
the 413. ``GuardedProtocol`` fixes these in front of it, built only on public
interfaces: uvicorn's ``http=`` setting takes any protocol class it can build
with ``(config, server_state, app_state, _loop)``; this one wraps the protocol
``--http auto`` names (composition) and reads the same bytes with an
``httptools`` parser of its own, which only watches where each request is.

* headers larger than ``max_header_bytes`` → a JSON 431, then close;
* headers not complete ``header_timeout`` seconds after a request began (or
  after the connection opened) → a JSON 408, then close; a body not complete
  ``body_timeout`` seconds after its headers, plus a second per
  ``body_min_rate`` bytes received (a large body on a slow link has its time,
  a trickle does not) → the same;
* bytes that are not HTTP → a JSON 400, then close;
* when uvicorn closes a connection whose request body is still arriving, the
  rest is read and dropped first (at most ``linger_bytes`` for at most
  ``linger_timeout`` seconds), so the answer already sent reaches the client.

A WebSocket upgrade leaves the guard: the WebSocket protocol talks to the
socket directly from then on.

A whole ``POST /v1`` on a connection uvicorn has not served goes to the
``RestLane`` of the app (``rest_lane.py``) instead, and the guard writes its
answer; the next request on the connection waits for it. The reads of a request
begun are kept until it is whole (a client may send headers and body apart), up
to ``LANE_WAIT_BYTES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import socket
import struct
from dataclasses import dataclass
from typing import Any, cast

import httptools
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from ltxmock.server.core import jsontext
from ltxmock.server.core.errors import CONNECT_DOCS, error_item

from .rest_lane import JSON_HEADER, LaneAnswer, RestLane, http_response


@dataclass(frozen=True)
class GuardLimits:
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    body_min_rate: int = 64 * 1024  # bytes per second of a body that earn it more time
    linger_bytes: int = 64 * 1024 * 1024
    linger_timeout: float = 10.0


DEFAULT_LIMITS = GuardLimits()
# Bytes of a request begun that the guard keeps for the REST lane until it is whole;
# a larger one goes to uvicorn as it comes.
LANE_WAIT_BYTES = 64 * 1024

# The guard of the connection whose bytes uvicorn is reading: set around the
# inner protocol's data_received, so a request task uvicorn starts there copies
# it (tasks copy the context they are made in). The ASGI app reads it to reset
# a connection on purpose (an injected transport fault), which ASGI cannot say.
CONNECTION: contextvars.ContextVar[GuardedProtocol | None] = contextvars.ContextVar(
    "ltxmock_connection", default=None
)


def refusal(status: int, code: str, message: str) -> bytes:
    """A whole HTTP response: the status, a Runware-shaped JSON body, ``Connection: close``."""
    body = jsontext.dumps_bytes({"errors": [error_item(code, message, documentation=CONNECT_DOCS)]})
    length = (b"content-length", str(len(body)).encode())
    return http_response(status, [JSON_HEADER, length, (b"connection", b"close")], body)


class GuardedTransport:
    """The transport uvicorn's protocol writes to: ``close`` may linger, ``set_protocol``
    hands the socket over (a WebSocket upgrade); everything else is the socket's own."""

    __slots__ = ("_guard", "transport")

    def __init__(self, transport: asyncio.Transport, guard: GuardedProtocol) -> None:
        self.transport = transport
        self._guard = guard

    def close(self) -> None:
        self._guard.closing()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._guard.handed_over()
        self.transport.set_protocol(protocol)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class GuardedProtocol(asyncio.Protocol):
    """uvicorn's HTTP protocol (``--http auto``) behind the checks of this module."""

    limits: GuardLimits = DEFAULT_LIMITS

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._loop = _loop or asyncio.get_running_loop()
        self._inner = AutoHTTPProtocol(  # type: ignore[call-arg]
            config=config, server_state=server_state, app_state=app_state, _loop=_loop
        )
        # Where the current request is, as the guard's own parser sees it.
        self._in_message = False
        self._in_headers = False
        self._header_bytes = 0  # read so far of a request whose headers are incomplete
        # What happened during the last read: a request ended, another began after
        # that, a request's headers ended.
        self._ended = self._began_after_end = self._headers_done = False
        self._phase: str | None = None  # what the armed timer waits for
        self._body_since = 0.0  # when the body phase began (loop time)
        self._body_read = 0  # bytes read since then
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._passthrough = False  # an upgrade: the guard only forwards
        self._lingering = False
        self._lingered = 0
        self._finished = False
        # The REST lane: the request read so far, and whether its answer is awaited
        # (reads are held meanwhile, so answers go out in order).
        self._lane = lane_of(config)
        self._lane_open = self._lane is not None  # until uvicorn is given a byte
        self._lane_ready = False  # a POST ended in this read
        self._kept: list[bytes] = []  # reads of a request begun, kept for the lane
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._awaiting = False
        self._keep_alive = True
        self._held: list[bytes] = []

    @classmethod
    def with_limits(cls, limits: GuardLimits) -> type[GuardedProtocol]:
        """This protocol with other limits (a subclass: uvicorn takes a class)."""
        return cast(type[GuardedProtocol], type(cls.__name__, (cls,), {"limits": limits}))

    # -- asyncio.Protocol ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._arm("headers")  # the first request, too, must arrive in time
        guarded = GuardedTransport(self._transport, self)
        self._inner.connection_made(cast(asyncio.Transport, guarded))

    def data_received(self, data: bytes) -> None:
        if self._finished:
            return
        if self._lingering:
            self._drain(data)
            return
        if self._passthrough:
            self._inner.data_received(data)
            return
        if self._awaiting:
            self._hold(data)
            return
        carried = self._header_bytes if self._in_headers else 0  # of headers begun earlier
        self._headers_done = self._ended = self._began_after_end = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._passthrough = True  # uvicorn decides about the upgrade
            self._disarm()
        except httptools.HttpParserError:
            self._refuse(400, "invalidHttp", "The request is not valid HTTP/1.1.")
            return
        if self._began_after_end:
            # A request that starts after another one's end, inside this read: where
            # is not known, so its headers count from the next read (this one is
            # bounded by the read size anyway).
            self._header_bytes = 0
        elif self._in_headers:  # every byte of this read is a header byte
            self._header_bytes = carried + len(data)
        elif self._headers_done:  # they end in this read: measure them exactly
            self._header_bytes = carried + data.find(b"\r\n\r\n") + 4
        if self._header_bytes > self.limits.max_header_bytes:
            self._refuse(
                431,
                "headersTooLarge",
                f"The request's headers exceed {self.limits.max_header_bytes} bytes.",
            )
            return
        # A timer only for a request this read left incomplete: most arrive whole.
        if self._passthrough:
            pass
        elif self._in_headers:
            self._arm("headers")
        elif self._in_message:
            self._arm_body(len(data))
        elif self._phase is not None:
            self._disarm()
        if self._lane_open:
            if self._took_lane() or self._kept_for_lane(data):
                return
            self._lane_open = False  # uvicorn reads this connection from now on
            if self._kept:  # the reads kept for the lane first
                data = b"".join((*self._kept, data))
                self._kept = []
        token = CONNECTION.set(self)
        try:
            self._inner.data_received(data)
        finally:
            CONNECTION.reset(token)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finished = True
        self._disarm()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- called by GuardedTransport ------------------------------------------------
    def closing(self) -> None:
        """uvicorn closes the socket: at once, unless a request body is still arriving."""
        if self._finished or self._lingering:
            return
        if not self._in_message or self._in_headers or self._passthrough:
            self._close()
            return
        self._lingering = True  # the answer is written; read the rest, then close
        self._arm("linger")

    def peer(self) -> Any:
        """The client's address, as ``scope["client"]`` names it."""
        transport = self._transport
        return transport.get_extra_info("peername") if transport is not None else None

    def reset(self) -> None:
        """Drop the connection with a TCP reset, whatever is unsent (a transport fault)."""
        self._finished = True
        self._disarm()
        transport = self._transport
        if transport is None or transport.is_closing():
            return  # the client is gone already
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger on, 0 s: closing sends RST, not FIN. (uvloop's pseudo-socket
            # raises ValueError once its descriptor is gone.)
            with contextlib.suppress(OSError, ValueError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def handed_over(self) -> None:
        self._passthrough = True
        self._disarm()

    # -- httptools callbacks: where the request is -------------------------------------
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", [], []
        self._in_message = self._in_headers = True
        self._header_bytes = 0
        self._began_after_end = self._ended
        if self._phase == "headers":
            self._disarm()  # each request's headers get their own time

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._headers_done = True
        if self._lane_open:  # read here: the parser forgets it at the message's end
            self._keep_alive = self._parser.should_keep_alive()

    def on_message_complete(self) -> None:
        self._in_message = self._in_headers = False
        self._ended = True
        self._lane_ready = self._lane_open and self._parser.get_method() == b"POST"

    # -- what the REST lane needs of the request ------------------------------------------
    def on_url(self, url: bytes) -> None:
        if self._lane_open:
            self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._lane_open:
            self._headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        if self._lane_open:
            self._body.append(body)

    # -- the REST lane ----------------------------------------------------------------
    def _took_lane(self) -> bool:
        """Hand this read's request to the lane if it is one whole POST it takes."""
        ready, self._lane_ready = self._lane_ready, False
        if not ready or self._in_message or self._began_after_end or self._lane is None:
            return False
        if not self._lane.take(self._url, self._headers, b"".join(self._body), self._respond):
            return False
        self._kept = []
        self._awaiting = True
        return True

    def _kept_for_lane(self, data: bytes) -> bool:
        """Keep this read for the lane if it leaves a request begun that the lane may
        take once whole (a client may send its headers and body apart): a POST of at
        most ``LANE_WAIT_BYTES`` in all that ``RestLane.wants`` (not one with
        ``Expect``, whose client waits for the 100 Continue uvicorn sends)."""
        if not self._in_message or self._began_after_end or self._lane is None:
            return False
        if sum(map(len, self._kept)) + len(data) > LANE_WAIT_BYTES:
            return False
        if not self._in_headers:  # the headers are whole: is it one to wait for?
            if self._parser.get_method() != b"POST" or not self._lane.wants(
                self._url, self._headers
            ):
                return False
            for name, value in self._headers:
                if name.lower() == b"content-length" and (
                    not value.strip().isdigit() or int(value) > LANE_WAIT_BYTES
                ):
                    return False
        self._kept.append(data)
        return True

    def _respond(self, answer: LaneAnswer) -> None:
        if answer.delay > 0:
            self._loop.call_later(answer.delay, self._act, answer)
        else:
            self._act(answer)

    def _act(self, answer: LaneAnswer) -> None:
        transport = self._transport
        if self._finished or transport is None or transport.is_closing():
            return  # the client left; the request was handled all the same
        if answer.action == "truncate":
            transport.write(answer.data[: answer.cut])
        if answer.action != "send":
            self.reset()
            return
        transport.write(answer.data)
        if not self._keep_alive:
            self._close()
            return
        self._awaiting = False
        self._arm("headers")  # an idle connection is closed after the headers' time
        held, self._held = self._held, []
        if held:
            transport.resume_reading()
        for data in held:
            self.data_received(data)

    def _hold(self, data: bytes) -> None:
        """Keep a read that came while an answer is awaited; read no more until then."""
        if not self._held and self._transport is not None:
            self._transport.pause_reading()
        self._held.append(data)

    # -- the rest --------------------------------------------------------------------
    def _drain(self, data: bytes) -> None:
        self._lingered += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._close()
            return
        if not self._in_message or self._lingered > self.limits.linger_bytes:
            self._close()

    def _refuse(self, status: int, code: str, message: str) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(refusal(status, code, message))
        self._close()

    def _timed_out(self) -> None:
        phase, self._timer, self._phase = self._phase, None, None
        if phase == "linger" or not self._in_message:
            self._close()  # nothing to answer: lingered enough, or no request was begun
            return
        what = "headers were" if phase == "headers" else "body was"
        self._refuse(408, "requestTimeout", f"The request's {what} not received in time.")

    def _arm(self, phase: str) -> None:
        """Wait ``phase``'s time (from now, unless already waiting for it)."""
        if self._phase == phase:
            return
        self._disarm()
        seconds = {
            "headers": self.limits.header_timeout,
            "body": self.limits.body_timeout,
            "linger": self.limits.linger_timeout,
        }[phase]
        self._phase = phase
        self._timer = self._loop.call_later(seconds, self._timed_out)

    def _arm_body(self, received: int) -> None:
        """Wait for the rest of a body: ``body_timeout``, plus a second per
        ``body_min_rate`` bytes read meanwhile."""
        if self._phase != "body":
            self._body_since, self._body_read = self._loop.time(), 0
            self._arm("body")
            return
        self._body_read += received
        limits = self.limits
        deadline = self._body_since + limits.body_timeout + self._body_read / limits.body_min_rate
        timer = self._timer
        # Re-armed in steps of a quarter of the base time: not a new timer per read.
        if timer is not None and deadline - timer.when() >= limits.body_timeout / 4:
            timer.cancel()
            self._timer = self._loop.call_at(deadline, self._timed_out)

    def _disarm(self) -> None:
        self._phase = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self) -> None:
        self._finished = True
        self._disarm()
        if self._transport is not None:
            self._transport.close()


def lane_of(config: Any) -> RestLane | None:
    """The REST lane of the app uvicorn serves (``config.loaded_app``, through the
    middleware uvicorn wraps it in), if it has one."""
    app = getattr(config, "loaded_app", None)
    for _ in range(8):
        lane = getattr(app, "rest_lane", None)
        if isinstance(lane, RestLane):
            return lane
        app = getattr(app, "app", None)
    return None
