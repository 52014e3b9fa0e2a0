"""``/__ltxmock/ui``: the dashboard, a static page that watches the mock through the admin API.

The page is plain HTML, CSS and JavaScript modules shipped in ``ui_files/``: no
build step, nothing fetched from elsewhere. This blueprint only serves those
files, by a fixed list (no path from the URL reaches the file system). Its data
comes from the admin API, called by the page like any client (``admin_guard``:
JSON content type, same origin, the admin token if one is set), so the files
themselves hold no state and pass the guard.

Every answer carries a strict Content-Security-Policy: scripts, styles and
fetches from this origin only (no inline script, no ``eval``), videos from
this origin or the ``public_base_url`` the videoURLs name, and no framing (a
page of another site cannot overlay the reset button: clickjacking).
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib.resources import files

from flask import Blueprint, Response, abort, request

from ltxmock.server.core.addresses import origin_of

from .responses import current_service

_HOST = re.compile(r"[a-z0-9.:-]+")  # a name or an IP literal: nothing that ends a CSP source
ui = Blueprint("ltxmock_ui", __name__, url_prefix="/__ltxmock/ui")

FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "credits.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "json_view.js": "text/javascript; charset=utf-8",
    "playground.js": "text/javascript; charset=utf-8",
    "requests.js": "text/javascript; charset=utf-8",
    "tasks.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",  # else the browser asks for /favicon.ico (a journaled 404)
}


@ui.get("", strict_slashes=False)
def page() -> Response:
    return _serve("index.html")


@ui.get("/<name>")
def asset(name: str) -> Response:
    if name not in FILES:
        abort(404)
    return _serve(name)


@cache
def _content(name: str) -> tuple[bytes, str]:
    data = files("ltxmock.server.http").joinpath("ui_files", name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:32]


def _serve(name: str) -> Response:
    data, etag = _content(name)
    headers = {
        "Content-Security-Policy": _policy(),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",  # revalidated (ETag): an upgrade shows at once
    }
    response = Response(data, status=200, content_type=FILES[name], headers=headers)
    response.set_etag(etag)
    response.make_conditional(request)  # in place: a 304 for an If-None-Match that matches
    return response


def _policy() -> str:
    media = "'self'"
    public = current_service().config.public_base_url
    origin = origin_of(public) if public else None
    if origin is not None and origin[0] in ("http", "https") and _HOST.fullmatch(origin[1]):
        scheme, host, port = origin  # rebuilt from its parts: nothing else reaches the header
        media += f" {scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"media-src {media}; img-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
