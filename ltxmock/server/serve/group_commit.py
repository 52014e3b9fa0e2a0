"""Group commit: the ``POST /v1`` requests ready in one turn of the event loop
are answered by one ``service.handle_batch``, so they share one store commit."""

from __future__ import annotations

import asyncio

from ltxmock.server.core.reply import Reply
from ltxmock.server.core.request import ApiRequest
from ltxmock.server.core.service import MockService


class GroupCommit:
    """Gather requests until the end of this turn of the loop, then answer them together.

    The first request to arrive schedules a flush with ``call_soon``: by the
    time it runs, every other request that was ready in the same turn has
    queued too. Nothing waits longer than that turn.
    """

    def __init__(self, service: MockService) -> None:
        self.service = service
        self._queue: list[tuple[ApiRequest, asyncio.Future[Reply]]] = []
        self._scheduled = False

    async def submit(self, request: ApiRequest) -> Reply:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._queue.append((request, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

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
