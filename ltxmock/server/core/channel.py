"""The WebSocket API at ``/v1``: one ``Channel`` per connection, over any ``Socket``.

Protocol: the client sends JSON arrays of tasks (a lone task object is
tolerated), the server answers with ``{"data": [...]}`` or ``{"errors": [...]}``
objects. ``authentication`` and ``ping`` are answered here, before and after
authentication alike; every other task goes to :meth:`MockService.handle` with
``transport="ws"``, so acks, polls and validation errors have exactly the REST
shapes. One frame in gives at most three frames out, in this order: the
authentication reply, the pongs, the service's reply; a frame of more tasks than
``max_tasks_per_request`` (pings and the authentication's followers included) gets
one ``tooManyTasks`` error frame, as over REST.

A ``Channel`` runs on a thread of its own and talks to a ``Socket``, one thin
adapter per server: under ``ltxmock serve`` and the test kit (ASGI) a bridge to
the event loop (``serve/loop_socket.py``); under a WSGI server running
``create_app``, flask-sock's socket (``http/websocket.py``). Both must end when
the client goes away, including clients that never close their socket (the
legacy Python SDK opens new ones without closing the old): the idle timeout
closes a quiet socket, and a send times out instead of blocking on a peer that
stopped reading.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

from . import jsontext
from .auth import AUTHENTICATION, authenticate
from .decoding import decode_json
from .errors import (
    CONNECT_DOCS,
    ApiError,
    ErrorItem,
    error_item,
    internal_server_error,
    payload_too_large,
)
from .limits import too_many_tasks
from .reply import Reply
from .request import ApiRequest
from .service import PING, MockService, pong
from .sessions import Session, SessionStore

__all__ = [
    "HARD_LIMIT_FACTOR",
    "WS_PATHS",
    "Channel",
    "Socket",
    "SocketClosedError",
    "WebSocketHub",
]

log = logging.getLogger("ltxmock.server.ws")

WS_PATHS = ("/v1", "/v1/")
# A message above ws_max_message_bytes gets an error frame and the socket stays
# open. Only one this many times larger is cut off by the library (close code
# 1009), so that a runaway client cannot make the server buffer without bound.
HARD_LIMIT_FACTOR = 16
RECEIVE_SLICE = 1.0  # seconds; see Channel._messages
JOURNAL_TEXT_LIMIT = 64 * 1024  # of a refused frame's text

JsonObject = dict[str, Any]


class SocketClosedError(Exception):
    """The peer went away, or the socket was closed: nothing more can be sent or received."""


class Socket(Protocol):
    """What a ``Channel`` needs of a WebSocket connection (blocking calls, one thread)."""

    @property
    def connected(self) -> bool: ...

    def send(self, frame: str) -> None:
        """Send one text frame; raises ``SocketClosedError`` (also when the send timed out)."""

    def receive(self, timeout: float) -> str | bytes | None:
        """The next message, None after ``timeout`` seconds; raises ``SocketClosedError``."""

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (never raises)."""

    def finish(self) -> None:
        """After the channel ends: release what the connection holds (never raises)."""


class WebSocketHub:
    """The WebSocket side of one app: the service, the sessions, the open sockets."""

    def __init__(self, service: MockService) -> None:
        self.service = service
        self.config = service.config
        self.sessions = SessionStore(resume_window=self.config.ws_resume_window)
        self._open: set[Channel] = set()
        self._lock = threading.Lock()

    @property
    def open_sockets(self) -> int:
        """Sockets whose serving thread has not finished (for tests and the bench)."""
        with self._lock:
            return len(self._open)

    def serve(
        self,
        sock: Socket,
        *,
        base_url: str,
        path: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Serve one connection until it ends (on the calling thread). ``headers``:
        the upgrade request's, names in lower case (journaled with each frame)."""
        channel = Channel(self, sock, base_url=base_url, path=path, headers=headers)
        with self._lock:
            self._open.add(channel)
        try:
            channel.run()
        finally:
            with self._lock:
                self._open.discard(channel)


class Channel:
    """One WebSocket connection: its authentication, its session, its send lock."""

    def __init__(
        self,
        hub: WebSocketHub,
        sock: Socket,
        *,
        base_url: str,
        path: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.hub = hub
        self.sock = sock
        self.base_url = base_url
        self.path = path
        self.headers = headers
        self.api_key: str | None = None
        self.session: Session | None = None
        self.alive = True
        self._send_lock = threading.Lock()

    # -- sending ---------------------------------------------------------------
    def send(self, frame: str) -> bool:
        """Send one frame; False if this socket is gone (the ``Outlet`` protocol)."""
        with self._send_lock:
            if not self.alive:
                return False
            try:
                self.sock.send(frame)
            except SocketClosedError as exc:
                # A send that timed out may have written part of a frame: the
                # stream is unusable from here on either way.
                log.debug("websocket send failed: %r", exc)
                self.alive = False
                return False
            return True

    def reply(self, payload: JsonObject) -> None:
        """Send ``payload``; if the socket is gone, keep it for the session's resume."""
        frame = jsontext.dumps(payload)
        if not self.send(frame) and self.session is not None:
            self.hub.sessions.deliver(self.session, frame, failed=self)

    # -- the connection's life -------------------------------------------------
    def run(self) -> None:
        try:
            for message in self._messages(self.hub.config.ws_idle_timeout):
                try:
                    self.handle(message)
                except Exception:  # one bad frame must not end the connection
                    log.exception("websocket frame failed")
                    self.reply({"errors": [internal_server_error()]})
        except SocketClosedError:
            pass
        finally:
            self.alive = False
            if self.session is not None:
                self.hub.sessions.detach(self.session, self)
            self._close()

    def _messages(self, idle: float) -> Iterator[str | bytes]:
        deadline = time.monotonic() + idle
        while self.alive:
            # Short waits: a socket library can wake a receiver before it marks
            # the socket closed (a too-big message), leaving it asleep for the
            # whole timeout; the next short wait sees the close.
            wait = min(RECEIVE_SLICE, max(0.0, deadline - time.monotonic()))
            message = self.sock.receive(timeout=wait)
            if message is not None:
                deadline = time.monotonic() + idle
                yield message
            elif time.monotonic() >= deadline:
                log.debug("closing a websocket idle for %g s", idle)
                with self._send_lock:
                    self.alive = False
                    self.sock.close(1000, f"idle for {idle:g} s")
                return

    def _close(self) -> None:
        with self._send_lock:
            if self.sock.connected:
                self.sock.close()
        self.sock.finish()

    # -- one frame -------------------------------------------------------------
    def handle(self, message: str | bytes) -> None:
        body = self._decode(message)
        if body is None:
            return
        tasks: list[Any] = [body] if isinstance(body, dict) else body
        # The task cap holds for pings and unauthenticated frames too: each ping is
        # answered here, before the service would count it, with a pong of its own.
        too_many = too_many_tasks(tasks, self.hub.config.max_tasks_per_request)
        if too_many is not None:
            self._refuse(tasks, too_many)
            return
        auth = [t for t in tasks if _task_type(t) == AUTHENTICATION]
        pings = [t for t in tasks if _task_type(t) == PING]
        rest = [t for t in tasks if _task_type(t) not in (AUTHENTICATION, PING)]
        if auth:
            self._authenticate(auth[0])
        if pings:
            self.reply({"data": [pong(t) for t in pings]})
        if rest:
            self._forward(rest)

    def _decode(self, message: str | bytes) -> list[Any] | JsonObject | None:
        """The frame's tasks, or None once the frame has been answered."""
        limit = self.hub.config.ws_max_message_bytes
        raw = message if isinstance(message, bytes) else message.encode()
        body: Any = None
        try:
            body = decode_json(message)
        except ApiError as error:
            if len(raw) <= limit:
                self._refuse(raw, error)
                return None
        if len(raw) > limit:
            # Parsed all the same (the library caps the size), to tell each task's waiter.
            too_large = payload_too_large(limit)
            self._refuse(raw, ApiError(too_large.status, _per_task(too_large.errors[0], body)))
            return None
        if isinstance(body, dict) or (isinstance(body, list) and body):
            return body
        self._forward(body)  # not a task array: the service gives the validator's 400
        return None

    def _refuse(self, request_body: Any, error: ApiError) -> None:
        """Answer what the protocol never ran, and journal it as REST does."""
        if isinstance(request_body, bytes):
            request_body = request_body[:JOURNAL_TEXT_LIMIT].decode("utf-8", errors="replace")
        request = ApiRequest(
            request_body, transport="ws", path=self.path, refusal=error, headers=self.headers
        )
        self.reply(self.hub.service.handle(request).payload)

    def _authenticate(self, task: JsonObject) -> None:
        given = task.get("apiKey")
        key = authenticate(
            None, given if isinstance(given, str) else None, self.hub.config.api_keys
        )
        if isinstance(key, ApiError):
            # A failed re-authentication also ends the earlier one.
            self.api_key = None
            self.reply(Reply.from_error(key).payload)
            return
        if self.session is not None:
            self.hub.sessions.detach(self.session, self)
        requested = task.get("connectionSessionUUID")
        self.session, resumed = self.hub.sessions.attach(
            key, self, requested if isinstance(requested, str) else None
        )
        self.api_key = key
        # No taskUUID: the JS SDK matches this item on (taskUUID || taskType).
        self.reply(
            {"data": [{"taskType": AUTHENTICATION, "connectionSessionUUID": self.session.uuid}]}
        )
        if resumed:
            self.hub.sessions.flush(self.session)

    def _forward(self, body: Any) -> None:
        if self.api_key is None and isinstance(body, list) and body:
            self._refuse(body, ApiError(401, [_authenticate_first(t) for t in body]))
            return
        request = ApiRequest(
            body,
            api_key=self.api_key,
            transport="ws",
            base_url=self.base_url,
            path=self.path,
            headers=self.headers,
        )
        self.reply(self.hub.service.handle(request).payload)


# -- frames ----------------------------------------------------------------------


def _task_type(task: Any) -> str | None:
    value = task.get("taskType") if isinstance(task, dict) else None
    return value if isinstance(value, str) else None


def _task_uuid(task: Any) -> str | None:
    value = task.get("taskUUID") if isinstance(task, dict) else None
    return value if isinstance(value, str) else None


def _authenticate_first(task: Any) -> ErrorItem:
    # missingApiKey: the legacy SDK takes that code for a connection problem
    # and re-authenticates, which is the right reaction.
    return error_item(
        "missingApiKey",
        "This connection is not authenticated. Send "
        '[{"taskType": "authentication", "apiKey": "<your key>"}] first, '
        "wait for the reply with a connectionSessionUUID, then send tasks.",
        parameter="apiKey",
        documentation=CONNECT_DOCS,
        task_uuid=_task_uuid(task),
        task_type=_task_type(task),
    )


def _per_task(error: ErrorItem, body: Any) -> list[ErrorItem]:
    """``error`` once per task of ``body`` with a taskUUID, so each waiter hears of it."""
    tasks = body if isinstance(body, list) else [body]
    items: list[ErrorItem] = []
    for task in tasks:
        if (task_uuid := _task_uuid(task)) is not None:
            item = {**error, "taskUUID": task_uuid}
            if (task_type := _task_type(task)) is not None:
                item["taskType"] = task_type
            items.append(item)
    return items or [error]
