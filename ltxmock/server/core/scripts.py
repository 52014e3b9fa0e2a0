"""Scripted outcomes per taskUUID: what each getResponse of one task answers.

``POST /__ltxmock/scripts`` with ``{"taskUUID": T, "outcomes": ["processing",
"processing", "timeoutProvider"]}``: the first poll of T answers processing, the
second too, the third and every later one fails with ``timeoutProvider``.
Outcomes: ``processing``, ``success`` (the finished result, whatever the
latency says) or any Runware error code (the task's poll-time error, as an
``error=`` directive gives). The last outcome repeats. A script may be set
before its task is submitted; it changes only what polls answer (webhooks
follow the task's own course). Every worker shares the position (the store's
``scripts`` table), so polls spread over processes still follow the script.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from .faults import Fault
from .lifecycle import Item, poll, processing_item, progress
from .ports import ScriptTable
from .records import TaskRecord

PROCESSING, SUCCESS = "processing", "success"
MAX_OUTCOMES = 100
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")


def read_outcomes(value: Any) -> list[str]:
    """The admin API's ``outcomes``, checked; ValueError says what is wrong."""
    if not isinstance(value, list) or not value or len(value) > MAX_OUTCOMES:
        raise ValueError(f"outcomes is a list of 1-{MAX_OUTCOMES} strings")
    for outcome in value:
        if not isinstance(outcome, str) or not _CODE.match(outcome):
            raise ValueError(
                "each outcome is 'processing', 'success' or a Runware error code "
                f"such as 'timeoutProvider', not {str(outcome)[:40]!r}"
            )
    return list(value)


def scripted_poll(
    record: TaskRecord, outcome: str, *, now: float, base_url: str
) -> tuple[list[Item], list[dict[str, Any]]]:
    """The answer to a poll of ``record`` that the script says is ``outcome``."""
    if outcome == PROCESSING:
        percent = min(99, progress(record, now))
        return [processing_item(record, percent)] * record.number_results, []
    if outcome == SUCCESS:
        done = dataclasses.replace(record, failure_code=None, failure_message=None)
        return poll(done, now=max(now, record.completes_at), base_url=base_url)
    failure = Fault.task_failure(outcome)
    return [], [failure.task_error(record.task_uuid, record.task_type)]


def describe(scripts: dict[str, tuple[list[str], int]]) -> list[dict[str, Any]]:
    """The admin API's view of the stored scripts."""
    return [
        {"taskUUID": uuid, "outcomes": outcomes, "next": position}
        for uuid, (outcomes, position) in scripts.items()
    ]


def check_uuid(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise ValueError("taskUUID is the task's UUID, as a string")
    return value


class ScriptBook:
    """``service.scripts``: scripted poll outcomes per taskUUID, shared by every worker."""

    def __init__(self, table: ScriptTable) -> None:
        self._table = table

    def set(self, task_uuid: str, outcomes: list[str]) -> None:
        """Script the polls of ``task_uuid`` (replacing its script, from the start)."""
        self._table.put(check_uuid(task_uuid), read_outcomes(outcomes))

    def all(self) -> list[dict[str, Any]]:
        return describe(self._table.all())

    def remove(self, task_uuid: str) -> bool:
        return self._table.remove(task_uuid)

    def clear(self) -> None:
        self._table.clear()

    def poll(
        self, record: TaskRecord, *, now: float, base_url: str
    ) -> tuple[list[Item], list[dict[str, Any]]] | None:
        """The scripted answer to a poll of ``record`` (using up one outcome), or None."""
        if not self._table.any():
            return None
        outcome = self._table.step(record.task_uuid)
        if outcome is None:
            return None
        return scripted_poll(record, outcome, now=now, base_url=base_url)
