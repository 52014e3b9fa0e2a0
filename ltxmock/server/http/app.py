"""``create_app``: the Flask application factory, and the one place a store is chosen.

The app carries everything of the mock but ``ltxmock serve``'s runtime:
``POST /v1`` (``rest``), the WebSocket (``websocket``), the admin API
(``admin``, behind ``admin_guard``), the dashboard page (``ui``) and the
result files (``downloads``). The ``MockService`` and its WebSocket hub are in
``app.extensions`` (``service_of``, ``hub_of``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from ltxmock.server.core.channel import WebSocketHub
from ltxmock.server.core.config import MockConfig
from ltxmock.server.core.errors import http_error
from ltxmock.server.core.ports import Store
from ltxmock.server.core.reply import Reply
from ltxmock.server.core.service import MockService
from ltxmock.server.store import open_store

from .admin import admin
from .admin_guard import guard_admin
from .downloads import downloads
from .replay_media import replay_media
from .responses import SERVICE_EXTENSION, current_service, json_response
from .rest import rest
from .ui import ui
from .websocket import HUB_EXTENSION, register_websocket

log = logging.getLogger("ltxmock.server")


def build_store(config: MockConfig) -> Store:
    """The store a mock with ``config`` uses: in memory without a data dir, else
    SQLite files there, one per process, shared by every worker."""
    return open_store(config)


def create_service(config: MockConfig) -> MockService:
    """The protocol core on the store ``config`` asks for (no HTTP at all)."""
    return MockService(config, store=build_store(config))


def create_app(config: MockConfig | None = None, **overrides: Any) -> Flask:
    """A mock server app. ``overrides`` are MockConfig fields (``latency=0``, ...).

    The ``MockService`` (state, faults, journal) is ``app.extensions["ltxmock"]``.
    """
    # With no config (a WSGI server importing 'ltxmock.server:create_app()'), the
    # environment decides: LTXMOCK_DATA_DIR lets several workers share one store.
    config = config or MockConfig.from_env()
    if overrides:
        config = config.replace(**overrides)
    app = Flask("ltxmock.server")
    app.config["LTXMOCK"] = config
    service = create_service(config)
    app.extensions[SERVICE_EXTENSION] = service
    app.register_blueprint(rest)
    app.before_request(guard_admin)  # /__ltxmock/*, before routing: admin_guard.py
    app.register_blueprint(admin)
    app.register_blueprint(ui)  # the dashboard page at /__ltxmock/ui: ui.py
    app.register_blueprint(downloads)  # the videoURLs: /video/os/<6 hex>/ws/2/vi/<uuid>.<ext>
    if config.replay_dir is not None:
        app.register_blueprint(replay_media)  # /replay/media/<file>: recorded videos
    register_websocket(app, WebSocketHub(service))  # ws://HOST:PORT/v1, same port as REST
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
    return app


def service_of(app: Flask) -> MockService:
    service: MockService = app.extensions[SERVICE_EXTENSION]
    return service


def hub_of(app: Flask) -> WebSocketHub:
    hub: WebSocketHub = app.extensions[HUB_EXTENSION]
    return hub


def _http_exception(error: HTTPException) -> Response:
    # Routing failures (404, 405, ...) answer in the API's JSON shape, never HTML.
    status = error.code or 500
    reply = Reply.envelope([], [http_error(status, error.description or error.name)], status=status)
    headers = {}
    allowed = getattr(error, "valid_methods", None)
    if status == 405 and allowed:
        headers["Allow"] = ", ".join(sorted(allowed))
    _journal(reply)
    return json_response(status, reply.payload, headers)


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path, exc_info=error)
    reply = Reply.internal_error()
    _journal(reply)
    return json_response(500, reply.payload)


def _journal(reply: Reply) -> None:
    if request.path.startswith("/__ltxmock"):
        return  # the admin API is not part of the conversation under test
    service = current_service()
    service.record(
        at=service.now(),
        transport="rest",
        method=request.method,
        path=request.path,
        body=None,
        reply=reply,
        headers=[(name.lower(), value) for name, value in request.headers.items()],
    )
