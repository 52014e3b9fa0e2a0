"""``POST /v1`` answered from the connection's protocol, without uvicorn's request cycle.

The guard (``guard.py``) reads every byte of a connection with its own parser.
A whole, plain ``POST /v1`` of at most 64 KiB (no proxy's forwarded headers, no
``Expect``; its reads kept until it is whole) goes here instead of to uvicorn,
and the guard writes the answer itself: one write of head and body, no ASGI
task, scope or messages per request. That is most of what a submit costs
outside the store (``bench/README.md``). Anything else (a larger body, a
request behind another in the same read, the admin API, downloads, WebSocket
upgrades) goes to uvicorn and ``AsgiMock``, from then on for the whole
connection.

Both ways read the request with ``http.request.parse_request``, answer it through
one ``GroupCommit`` and render the answer with ``response_parts``: one handler,
two ways in.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

from ltxmock.server.core import jsontext
from ltxmock.server.core.config import MockConfig
from ltxmock.server.core.faults import DELAY, HANG, RESET, TRUNCATE, Fault
from ltxmock.server.core.reply import Reply
from ltxmock.server.http.request import REST_PATHS, host_url, parse_request

from .group_commit import GroupCommit

log = logging.getLogger("ltxmock.server")

JSON_HEADER = (b"content-type", b"application/json")
# Delays of injected faults: our own generator, not the global one a user's
# test run (Hypothesis) watches.
PAUSES = random.Random()
_PATHS = frozenset(path.encode() for path in REST_PATHS)
# Requests with these go the long way: uvicorn reads a trusted proxy's forwarded
# scheme and client; it answers ``Expect: 100-continue``.
_LONG_WAY = frozenset((b"x-forwarded-for", b"x-forwarded-proto", b"forwarded", b"expect"))


def response_parts(reply: Reply) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The status, headers and body of the HTTP answer to ``reply``."""
    body = jsontext.dumps_bytes(reply.payload)
    extra = [(n.lower().encode(), v.encode("latin-1")) for n, v in reply.headers]
    return reply.status, [JSON_HEADER, (b"content-length", str(len(body)).encode()), *extra], body


@dataclass(frozen=True)
class LaneAnswer:
    """What the connection does with an answered request: after ``delay`` seconds,
    ``action`` (``send``; ``reset`` instead; ``truncate``: the first ``cut`` bytes,
    then a reset; ``hang``: a reset at the end of the delay, nothing sent)."""

    data: bytes
    action: str = "send"
    delay: float = 0.0
    cut: int = 0


_date: tuple[int, bytes] = (0, b"")


def date_header() -> bytes:
    """The ``date`` header line (an origin server with a clock sends one), made once
    a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, f"date: {formatdate(now, usegmt=True)}\r\n".encode("latin-1"))
    return _date[1]


def http_response(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, dated: bool = False
) -> bytes:
    """A whole HTTP/1.1 response as it goes on the wire."""
    head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode("latin-1")
    lines = b"".join(b"%s: %s\r\n" % pair for pair in headers)
    return head + (date_header() if dated else b"") + lines + b"\r\n" + body


def lane_answer(reply: Reply) -> LaneAnswer:
    status, headers, body = response_parts(reply)
    data = http_response(status, headers, body, dated=True)
    fault: Fault | None = reply.transport
    if fault is None:
        return LaneAnswer(data)
    if fault.code == RESET:
        return LaneAnswer(data, action="reset")
    if fault.code == TRUNCATE:
        return LaneAnswer(data, action="truncate", cut=len(data) - len(body) + len(body) // 2)
    if fault.code == HANG:
        return LaneAnswer(data, action="hang", delay=fault.pause(PAUSES))
    if fault.code == DELAY:
        return LaneAnswer(data, delay=fault.pause(PAUSES))
    return LaneAnswer(data)


class RestLane:
    """Takes a whole ``POST /v1`` from a guard and calls ``respond`` with its answer."""

    def __init__(self, commits: GroupCommit, config: MockConfig) -> None:
        self._commits = commits
        self._limit = config.max_body_bytes

    @staticmethod
    def wants(url: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether a request to ``url`` with these headers is one the lane answers."""
        return url.partition(b"?")[0] in _PATHS and not any(
            name.lower() in _LONG_WAY for name, _ in headers
        )

    def take(
        self,
        url: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        respond: Callable[[LaneAnswer], None],
    ) -> bool:
        """Answer this request (True: ``respond`` is called later, on the loop), or
        leave it to uvicorn (False). ``headers``: as they came, names in any case."""
        if not self.wants(url, headers):
            return False
        path = url.partition(b"?")[0]
        named = {name.lower(): value for name, value in headers}
        text = {name.decode("latin-1"): value.decode("latin-1") for name, value in named.items()}
        request = parse_request(
            path=path.decode("latin-1"),
            headers=text,
            body=body[: self._limit + 1],
            limit=self._limit,
            base_url=host_url("http", text.get("host") or "127.0.0.1"),
        )
        future = self._commits.enqueue(request)
        future.add_done_callback(lambda done: respond(_answer_of(done)))
        return True


def _answer_of(done: asyncio.Future[Reply]) -> LaneAnswer:
    try:
        return lane_answer(done.result())
    except Exception:  # a bug: answer as the real API would, never a traceback
        log.exception("unexpected error on POST /v1")
        return lane_answer(Reply.internal_error())
