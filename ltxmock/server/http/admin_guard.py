"""The guard in front of ``/__ltxmock/*``: no web page, rebound DNS name or stranger drives
the admin API.

A ``before_request`` hook of the Flask app, so it runs before routing, for every
runtime (``ltxmock serve`` and the test kit bridge ``/__ltxmock`` to Flask).
In order:

1. ``GET``/``HEAD /__ltxmock/health`` passes: liveness probes (Docker,
   Kubernetes) call it by whatever address they use, and it changes nothing.
   So do the dashboard's files (``/__ltxmock/ui``, ``ui.py``): the package's
   own static files, the same for everyone, holding no state; the page then
   calls the guarded routes like any client (with the token, if one is set).
2. With ``admin_token`` set, the token is required (401 otherwise), as
   ``Authorization: Bearer TOKEN`` or ``X-Ltxmock-Admin-Token: TOKEN``, and
   it replaces the ``Host`` check: a page cannot know it.
3. Without a token, the ``Host`` must be this machine as the mock is bound
   (403, DNS rebinding: a page of ``evil.example`` whose name now resolves to
   127.0.0.1 still sends ``Host: evil.example``): ``localhost``, a loopback
   address, the configured host, ``public_base_url``'s host, or the very
   address the connection came in on (an IP literal cannot be rebound).
4. A request that can change something (any method but GET and HEAD) must
   say ``Content-Type: application/json`` (415), which no page can send to
   another origin without a CORS preflight the mock never grants, even
   without a body; and an ``Origin``, when sent, must be the mock's own
   (403).

``POST /v1`` and the result downloads are not guarded: the real API checks
neither Host nor Origin, the SDKs send their own, and a page that reaches
them gains nothing an API key does not already stand for.
"""

from __future__ import annotations

import hmac
import logging

from flask import Response, request

from ltxmock.server.core.addresses import (
    DEFAULT_PORTS,
    ip_of,
    is_loopback,
    normalize_host,
    origin_of,
    show,
    split_host_port,
)
from ltxmock.server.core.auth import bearer_token
from ltxmock.server.core.config import MockConfig
from ltxmock.server.core.errors import error_item

from .request import JSON_TYPE, is_json_content_type
from .responses import current_service, json_response

log = logging.getLogger("ltxmock.server")

ADMIN_PREFIX = "/__ltxmock"
OPEN_PATHS = (f"{ADMIN_PREFIX}/health",)
OPEN_PREFIX = f"{ADMIN_PREFIX}/ui"  # the dashboard's static files
SAFE_METHODS = ("GET", "HEAD")
TOKEN_HEADER = "X-Ltxmock-Admin-Token"


def guard_admin() -> Response | None:
    """The ``before_request`` hook: None lets the request through, else the refusal."""
    path = request.path
    if path != ADMIN_PREFIX and not path.startswith(f"{ADMIN_PREFIX}/"):
        return None
    if request.method in SAFE_METHODS and (path in OPEN_PATHS or _is_open_prefix(path)):
        return None
    config = current_service().config
    refusal = _token_refusal(config) if config.admin_token else _host_refusal(config)
    if refusal is None and request.method not in SAFE_METHODS:
        refusal = _content_type_refusal() or _origin_refusal(config)
    return refusal


def _is_open_prefix(path: str) -> bool:
    return path == OPEN_PREFIX or path.startswith(f"{OPEN_PREFIX}/")


def _token_refusal(config: MockConfig) -> Response | None:
    expected = (config.admin_token or "").encode("ascii")
    given = bearer_token(request.headers.get("Authorization")) or request.headers.get(TOKEN_HEADER)
    if given and hmac.compare_digest(_raw(given.strip()), expected):
        return None
    return _refuse(
        401,
        "invalidAdminToken",
        "This mock's admin API requires its admin token (--admin-token, $LTXMOCK_ADMIN_TOKEN): "
        f"send 'Authorization: Bearer <token>' or '{TOKEN_HEADER}: <token>'"
        + (" (the token sent is not it)." if given else "."),
        parameter="Authorization",
        headers={"WWW-Authenticate": 'Bearer realm="ltxmock admin"'},
    )


def _host_refusal(config: MockConfig) -> Response | None:
    header = request.headers.get("Host") or request.host
    try:
        host, _ = split_host_port(header)
    except ValueError:
        host = ""
    if host and host in _known_hosts(config):
        return None
    if host and (is_loopback(host) or _is_arrival_address(host)):
        return None
    return _refuse(
        403,
        "forbiddenHost",
        f"The admin API answers only requests addressed to this machine; Host {show(header)} "
        "is not (a defence against DNS rebinding). Address the mock as 127.0.0.1, localhost "
        "or [::1] (e.g. http://127.0.0.1:PORT/__ltxmock/...), or by its --host or "
        "--public-base-url, or start it with --admin-token and send the token.",
        parameter="Host",
    )


def _known_hosts(config: MockConfig) -> set[str]:
    known = {normalize_host(config.host)}
    public = origin_of(config.public_base_url) if config.public_base_url else None
    if public is not None:
        known.add(public[1])
    return known


def _is_arrival_address(host: str) -> bool:
    # SERVER_NAME is the local address the connection came in on (a2wsgi, uvicorn);
    # some WSGI servers copy it from the Host header, so only an IP literal counts.
    address = ip_of(host)
    return address is not None and address == ip_of(request.environ.get("SERVER_NAME", ""))


def _content_type_refusal() -> Response | None:
    content_type = request.headers.get("Content-Type", "")
    if is_json_content_type(content_type):
        return None
    got = f"got {show(content_type)}" if content_type else "no Content-Type was sent"
    return _refuse(
        415,
        "unsupportedContentType",
        f"Admin requests that change the mock must be sent with 'Content-Type: {JSON_TYPE}' "
        f"({got}), even without a body, e.g. curl -X {request.method} -H 'Content-Type: "
        f"{JSON_TYPE}' ...; web pages of other origins cannot send it.",
        parameter="Content-Type",
    )


def _origin_refusal(config: MockConfig) -> Response | None:
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    own = _own_origins(config)
    if origin_of(origin) in own:
        return None
    mine = "".join(f", {s}://{_netloc(h, p, s)}" for s, h, p in sorted(own)[:1])
    return _refuse(
        403,
        "crossOriginRequest",
        f"Admin requests from a web page of another origin are refused: Origin {show(origin)} "
        f"is not this mock's own{mine}. Send the request without an Origin header (curl, a "
        "script, a test) or from the mock's own origin.",
        parameter="Origin",
    )


def _own_origins(config: MockConfig) -> set[tuple[str, str, int]]:
    own = {origin_of(f"{request.scheme}://{request.headers.get('Host') or request.host}")}
    if config.public_base_url:
        own.add(origin_of(config.public_base_url))
    return {o for o in own if o is not None}


def _netloc(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if DEFAULT_PORTS.get(scheme) == port else f"{shown}:{port}"


def _raw(header_value: str) -> bytes:
    # WSGI hands header values over as latin-1 decoded bytes; compare the bytes sent.
    try:
        return header_value.encode("latin-1")
    except UnicodeEncodeError:
        return header_value.encode("utf-8")


def _refuse(
    status: int,
    code: str,
    message: str,
    *,
    parameter: str,
    headers: dict[str, str] | None = None,
) -> Response:
    log.warning("refused %s %s: %s", request.method, show(request.path), code)
    return json_response(
        status, {"errors": [error_item(code, message, parameter=parameter)]}, headers
    )
