"""Who is calling: the API key from a Bearer header or a leading authentication task.

Transport-neutral on purpose: REST passes the Bearer token, the WebSocket
endpoint passes the key of its authenticated session (or None).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from .errors import ApiError, invalid_api_key

AUTHENTICATION = "authentication"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def leading_auth_key(body: Any) -> str | None:
    """The ``apiKey`` of a leading ``{"taskType": "authentication"}`` element."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = body[0]
        key = first.get("apiKey")
        if first.get("taskType") == AUTHENTICATION and isinstance(key, str) and key:
            return key
    return None


def authenticate(body: Any, header_key: str | None, allowed: Sequence[str] = ()) -> str | ApiError:
    """The caller's API key, or the 401 error to answer with.

    The header (or session) key wins over an authentication element: that is
    what the SDKs send, and the docs tell callers to pick one anyway.
    ``allowed`` empty means any non-empty key is accepted.
    """
    key = header_key or leading_auth_key(body)
    if key and (not allowed or any(_same(key, known) for known in allowed)):
        return key
    return ApiError(401, [invalid_api_key()])


@lru_cache(maxsize=256)  # every request of a client names the same key
def fingerprint(api_key: str, secret: bytes) -> str:
    """A short, stable, non-reversible id of a key: what the store keeps.

    Keyed (HMAC-SHA256 with the store's random ``secret``, ``Store.secret``): a
    plain hash of a short or guessable key could be reversed by trying keys, and
    would name the same key alike in every data dir. 16 hex digits (64 bits)
    tell one caller's tasks from another's.
    """
    return hmac.digest(secret, api_key.encode("utf-8"), "sha256").hex()[:16]


def _same(given: str, known: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), known.encode("utf-8"))
