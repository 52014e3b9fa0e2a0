"""``create_app``: the Flask application factory of the mock server."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from .admin import admin
from .config import MockConfig
from .errors import http_error, internal_server_error
from .media import media
from .rest import current_service, json_response, rest
from .service import MockService, Reply
from .ws import register_websocket

log = logging.getLogger("ltxmock.server")


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
    app.extensions["ltxmock"] = MockService(config)
    app.register_blueprint(rest)
    app.register_blueprint(admin)
    app.register_blueprint(media)  # the videoURLs: /video/os/<6 hex>/ws/2/vi/<uuid>.<ext>
    register_websocket(app)  # ws://HOST:PORT/v1, same port as REST
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
    return app


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
    reply = Reply.envelope([], [internal_server_error()], status=500)
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
    )
