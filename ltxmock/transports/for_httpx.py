"""httpx transports routing the base URL to the mock's app in-process (no socket)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from .routing import Route

if TYPE_CHECKING:
    from flask import Flask

    from ltxmock.server.serve.asgi import AsgiMock


def _routed(request: httpx.Request, route: Route) -> httpx.Request:
    path = route.path_for(str(request.url))
    if path is None:
        raise httpx.ConnectError(
            f"{request.url.scheme}://{request.url.host} is not the mock "
            f"(routed: {route.origin}); the in-process transport sends nothing elsewhere",
            request=request,
        )
    request.url = request.url.copy_with(raw_path=path.encode("ascii"))
    return request


class MockTransport(httpx.BaseTransport):
    """``httpx.Client(transport=MockTransport(app, route))``."""

    def __init__(self, app: Flask, route: Route) -> None:
        self.route = route
        self._inner = httpx.WSGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(_routed(request, self.route))


class AsyncMockTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=AsyncMockTransport(asgi_app, route))``."""

    def __init__(self, app: AsgiMock, route: Route) -> None:
        self.route = route
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(_routed(request, self.route))
