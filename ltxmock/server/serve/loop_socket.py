"""``LoopSocket``: a WebSocket served by an asyncio loop, as the blocking ``Socket``
a ``Channel`` thread talks to."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ltxmock.server.core.channel import SocketClosedError

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

_CLOSED = object()  # the inbox's end-of-stream mark
# Messages read but not yet handled, per socket. When the inbox is full the loop stops
# reading this socket, so TCP pushes back on a peer that sends faster than its frames
# are handled (a flood of pings was read into memory without bound).
INBOX_MESSAGES = 16
ROOM_WAIT = 0.005  # seconds between looks for room in a full inbox


class LoopSocket:
    """The loop's receiving coroutine ``deliver``s messages into an inbox the
    channel thread reads; sends are scheduled on the loop and waited for, at
    most ``send_timeout`` seconds (a peer that stopped reading stalls them).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send, *, send_timeout: float) -> None:
        self._loop = loop
        self._send = send
        self._send_timeout = send_timeout if send_timeout > 0 else None
        self._inbox: queue.Queue[Any] = queue.Queue(maxsize=INBOX_MESSAGES)
        self._open = True
        self._peer_gone = False
        self._ended = False  # the reader saw the end of the inbox

    # Called on the loop.
    async def deliver(self, message: str | bytes) -> None:
        """Queue ``message`` for the channel; while the inbox is full, wait (and read
        nothing more from this socket)."""
        while True:
            try:
                self._inbox.put_nowait(message)
                return
            except queue.Full:
                if not self._open:
                    return  # the channel closed the socket: no one will read it
                await asyncio.sleep(ROOM_WAIT)

    def disconnected(self) -> None:
        self._open = False
        self._peer_gone = True
        with contextlib.suppress(queue.Full):  # then receive() sees _peer_gone
            self._inbox.put_nowait(_CLOSED)

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
            if self._peer_gone:
                self._ended = True
                raise SocketClosedError("the peer closed the socket") from None
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
