"""``Reply``: what the protocol answers, before any transport encodes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, ErrorItem
from .limits import cap_errors


@dataclass(frozen=True)
class Reply:
    """What to send back: an HTTP-like status and the JSON envelope.

    ``payload`` has ``data`` and/or ``errors``; ``errors`` is never empty and
    never present without an error. ``fault`` names an injected fault, if any.
    """

    status: int
    payload: dict[str, Any]
    fault: str | None = field(default=None, compare=False)

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
        return cls.envelope([], error.errors, status=error.status, fault=error.fault)

    def capped(self, max_errors: int) -> Reply:
        """This reply with at most ``max_errors`` error items (``limits.cap_errors``)."""
        errors = self.errors
        if len(errors) <= max_errors:
            return self
        return Reply(
            self.status, {**self.payload, "errors": cap_errors(errors, max_errors)}, self.fault
        )

    @property
    def data(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.payload.get("data", [])
        return items

    @property
    def errors(self) -> list[ErrorItem]:
        items: list[ErrorItem] = self.payload.get("errors", [])
        return items
