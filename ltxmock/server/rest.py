"""``POST /v1``: the REST transport. HTTP in, ``MockService.handle``, HTTP out.

Everything HTTP-specific lives here: the body size limit (413), the content
type and JSON decoding (400), the Bearer header, the fault header, and the
mapping of a ``Reply`` to a response. Every answer is ``application/json``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request

from .auth import bearer_token
from .errors import ApiError, error_item, invalid_json, payload_too_large, unsupported_content_type
from .faults import FAULT_HEADER, Fault
from .service import MockService, Reply

MAX_NESTING = 64  # real task bodies nest about 5 deep; deeper is an attack or a bug
DRAIN_LIMIT = 64 * 1024 * 1024  # read (and drop) at most this much of a refused body

rest = Blueprint("ltxmock_rest", __name__)


def current_service() -> MockService:
    service: MockService = current_app.extensions["ltxmock"]
    return service


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, mimetype="application/json", headers=headers)


def reply_response(reply: Reply) -> Response:
    return json_response(reply.status, reply.payload)


@rest.post("/v1", provide_automatic_options=False)
@rest.post("/v1/", provide_automatic_options=False)
def inference() -> Response:
    service = current_service()
    raw = b""
    try:
        raw = _read_body(service.config.max_body_bytes)
        body = decode_json(raw)
        fault = _fault_header()
    except ApiError as error:
        # Refused before the protocol ran: journal it here, with the raw text.
        reply = Reply.from_error(error)
        text = raw.decode("utf-8", errors="replace")
        service.record(
            at=service.now(), transport="rest", path=request.path, body=text, reply=reply
        )
        return reply_response(reply)
    reply = service.handle(
        body,
        api_key=bearer_token(request.headers.get("Authorization")),
        transport="rest",
        base_url=request.host_url.rstrip("/"),
        fault=fault,
        path=request.path,
    )
    return reply_response(reply)


def _read_body(limit: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > limit:
        _drain(declared)
        raise payload_too_large(limit)
    if not _is_json(request.mimetype):
        raise unsupported_content_type(request.headers.get("Content-Type"))
    # Chunked bodies declare no length: read one byte past the limit to notice.
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        _drain(DRAIN_LIMIT, request.stream)
        raise payload_too_large(limit)
    return raw


def _drain(declared: int, stream: Any = None) -> None:
    """Read (and drop) a refused body, so the connection stays usable for the 413."""
    if declared > DRAIN_LIMIT:
        return
    stream = stream if stream is not None else request.environ.get("wsgi.input")
    remaining = declared
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            break
        remaining -= len(chunk)


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def decode_json(raw: bytes | str) -> Any:
    """Parse a request body strictly (UTF-8, no NaN/Infinity, bounded nesting).

    Raises ``ApiError`` (400 ``invalidJson``). Shared with the WebSocket endpoint.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise invalid_json(f"it is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise invalid_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except (ValueError, RecursionError) as exc:
        raise invalid_json(str(exc) or type(exc).__name__) from exc
    if _depth(value) > MAX_NESTING:
        raise invalid_json(f"it nests deeper than {MAX_NESTING} levels")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (a recursive walk could overflow on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level > MAX_NESTING:
                break
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def _fault_header() -> Fault | None:
    text = request.headers.get(FAULT_HEADER)
    if not text:
        return None
    try:
        return Fault.parse(text)
    except ValueError as exc:
        raise ApiError(400, [error_item("invalidFault", str(exc), parameter=FAULT_HEADER)]) from exc
