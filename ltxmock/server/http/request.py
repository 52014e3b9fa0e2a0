"""The one reading of a ``POST /v1`` request: bytes and headers in, an ``ApiRequest`` out.

Every server that answers ``POST /v1`` (the Flask view under any WSGI server,
the ASGI app of ``ltxmock serve`` and the test kit) reads the body its own way
and hands it here with the headers; what is HTTP-specific is decided only here:
the body size limit (413), the content type and JSON decoding (400), the Bearer
header, the fault header and the base URL of result links. A refused request
comes back as an ``ApiRequest`` carrying its ``refusal``, to be journaled and
answered by the service like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from werkzeug.http import parse_options_header
from werkzeug.urls import uri_to_iri

from ltxmock.server.core.auth import bearer_token
from ltxmock.server.core.decoding import decode_json
from ltxmock.server.core.errors import (
    ApiError,
    error_item,
    payload_too_large,
    unsupported_content_type,
)
from ltxmock.server.core.faults import FAULT_HEADER, Fault
from ltxmock.server.core.request import ApiRequest

REST_PATHS = ("/v1", "/v1/")
JSON_TYPE = "application/json"
FAULT_HEADER_KEY = FAULT_HEADER.lower()
_CGI_HEADERS = frozenset(("content-type", "content-length"))


def parse_request(
    *, path: str, headers: Mapping[str, str], body: bytes, limit: int, base_url: str
) -> ApiRequest:
    """Read one ``POST /v1``.

    ``headers``: names in lower case. ``body``: what was read, at most
    ``limit + 1`` bytes (enough to tell that it is too large); empty when the
    declared length alone is over the limit. ``base_url``: ``host_url(...)``.
    """
    # WSGI (CGI) cannot tell an empty Content-Type or Content-Length from none, so
    # the journal of every server keeps neither.
    pairs = tuple(
        (name, value) for name, value in headers.items() if value or name not in _CGI_HEADERS
    )
    try:
        declared = headers.get("content-length", "")
        if (declared.isdigit() and int(declared) > limit) or len(body) > limit:
            raise payload_too_large(limit)
        content_type = headers.get("content-type")
        if not is_json_content_type(content_type or ""):
            raise unsupported_content_type(content_type)
        parsed = decode_json(body)
        fault = _fault_header(headers.get(FAULT_HEADER_KEY))
    except ApiError as error:
        text = body.decode("utf-8", errors="replace")
        return ApiRequest(text, transport="rest", path=path, refusal=error, headers=pairs)
    return ApiRequest(
        parsed,
        api_key=bearer_token(headers.get("authorization")),
        transport="rest",
        base_url=base_url,
        path=path,
        fault=fault,
        headers=pairs,
    )


@lru_cache(maxsize=64)
def host_url(scheme: str, host: str) -> str:
    """``scheme://host`` as Werkzeug's ``request.host_url`` reads it, without the slash."""
    return uri_to_iri(f"{scheme}://{host}/").rstrip("/")


@lru_cache(maxsize=64)  # clients send the same header every time
def is_json_content_type(header: str) -> bool:
    mimetype = parse_options_header(header)[0].lower()
    return mimetype == JSON_TYPE or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _fault_header(text: str | None) -> Fault | None:
    if not text:
        return None
    try:
        return Fault.parse(text)
    except ValueError as exc:
        raise ApiError(400, [error_item("invalidFault", str(exc), parameter=FAULT_HEADER)]) from exc
