"""Fault rules for the admin API, written from the fault header's syntax."""

from __future__ import annotations

from typing import Any

from ltxmock.server.core.faults import Fault


def rule_json(fault: str) -> dict[str, Any]:
    """The admin API's JSON rule (``POST /__ltxmock/faults``) of ``fault``, written as
    ``X-Ltxmock-Fault`` takes it: ``503;retry-after=2``, ``task:providerError``,
    ``delay:0.5-2``, ``reset``..."""
    parsed = Fault.parse(fault)
    if parsed.kind == "http":
        return {"status": parsed.status, "code": parsed.code, "retryAfter": parsed.retry_after}
    if parsed.kind == "task":
        return {"task": parsed.code}
    return {"transport": parsed.code, "delay": list(parsed.delay) if parsed.delay else None}
