"""Group commit: the ``POST /v1`` requests that arrive within a few turns of the event
loop are answered by one ``service.handle_batch``, so they share one store commit."""

from __future__ import annotations

import asyncio

from ltxmock.server.core.reply import Reply
from ltxmock.server.core.request import ApiRequest
from ltxmock.server.core.service import MockService

# Turns of the loop the flush waits after the first request of a group. Each
# turn polls the sockets again, so a request whose bytes arrive meanwhile joins
# the group: under load, bigger groups share the commit and the store's fixed
# costs (bench/README.md has the figures). A lone request waits for these
# turns only: microseconds, with nothing else to run.
EXTRA_TURNS = 2


class GroupCommit:
    """Gather requests for ``extra_turns`` more turns of the loop, then answer them together.

    The first request to arrive schedules the flush with ``call_soon``, which
    reschedules itself ``extra_turns`` times: by the time it runs, every
    request that was ready in those turns has queued too.
    """

    def __init__(self, service: MockService, *, extra_turns: int = EXTRA_TURNS) -> None:
        if extra_turns < 0:
            raise ValueError(f"extra_turns must be 0 or more, got {extra_turns}")
        self.service = service
        self.extra_turns = extra_turns
        self._queue: list[tuple[ApiRequest, asyncio.Future[Reply]]] = []
        self._scheduled = False

    async def submit(self, request: ApiRequest) -> Reply:
        return await self.enqueue(request)

    def enqueue(self, request: ApiRequest) -> asyncio.Future[Reply]:
        """The future of ``request``'s reply (call on the loop)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._queue.append((request, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._wait, loop, self.extra_turns)
        return future

    def _wait(self, loop: asyncio.AbstractEventLoop, turns: int) -> None:
        if turns > 0:
            loop.call_soon(self._wait, loop, turns - 1)  # runs after the next poll
        else:
            self._flush()

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._queue = self._queue, []
        try:
            replies = self.service.handle_batch([request for request, _ in batch])
        except Exception as exc:  # a bug: every waiter hears of it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if not future.done():  # the client may have left: its tasks still run
                future.set_result(reply)
