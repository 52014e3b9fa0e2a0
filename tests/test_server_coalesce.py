"""CoalescingTransport: what one turn of the event loop writes leaves as one write.

``ltxmock serve`` sends every HTTP response through it (status line and
headers, then the body, in one ``send``); nothing may be lost, reordered or
held past the turn, and a close must still send everything written before it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ltxmock.server.coalesce import CoalescingTransport


class RecordingTransport:
    """The parts of an asyncio transport CoalescingTransport uses, recorded."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.extra = {"peername": ("127.0.0.1", 5000)}

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)


def in_a_loop(body: Any) -> RecordingTransport:
    """Run ``body(transport)`` on a fresh loop, then let the loop turn twice."""
    inner = RecordingTransport()

    async def run() -> None:
        body(CoalescingTransport(inner, asyncio.get_running_loop()))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(run())
    return inner


chunks = st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=8)


@given(chunks)
def test_the_writes_of_one_turn_leave_as_one_write_in_order(pieces: list[bytes]) -> None:
    def write_all(transport: CoalescingTransport) -> None:
        for piece in pieces:
            transport.write(piece)
        assert transport.get_write_buffer_size() == sum(map(len, pieces))  # held, counted

    inner = in_a_loop(write_all)
    assert inner.writes == [b"".join(pieces)]


@given(chunks)
def test_closing_sends_what_was_written_first(pieces: list[bytes]) -> None:
    def write_then_close(transport: CoalescingTransport) -> None:
        transport.writelines(pieces)
        transport.close()

    inner = in_a_loop(write_then_close)
    assert inner.writes == [b"".join(pieces)]
    assert inner.closed


def test_an_abort_drops_what_is_held_and_nothing_is_written_later() -> None:
    def write_then_abort(transport: CoalescingTransport) -> None:
        transport.write(b"never sent")
        transport.abort()

    inner = in_a_loop(write_then_abort)
    assert inner.writes == []
    assert inner.aborted


def test_a_buffer_the_caller_reuses_is_copied_when_written() -> None:
    def write_and_reuse(transport: CoalescingTransport) -> None:
        buffer = bytearray(b"first")
        transport.write(buffer)
        buffer[:] = b"later"

    assert in_a_loop(write_and_reuse).writes == [b"first"]


def test_everything_else_is_the_wrapped_transports() -> None:
    def ask(transport: CoalescingTransport) -> None:
        assert transport.get_extra_info("peername") == ("127.0.0.1", 5000)
        assert not transport.is_closing()

    in_a_loop(ask)
