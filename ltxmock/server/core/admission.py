"""The checks a request passes before any of its tasks runs, in the real API's order:
body shape (400), API key (401), injected faults, validation (400)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    transport: Fault | None = None  # a transport fault for the answer


class AdmissionError(ApiError):
    """A refused request, with the transport fault its answer still gets, if any."""

    def __init__(self, error: ApiError, transport: Fault | None) -> None:
        super().__init__(error.status, error.errors, fault=error.fault, headers=error.headers)
        self.transport = transport


def admit(
    body: Any,
    *,
    header_key: str | None,
    fault: Fault | None,
    api_keys: Sequence[str],
    faults: FaultBook,
    validator: RequestValidator,
    secret: bytes,
    key_faults: Mapping[str, Fault] | None = None,
    transports: bool = True,
) -> Admission:
    """The admission of a request, or ``AdmissionError`` for one refused as a whole.

    ``fault`` (from a request header or a prompt directive) replaces the API
    key's fault (``key_faults``) and the stored rules for this request.
    ``secret``: the store's (``Store.secret``), the key of the owner's fingerprint.
    ``transports``: whether the answer can carry a transport fault (not a WebSocket
    frame's: no rule is used up for it, and none is named in its journal entry).
    """
    transport: Fault | None = (
        fault if transports and fault is not None and fault.kind == "transport" else None
    )
    try:
        if not isinstance(body, list) or not body:
            raise ApiError(400, [e.to_dict() for e in validator.validate(body)])
        key = authenticate(body, header_key, api_keys)
        if isinstance(key, ApiError):
            raise key
        if fault is None and key_faults:
            fault = key_faults.get(key)
            if transports and fault is not None and fault.kind == "transport":
                transport = fault
        # One cheap read tells whether any rule exists; most runs have none.
        rules = fault is None and faults.any()
        if rules:
            tasks = [t for t in body if isinstance(t, dict)]
            task_types = {
                task["taskType"] for task in tasks if isinstance(task.get("taskType"), str)
            } - {AUTHENTICATION}
            fault = faults.next_for_request(task_types, tasks)
            if transports:
                transport = faults.next_for_transport(task_types, tasks)
        if fault is not None and fault.kind == "http":
            raise ApiError(
                fault.status, fault.error_items(body), fault=fault.label, headers=fault.headers
            )
        problems = validator.validate(body)
        if problems:
            raise ApiError(400, [problem.to_dict() for problem in problems])
    except ApiError as error:
        raise AdmissionError(error, transport) from None
    task_fault = fault if fault is not None and fault.kind == "task" else None
    return Admission(fingerprint(key, secret), task_fault, rules, transport)
