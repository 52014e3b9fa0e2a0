"""ltxmock: lint Runware LTX-2 Fast payloads, and mock the API locally."""

from __future__ import annotations

from typing import Any

from ltxmock.validators import PayloadError, RequestValidator, default_validator

__version__ = "0.1.0"
__all__ = ["PayloadError", "RequestValidator", "__version__", "is_valid", "validate"]


def validate(body: Any) -> list[PayloadError]:
    """Every problem in a ``POST /v1`` request body; an empty list when it is valid."""
    return default_validator().validate(body)


def is_valid(body: Any) -> bool:
    """True when ``body`` would be accepted (a fast compiled check, no explanation)."""
    return default_validator().is_valid(body)
