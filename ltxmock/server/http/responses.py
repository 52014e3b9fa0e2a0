"""JSON responses and the request's service, for the Flask side of the mock."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app

from ltxmock.server.core import jsontext
from ltxmock.server.core.service import MockService

from .request import JSON_TYPE

SERVICE_EXTENSION = "ltxmock"


def current_service() -> MockService:
    service: MockService = current_app.extensions[SERVICE_EXTENSION]
    return service


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """Every answer of the mock is ``application/json``, never an HTML page."""
    return Response(
        jsontext.dumps_bytes(payload), status=status, mimetype=JSON_TYPE, headers=headers
    )
