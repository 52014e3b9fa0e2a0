"""A ``requests`` transport adapter answering from the mock's WSGI app (no socket)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from .routing import Route

if TYPE_CHECKING:
    from flask import Flask


class MockAdapter(BaseAdapter):
    """``session.mount("https://api.runware.ai/", MockAdapter(app, route))``."""

    def __init__(self, app: Flask, route: Route) -> None:
        super().__init__()
        self.route = route
        self._app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        path = self.route.path_for(url)
        if path is None:
            raise requests.ConnectionError(
                f"{url} is not the mock (routed: {self.route.origin})", request=request
            )
        body: Any = request.body
        if hasattr(body, "read"):
            body = body.read()
        with self._app.test_client() as client:
            answer = client.open(
                path,
                method=request.method or "GET",
                headers=dict(request.headers),
                data=body.encode() if isinstance(body, str) else body,
                base_url=self.route.origin,
            )
            data = answer.get_data()
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.status.partition(" ")[2]
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response.raw = io.BytesIO(data)
        response.url = url
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def close(self) -> None:
        """Nothing to release: no connection was ever opened."""
