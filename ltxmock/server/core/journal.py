"""The request journal: every exchange with the mock, for users' tests to assert on.

Entries live in the store (shared by all workers) and are bounded to the
newest ``MockConfig.journal_limit``. API keys never reach it: ``apiKey`` values
are redacted and headers are not recorded. Very long strings (base64 images)
are shortened so the journal stays small.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from . import jsontext
from .ports import JournalTable
from .records import JournalEntry

REDACTED = "[redacted]"
MAX_STRING = 2048
MAX_DEPTH = 32
_RAW_KEY = re.compile(r'("apiKey"\s*:\s*)"(?:[^"\\]|\\.)*"?', re.IGNORECASE)


class Journal:
    """Record and read the exchanges (``service.journal``)."""

    def __init__(self, table: JournalTable, *, limit: int = 1000) -> None:
        self._table = table
        self.limit = limit

    def record(
        self,
        *,
        at: float,
        transport: str,
        path: str,
        status: int,
        request: Any,
        response: Any,
        fault: str | None = None,
        method: str = "POST",
    ) -> None:
        self._table.append(
            at=at,
            transport=transport,
            method=method,
            path=path,
            status=status,
            fault=fault,
            request_json=_safe_json(request),
            response_json=_safe_json(response),
            keep=self.limit,
        )

    def entries(self, *, since: int = 0, limit: int | None = None) -> list[JournalEntry]:
        """Oldest first; ``since`` an entry id, ``limit`` keeps the newest ones."""
        return self._table.entries(keep=self.limit, since=since, limit=limit)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self.entries())

    def last(self) -> JournalEntry | None:
        newest = self.entries(limit=1)
        return newest[0] if newest else None

    def for_task(self, task_uuid: str) -> list[JournalEntry]:
        """Every exchange that mentioned this taskUUID (submits and polls)."""
        wanted = task_uuid.lower()
        return [e for e in self.entries() if wanted in (u.lower() for u in e.task_uuids)]

    def unexpected_errors(self) -> list[JournalEntry]:
        """5xx answers nobody injected: should always be empty."""
        return [e for e in self.entries() if e.unexpected]

    def clear(self) -> None:
        self._table.clear()


def _safe_json(value: Any) -> str:
    """``value`` as the JSON text to keep: redacted and shortened if need be."""
    text = jsontext.dumps(value)
    if (
        len(text) <= MAX_STRING  # so no string in it is longer
        and text.count("[") + text.count("{") <= MAX_DEPTH  # so it nests no deeper
        and "apikey" not in text.lower()  # so no key, raw or parsed, is in it
    ):
        return text  # the usual case: redact(value) == value
    return jsontext.dumps(redact(value))


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy safe to keep: ``apiKey`` values hidden, huge strings shortened."""
    if isinstance(value, dict | list) and _depth > MAX_DEPTH:
        return "[nested too deeply]"
    if isinstance(value, dict):
        return {
            key: REDACTED
            if key.lower() == "apikey" and item is not None
            else redact(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, _depth + 1) for item in value]
    if isinstance(value, str):
        # Raw (unparseable) bodies may still carry a key.
        text = _RAW_KEY.sub(rf'\1"{REDACTED}"', value) if "apikey" in value.lower() else value
        if len(text) > MAX_STRING:
            return f"{text[:256]}...[{len(text)} characters]"
        return text
    return value
