"""``ApiRequest``: one request body on its way into the protocol, from any transport.

Every transport (REST under any server, the WebSocket) turns what it received
into an ``ApiRequest`` and hands it to ``MockService.handle`` or
``handle_batch``; nothing else enters the protocol. A request the transport
already refused (too large, not JSON, a bad fault header) still goes through
the service, carrying its ``refusal``, so that it is journaled like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import ApiError
from .faults import Fault

Transport = Literal["rest", "ws"]


@dataclass(frozen=True)
class ApiRequest:
    """What a client sent, as the protocol needs it.

    ``body``: the parsed JSON (or, with a ``refusal``, the raw text to journal).
    ``api_key``: the Bearer header's key (REST) or the session's key (WS); None
    lets a leading authentication element supply it. ``base_url`` prefixes
    videoURLs unless ``public_base_url`` is configured. ``fault`` (from a
    request header) replaces the stored fault rules for this request. ``now``
    overrides the service clock (tests). ``headers``: the HTTP request's (for a
    WebSocket frame, its upgrade request's), names in lower case, as received:
    only the journal reads them, and redacts them.
    """

    body: Any
    api_key: str | None = None
    transport: Transport = "rest"
    base_url: str = "http://localhost"
    path: str = "/v1"
    fault: Fault | None = None
    refusal: ApiError | None = None
    now: float | None = None
    headers: tuple[tuple[str, str], ...] = ()
