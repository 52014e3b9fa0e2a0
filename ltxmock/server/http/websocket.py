"""The WebSocket at ``/v1`` under a WSGI server: flask-sock's socket as a ``Socket``.

The socket is served by the thread that accepted it plus simple-websocket's
reader thread. Every socket is shut down at the end, so that the reader's
``recv`` returns even if the peer never answers the close.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import TYPE_CHECKING, Any

from flask import Flask, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from ltxmock.server.core.channel import (
    HARD_LIMIT_FACTOR,
    WS_PATHS,
    SocketClosedError,
    WebSocketHub,
)

if TYPE_CHECKING:
    from simple_websocket import Server

HUB_EXTENSION = "ltxmock_ws"
# How long a closing socket waits for the peer's close frame before it is shut
# down (which is what ends simple-websocket's reader thread on a dead peer).
CLOSE_GRACE = 1.0


def register_websocket(app: Flask, hub: WebSocketHub) -> None:
    """Serve the WebSocket API on ``/v1`` and ``/v1/`` of a ``create_app`` app."""
    app.extensions[HUB_EXTENSION] = hub
    options = app.config.setdefault("SOCK_SERVER_OPTIONS", {})
    options.setdefault("max_message_size", hub.config.ws_max_message_bytes * HARD_LIMIT_FACTOR)
    sock = Sock(app)

    def websocket_api(ws: Server) -> None:
        adapter = SimpleSocket(ws, send_timeout=hub.config.ws_send_timeout)
        hub.serve(
            adapter,
            base_url=request.host_url.rstrip("/"),
            path=request.path,
            headers=tuple((name.lower(), value) for name, value in request.headers.items()),
        )

    for path in WS_PATHS:
        # Two rules, not strict_slashes=False: a WebSocket client cannot follow
        # the redirect Werkzeug would answer the other spelling with.
        sock.route(path, endpoint=f"ltxmock_ws{path.replace('/', '_')}")(websocket_api)


class SimpleSocket:
    """flask-sock's (simple-websocket's) connection as a ``Socket``."""

    def __init__(self, ws: Server, *, send_timeout: float) -> None:
        self.ws = ws
        _limit_send_time(ws, send_timeout)

    @property
    def connected(self) -> bool:
        return bool(self.ws.connected)

    def send(self, frame: str) -> None:
        try:
            self.ws.send(frame)
        except (ConnectionClosed, OSError) as exc:
            raise SocketClosedError(repr(exc)) from exc

    def receive(self, timeout: float) -> str | bytes | None:
        try:
            message: str | bytes | None = self.ws.receive(timeout=timeout)
        except (ConnectionClosed, OSError) as exc:
            raise SocketClosedError(repr(exc)) from exc
        return message

    def close(self, code: int = 1000, reason: str = "") -> None:
        _quietly(self.ws.close, code, reason)

    def finish(self) -> None:
        reader: threading.Thread | None = getattr(self.ws, "thread", None)
        if reader is not None:
            reader.join(CLOSE_GRACE)  # normally quick: the peer answers the close
        # Then always shut the socket down: it ends the reader thread if the peer
        # never answered, sends our FIN (the server closes TCP first), and lets
        # the Werkzeug dev server's drain of unread request bytes see EOF
        # instead of blocking on bytes a too-big message left behind.
        _quietly(self.ws.sock.shutdown, socket.SHUT_RDWR)
        if reader is not None:
            reader.join(CLOSE_GRACE)


def _limit_send_time(ws: Server, seconds: float) -> None:
    """Make a send to a peer that stopped reading fail after ``seconds``.

    SO_SNDTIMEO bounds sends only: the reader thread's blocking ``recv`` on
    the same socket is unaffected (a Python-level timeout would end it).
    """
    sock = getattr(ws, "sock", None)
    if not isinstance(sock, socket.socket) or seconds <= 0:
        return
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    _quietly(sock.setsockopt, socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def _quietly(action: Any, *args: Any) -> None:
    with contextlib.suppress(ConnectionClosed, OSError):
        action(*args)
