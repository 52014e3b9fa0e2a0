"""The checks a request passes before any of its tasks runs, in the real API's order:
body shape (400), API key (401), injected faults, validation (400)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ltxmock.validators import RequestValidator

from .auth import AUTHENTICATION, authenticate, fingerprint
from .errors import ApiError
from .fault_book import FaultBook
from .faults import Fault


@dataclass(frozen=True)
class Admission:
    """What the checks found about an admitted request."""

    owner: str  # the API key's fingerprint (keyed with the store's secret)
    task_fault: Fault | None  # a task failure every task of the request gets
    rules: bool  # stored fault rules exist (consult them per task)


def admit(
    body: Any,
    *,
    header_key: str | None,
    fault: Fault | None,
    api_keys: Sequence[str],
    faults: FaultBook,
    validator: RequestValidator,
    secret: bytes,
) -> Admission:
    """The admission of a request, or ``ApiError`` for one refused as a whole.

    ``fault`` (from a request header) replaces the stored rules for this request.
    ``secret``: the store's (``Store.secret``), the key of the owner's fingerprint.
    """
    if not isinstance(body, list) or not body:
        raise ApiError(400, [e.to_dict() for e in validator.validate(body)])
    key = authenticate(body, header_key, api_keys)
    if isinstance(key, ApiError):
        raise key
    # One cheap read tells whether any rule exists; most runs have none.
    rules = fault is None and faults.any()
    if rules:
        task_types = {
            task["taskType"]
            for task in body
            if isinstance(task, dict) and isinstance(task.get("taskType"), str)
        } - {AUTHENTICATION}
        fault = faults.next_for_request(task_types)
    if fault is not None and fault.kind == "http":
        raise ApiError(fault.status, fault.error_items(body), fault=fault.label)
    problems = validator.validate(body)
    if problems:
        raise ApiError(400, [problem.to_dict() for problem in problems])
    task_fault = fault if fault is not None and fault.kind == "task" else None
    return Admission(fingerprint(key, secret), task_fault, rules)
