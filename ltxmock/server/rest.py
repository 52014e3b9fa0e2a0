"""``POST /v1``: the REST transport. HTTP in, ``MockService.handle``, HTTP out.

Everything HTTP-specific lives here: the body size limit (413), the content
type and JSON decoding (400), the Bearer header, the fault header, and the
mapping of a ``Reply`` to a response. Every answer is ``application/json``.

``POST /v1`` is the hot path, so it is answered by a small WSGI layer in front
of Flask (installed on every app the blueprint is registered on, the test
client's included) that reads only what it needs from the environ: Flask's
request and app contexts, URL matching and response object cost more than the
protocol itself. The Flask view below answers identically (same function) and
stays for routing (405s, the WebSocket on ``GET /v1``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header
from werkzeug.urls import uri_to_iri
from werkzeug.wsgi import get_content_length, get_host, get_input_stream

from . import jsontext
from .auth import bearer_token
from .errors import ApiError, error_item, invalid_json, payload_too_large, unsupported_content_type
from .faults import FAULT_HEADER, Fault
from .service import Exchange, MockService, Reply

MAX_NESTING = 64  # real task bodies nest about 5 deep; deeper is an attack or a bug
DRAIN_LIMIT = 64 * 1024 * 1024  # read (and drop) at most this much of a refused body
REST_PATHS = ("/v1", "/v1/")
FAULT_ENVIRON_KEY = "HTTP_" + FAULT_HEADER.upper().replace("-", "_")
JSON_TYPE = "application/json"

rest = Blueprint("ltxmock_rest", __name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def current_service() -> MockService:
    service: MockService = current_app.extensions["ltxmock"]
    return service


def encode(payload: Any) -> bytes:
    return jsontext.dumps_bytes(payload)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(payload), status=status, mimetype=JSON_TYPE, headers=headers)


def reply_response(reply: Reply) -> Response:
    return json_response(reply.status, reply.payload)


@rest.post("/v1", provide_automatic_options=False)
@rest.post("/v1/", provide_automatic_options=False)
def inference() -> Response:
    # Normally answered by RestFastLane before Flask sees it; same function.
    status, body = answer(current_service(), request.environ)
    return Response(body, status=status, mimetype=JSON_TYPE)


def answer(service: MockService, environ: dict[str, Any]) -> tuple[int, bytes]:
    """Answer one ``POST /v1`` WSGI request: the status and the JSON body."""
    opened = begin(service, environ)
    if isinstance(opened, tuple):
        return opened
    return reply_bytes(service.handle_exchange(opened))


def begin(service: MockService, environ: dict[str, Any]) -> Exchange | tuple[int, bytes]:
    """Read a ``POST /v1`` request and ``service.begin`` it; or the refusal to send as is."""
    path = environ.get("PATH_INFO") or "/"
    raw = b""
    try:
        raw = _read_body(environ, service.config.max_body_bytes)
        body = decode_json(raw)
        fault = _fault_header(environ)
    except ApiError as error:
        # Refused before the protocol ran: journal it here, with the raw text.
        reply = Reply.from_error(error)
        text = raw.decode("utf-8", errors="replace")
        service.record(at=service.now(), transport="rest", path=path, body=text, reply=reply)
        return reply_bytes(reply)
    return service.begin(
        body,
        api_key=bearer_token(environ.get("HTTP_AUTHORIZATION")),
        transport="rest",
        base_url=host_url(environ.get("wsgi.url_scheme", "http"), get_host(environ)),
        fault=fault,
        path=path,
    )


def reply_bytes(reply: Reply) -> tuple[int, bytes]:
    return reply.status, encode(reply.payload)


class RestFastLane:
    """WSGI middleware: ``POST /v1`` without Flask's per-request machinery.

    Anything else goes to Flask. An unexpected exception is handed to the
    app's own error handlers, so it is answered (and journaled) as in a view.
    """

    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        self.app = app
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") not in REST_PATHS:
            return self.inner(environ, start_response)
        try:
            status, body = answer(self.app.extensions["ltxmock"], environ)
        except Exception as exc:
            with self.app.request_context(environ):
                response = self.app.make_response(self.app.handle_user_exception(exc))
            return response(environ, start_response)
        headers = [("Content-Type", JSON_TYPE), ("Content-Length", str(len(body)))]
        start_response(_status_line(status), headers)
        return [body]


@rest.record_once
def _install_fast_lane(state: BlueprintSetupState) -> None:
    app = state.app
    if isinstance(app, Flask):  # always, for this blueprint; narrows sansio's App
        app.wsgi_app = RestFastLane(app, app.wsgi_app)  # type: ignore[method-assign]


@lru_cache(maxsize=64)
def _status_line(status: int) -> str:
    return f"{status} {HTTP_STATUS_CODES.get(status, 'unknown').upper()}"


@lru_cache(maxsize=64)
def host_url(scheme: str, host: str) -> str:
    """``request.host_url`` without its trailing slash (werkzeug's reading, cached)."""
    return uri_to_iri(f"{scheme}://{host}/").rstrip("/")


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    declared = get_content_length(environ)
    if declared is not None and declared > limit:
        _drain(declared, environ.get("wsgi.input"))
        raise payload_too_large(limit)
    content_type = environ.get("CONTENT_TYPE")
    if not _is_json_content_type(content_type or ""):
        raise unsupported_content_type(content_type)
    # Chunked bodies declare no length: read one byte past the limit to notice.
    stream = get_input_stream(environ)
    raw: bytes = stream.read(limit + 1)
    if len(raw) > limit:
        _drain(DRAIN_LIMIT, stream)
        raise payload_too_large(limit)
    return raw


def _drain(declared: int, stream: Any) -> None:
    """Read (and drop) a refused body, so the connection stays usable for the 413."""
    if declared > DRAIN_LIMIT:
        return
    remaining = declared
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            break
        remaining -= len(chunk)


@lru_cache(maxsize=64)  # clients send the same header every time
def _is_json_content_type(header: str) -> bool:
    return _is_json(parse_options_header(header)[0].lower())


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def decode_json(raw: bytes | str) -> Any:
    """Parse a request body strictly (UTF-8, no NaN/Infinity, bounded nesting).

    Raises ``ApiError`` (400 ``invalidJson``). Shared with the WebSocket endpoint.
    """
    parsed, value = jsontext.loads_fast(raw) if isinstance(raw, bytes) else (False, None)
    if not parsed:
        value = _parse_strictly(raw)
    # Counting brackets bounds the depth from above, cheaply (strings may hold some).
    if isinstance(raw, bytes):
        brackets = raw.count(b"[") + raw.count(b"{")
    else:
        brackets = raw.count("[") + raw.count("{")
    if brackets > MAX_NESTING and _depth(value) > MAX_NESTING:
        raise invalid_json(f"it nests deeper than {MAX_NESTING} levels")
    return value


def _parse_strictly(raw: bytes | str) -> Any:
    """The standard library's parse: it decides anything orjson would not read as it
    does, and words the error."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise invalid_json(f"it is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise invalid_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except (ValueError, RecursionError) as exc:
        raise invalid_json(str(exc) or type(exc).__name__) from exc


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


def _fault_header(environ: dict[str, Any]) -> Fault | None:
    text = environ.get(FAULT_ENVIRON_KEY)
    if not text:
        return None
    try:
        return Fault.parse(text)
    except ValueError as exc:
        raise ApiError(400, [error_item("invalidFault", str(exc), parameter=FAULT_HEADER)]) from exc
