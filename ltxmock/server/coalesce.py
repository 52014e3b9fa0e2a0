"""uvicorn's httptools protocol, with each HTTP response leaving in one socket write.

uvicorn writes a response's status line and headers, then its body, as two
``transport.write`` calls: two ``send`` syscalls and two TCP segments (uvloop
sets TCP_NODELAY). On loopback a send is the most expensive call of a small
request, since the kernel runs the receiving side inside it. Under the submit
load of bench/server.py the two writes took about a third of a worker's time.
``CoalescingTransport`` holds what one turn of the event loop writes and sends
it as one piece at the start of the next turn: header and body, which uvicorn
writes in the same turn, leave together. Nothing waits longer than that turn.

A WebSocket upgrade gets the real transport back: frames go out as the
websockets library writes them, and its flow control sees every byte.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport proxy joining the writes of one loop turn into one ``write``.

    Everything but writing and closing is the wrapped transport's own.
    """

    __slots__ = ("_loop", "_pending", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Hand what is held to the transport now (a no-op when nothing is)."""
        pending, self._pending = self._pending, None
        if pending and not self.transport.is_closing():
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()  # close() sends what the transport buffered, so give it everything first
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def abort(self) -> None:
        self._pending = None
        self.transport.abort()

    def get_write_buffer_size(self) -> int:
        held = sum(map(len, self._pending)) if self._pending else 0
        return held + self.transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` writing through a ``CoalescingTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, CoalescingTransport(transport, self.loop)))

    def handle_websocket_upgrade(self) -> None:
        held = cast(CoalescingTransport, self.transport)
        held.flush()
        self.transport = held.transport
        super().handle_websocket_upgrade()
