"""In-process transports: your own client talks to the mock with no socket at all.

    import httpx, requests
    from ltxmock.testing import MockServer
    from ltxmock.transports import httpx_transport, mount_requests

    mock = MockServer(latency=0)                 # no need to start() it
    client = httpx.Client(transport=httpx_transport(mock))
    client.post("https://api.runware.ai/v1", json=[...])

    session = requests.Session()
    mount_requests(session, mock)                # https://api.runware.ai/ -> the mock
    session.post("https://api.runware.ai/v1", json=[...])

Requests to the base URL (``https://api.runware.ai/v1`` unless given) reach
``POST /v1`` of the mock's app; anything else on the same origin (the
``videoURL`` downloads, ``/__ltxmock/...``) reaches the app at its own path.
The httpx transports refuse any other origin with ``httpx.ConnectError``:
nothing leaves the process. httpx and requests are optional
(``pip install 'ltxmock[clients]'``); each is imported when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .routing import RUNWARE_URL, Route

if TYPE_CHECKING:
    import httpx
    import requests

    from ltxmock.testing import MockServer

__all__ = [
    "RUNWARE_URL",
    "Route",
    "httpx_async_transport",
    "httpx_transport",
    "mount_requests",
    "requests_adapter",
]


def httpx_transport(mock: MockServer, base_url: str = RUNWARE_URL) -> httpx.BaseTransport:
    """For ``httpx.Client(transport=...)``: the mock's WSGI app, in this thread."""
    from .for_httpx import MockTransport

    return MockTransport(mock.app, Route(base_url))


def httpx_async_transport(
    mock: MockServer, base_url: str = RUNWARE_URL
) -> httpx.AsyncBaseTransport:
    """For ``httpx.AsyncClient(transport=...)``: the mock's ASGI app, on your event loop."""
    from .for_httpx import AsyncMockTransport

    return AsyncMockTransport(mock.asgi, Route(base_url))


def requests_adapter(
    mock: MockServer, base_url: str = RUNWARE_URL
) -> requests.adapters.BaseAdapter:
    """A ``requests`` transport adapter answering from the mock's WSGI app."""
    from .for_requests import MockAdapter

    return MockAdapter(mock.app, Route(base_url))


def mount_requests(
    session: requests.Session, mock: MockServer, base_url: str = RUNWARE_URL
) -> requests.adapters.BaseAdapter:
    """Mount ``requests_adapter`` on ``session`` for the base URL's origin."""
    adapter = requests_adapter(mock, base_url)
    session.mount(Route(base_url).origin + "/", adapter)
    return adapter
