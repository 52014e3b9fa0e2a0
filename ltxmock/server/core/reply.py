"""``Reply``: what the protocol answers, before any transport encodes it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ApiError, ErrorItem, internal_server_error
from .limits import cap_errors

if TYPE_CHECKING:
    from .faults import Fault


@dataclass(frozen=True)
class Reply:
    """What to send back: an HTTP-like status and the JSON envelope.

    ``payload`` has ``data`` and/or ``errors``; ``errors`` is never empty and
    never present without an error. ``fault`` names an injected fault, if any.
    ``headers``: extra HTTP headers (an injected ``Retry-After``); ``transport``:
    a transport fault the HTTP server carries out when sending (delay, reset, ...).
    """

    status: int
    payload: dict[str, Any]
    fault: str | None = field(default=None, compare=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    transport: Fault | None = field(default=None, compare=False)

    @classmethod
    def internal_error(cls) -> Reply:
        """The 500 of a bug, as the real API answers one: never a traceback."""
        return cls.envelope([], [internal_server_error()], status=500)

    @classmethod
    def envelope(
        cls,
        data: list[dict[str, Any]],
        errors: list[ErrorItem],
        *,
        status: int = 200,
        fault: str | None = None,
    ) -> Reply:
        payload: dict[str, Any] = {}
        if data or not errors:
            payload["data"] = data
        if errors:
            payload["errors"] = errors
        return cls(status, payload, fault)

    @classmethod
    def from_error(cls, error: ApiError) -> Reply:
        reply = cls.envelope([], error.errors, status=error.status, fault=error.fault)
        return dataclasses.replace(reply, headers=error.headers) if error.headers else reply

    def capped(self, max_errors: int) -> Reply:
        """This reply with at most ``max_errors`` error items (``limits.cap_errors``)."""
        errors = self.errors
        if len(errors) <= max_errors:
            return self
        return dataclasses.replace(
            self, payload={**self.payload, "errors": cap_errors(errors, max_errors)}
        )

    @property
    def data(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.payload.get("data", [])
        return items

    @property
    def errors(self) -> list[ErrorItem]:
        items: list[ErrorItem] = self.payload.get("errors", [])
        return items
