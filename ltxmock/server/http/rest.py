"""``POST /v1`` under a WSGI server: read the body, ``parse_request``, ``service.handle``.

``ltxmock serve`` and the test kit answer it in the ASGI app instead
(``serve/asgi.py``), with the same parser and the same service call.

Of the transport faults, a WSGI server can only carry out a delay: WSGI has
no way to reset a connection or cut an answer short without the server
answering 500. Reset, truncate and hang are answered normally here, with a
warning in the log (they need ``ltxmock serve`` or the test kit).
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from flask import Blueprint, Response, request

from ltxmock.server.core.faults import DELAY

from .request import host_url, parse_request
from .responses import current_service, json_response

DRAIN_LIMIT = 64 * 1024 * 1024  # read (and drop) at most this much of a refused body
_PAUSES = random.Random()  # not the global generator a user's test run watches
log = logging.getLogger("ltxmock.server")

rest = Blueprint("ltxmock_rest", __name__)


@rest.post("/v1", provide_automatic_options=False)
@rest.post("/v1/", provide_automatic_options=False)
def inference() -> Response:
    service = current_service()
    limit = service.config.max_body_bytes
    headers = {name.lower(): value for name, value in request.headers.items()}
    parsed = parse_request(
        path=request.path,
        headers=headers,
        body=_read_body(limit),
        limit=limit,
        base_url=host_url(request.scheme, request.host),
    )
    reply = service.handle(parsed)
    fault = reply.transport
    if fault is not None and fault.code == DELAY:
        time.sleep(fault.pause(_PAUSES))
    elif fault is not None:
        log.warning(
            "transport fault %r needs ltxmock serve or the test kit (ASGI); answered normally",
            fault.code,
        )
    return json_response(reply.status, reply.payload, dict(reply.headers) or None)


def _read_body(limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the body; a refused body is drained (bounded),
    so that the connection stays usable for the 413."""
    stream = request.stream
    declared = request.content_length
    if declared is not None and declared > limit:
        _drain(stream, declared)
        return b""
    raw: bytes = stream.read(limit + 1)  # chunked bodies declare no length
    if len(raw) > limit:
        _drain(stream, DRAIN_LIMIT)
    return raw


def _drain(stream: Any, size: int) -> None:
    if size > DRAIN_LIMIT:
        return
    remaining = size
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            break
        remaining -= len(chunk)
