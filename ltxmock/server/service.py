"""MockService: the Runware protocol, independent of any transport.

REST (``rest.py``) and the WebSocket endpoint both hand a parsed body to
``MockService.handle`` and send back the ``Reply``. The order of checks is the
real API's: body shape (400), API key (401), injected faults, validation (400),
then the tasks, in request order.

A request is atomic: if any task in it is invalid, or reuses a known taskUUID
with different parameters, the request is answered 400 with every error
(each scoped to its task) and none of its tasks is accepted. Tasks accepted by
earlier requests are never touched, and resending the corrected request is
safe (resubmitting a known task with the same parameters just acks again).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ltxmock.validators import RequestValidator, default_validator

from . import lifecycle
from .auth import AUTHENTICATION, authenticate, fingerprint
from .config import MockConfig
from .deliveries import Deliveries
from .errors import (
    ApiError,
    ErrorItem,
    conflict_task_uuid,
    error_item,
    internal_server_error,
    task_not_found,
)
from .faults import Fault, FaultBook
from .journal import Journal
from .renders import Renders
from .store import TaskRecord, TaskStore

Transport = Literal["rest", "ws"]
GET_RESPONSE, PING, VIDEO_INFERENCE = "getResponse", "ping", "videoInference"
PURGE_EVERY = 60.0  # seconds between lazy purges of expired tasks, per process
SHARDS_RESCAN_AFTER = 0.05  # seconds a submit's duplicate check trusts its list of shards

log = logging.getLogger("ltxmock.server")


@dataclass
class Exchange:
    """One request on its way through ``begin``, ``write`` and ``finish``."""

    body: Any
    transport: Transport
    path: str
    at: float
    reply: Reply | None = None  # set by begin (refused, or read-only) or by write
    plan: _Plan | None = None  # submits: what write() stores
    accepted: list[TaskRecord] = field(default_factory=list)

    @property
    def answer(self) -> Reply:
        if self.reply is None:  # write() never ran: nothing of it was stored
            return Reply.envelope([], [internal_server_error()], status=500)
        return self.reply


@dataclass(frozen=True)
class _Plan:
    admitted: _Admission
    base_url: str
    drafts: Mapping[int, TaskRecord]


@dataclass(frozen=True)
class _Admission:
    """What the checks before running a request found."""

    owner: str  # the API key's fingerprint
    task_fault: Fault | None  # a task failure every task of the request gets
    rules: bool  # stored fault rules exist (consult them per task)


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

    @property
    def data(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.payload.get("data", [])
        return items

    @property
    def errors(self) -> list[ErrorItem]:
        items: list[ErrorItem] = self.payload.get("errors", [])
        return items


class MockService:
    """The mock's behaviour and state: ``handle`` requests; ``faults``, ``journal``,
    ``results`` (the rendered videos) and ``deliveries`` (webhooks, uploads)."""

    def __init__(
        self,
        config: MockConfig | None = None,
        *,
        store: TaskStore | None = None,
        validator: RequestValidator | None = None,
    ) -> None:
        self.config = config or MockConfig()
        self.store = store if store is not None else TaskStore(self.config.database_path)
        self.faults = FaultBook(self.store)
        self.journal = Journal(self.store, limit=self.config.journal_limit)
        self._validator = validator
        self._last_purge = -math.inf
        self.results = Renders(self.config, self.store, lambda: self.validator)
        self.deliveries = Deliveries(self.config, self.store, self.results)
        self.deliveries.resume()  # a restart picks up what the last run left pending

    @property
    def validator(self) -> RequestValidator:
        # Resolved on first use so importing the server stays cheap.
        if self._validator is None:
            self._validator = default_validator()
        return self._validator

    def now(self) -> float:
        return self.config.clock()

    def handle(
        self,
        body: Any,
        *,
        api_key: str | None,
        transport: Transport,
        base_url: str,
        now: float | None = None,
        fault: Fault | None = None,
        path: str = "/v1",
    ) -> Reply:
        """Answer one request body (already parsed from JSON).

        ``api_key``: the Bearer header's key (REST) or the session's key (WS);
        None lets a leading authentication element supply it. ``base_url``
        prefixes videoURLs unless ``public_base_url`` is configured. ``fault``
        (from a request header) replaces the stored fault rules for this request.
        """
        exchange = self.begin(
            body,
            api_key=api_key,
            transport=transport,
            base_url=base_url,
            now=now,
            fault=fault,
            path=path,
        )
        return self.handle_exchange(exchange)

    def handle_exchange(self, exchange: Exchange) -> Reply:
        """``write_all`` in a transaction of its own, then ``finish``."""
        try:
            with self.store.transaction():
                self.write_all([exchange])
        except Exception as exc:
            self.write_failed(exchange, exc)
        return self.finish(exchange)

    # handle() in three steps, so that a server can commit the writes of several
    # requests at once: begin() each (no lock), write_all() of them inside one
    # store transaction, finish() each after the commit.
    def begin(
        self,
        body: Any,
        *,
        api_key: str | None,
        transport: Transport,
        base_url: str,
        now: float | None = None,
        fault: Fault | None = None,
        path: str = "/v1",
    ) -> Exchange:
        """Everything before the writes: checks, polls, drafts of new tasks."""
        submits = isinstance(body, list) and any(
            isinstance(task, dict) and task.get("taskType") == VIDEO_INFERENCE for task in body
        )
        if submits:
            # Before the clock is read and any lock taken: the first import takes
            # a good part of a second, and the task's latency starts after it.
            self.results.load()
        at = self.now() if now is None else now
        exchange = Exchange(body=body, transport=transport, path=path, at=at)
        try:
            admitted = self._admit(body, api_key, fault)
            base_url = self.config.public_base_url or base_url
            self._maybe_purge(at)
            if submits:
                exchange.plan = _Plan(admitted, base_url, self._drafts(body, admitted, at))
            else:  # polls and pings only read: the journal entry is the one write
                exchange.reply = self._run(body, admitted, base_url, at, [], None, {})
        except Exception as exc:
            exchange.reply = self._failure(exc, transport)
        return exchange

    def write_all(self, exchanges: Sequence[Exchange]) -> None:
        """Inside a store transaction: each exchange's new tasks, and its journal entry.

        Which of the submitted taskUUIDs are known is asked once for them all
        (one query per shard). A refused request (a conflict) rolls back to its
        savepoint, so none of its tasks is stored; the other exchanges are untouched.
        """
        known = self._known_tasks(exchanges)
        for exchange in exchanges:
            self._write(exchange, known)

    def _write(self, exchange: Exchange, known: dict[str, TaskRecord]) -> None:
        plan = exchange.plan
        if plan is not None and exchange.reply is None:
            before = dict(known)
            try:
                with self.store.savepoint():
                    exchange.reply = self._run(
                        exchange.body,
                        plan.admitted,
                        plan.base_url,
                        exchange.at,
                        exchange.accepted,
                        plan.drafts,
                        known,
                    )
            except Exception as exc:
                exchange.accepted.clear()
                known.clear()
                known.update(before)  # what the rollback unstored is unknown again
                exchange.reply = self._failure(exc, exchange.transport)
        self.record(
            at=exchange.at,
            transport=exchange.transport,
            path=exchange.path,
            body=exchange.body,
            reply=exchange.answer,
        )

    def write_failed(self, exchange: Exchange, exc: Exception) -> None:
        """The transaction around ``write_all`` failed: nothing of the exchange was stored."""
        if exchange.plan is None:  # a read-only answer stands; only its journal entry is lost
            log.error("could not write the request journal", exc_info=exc)
            return
        exchange.accepted.clear()
        exchange.reply = self._failure(exc, exchange.transport)

    def finish(self, exchange: Exchange) -> Reply:
        """After the commit: start what the accepted tasks need; the reply to send."""
        self._accepted(exchange.accepted)
        return exchange.answer

    def _failure(self, exc: Exception, transport: Transport) -> Reply:
        if isinstance(exc, ApiError):
            return Reply.from_error(exc)
        log.error("unexpected error while handling a %s request", transport, exc_info=exc)
        return Reply.envelope([], [internal_server_error()], status=500)

    def record(
        self,
        *,
        at: float,
        transport: str,
        path: str,
        body: Any,
        reply: Reply,
        method: str = "POST",
    ) -> None:
        """Journal one exchange; a journal failure is logged, never turned into a reply."""
        try:
            self.journal.record(
                at=at,
                transport=transport,
                method=method,
                path=path,
                status=reply.status,
                request=body,
                response=reply.payload,
                fault=reply.fault,
            )
        except Exception:
            log.exception("could not write the request journal")

    def reset(self) -> None:
        """Forget all tasks, fault rules, journal entries, files and deliveries."""
        self.store.reset()
        self.results.clear()

    def close(self) -> None:
        self.deliveries.close()
        self.results.close()
        self.store.close()

    # -- the protocol ---------------------------------------------------------
    def _admit(self, body: Any, header_key: str | None, fault: Fault | None) -> _Admission:
        """The checks before any task runs: shape, key, faults, validation.

        Raises ``ApiError`` for a request that is refused as a whole.
        """
        if not isinstance(body, list) or not body:
            raise ApiError(400, [e.to_dict() for e in self.validator.validate(body)])
        key = authenticate(body, header_key, self.config.api_keys)
        if isinstance(key, ApiError):
            raise key
        # One cheap read tells whether any rule exists; most runs have none.
        rules = fault is None and self.faults.any()
        if rules:
            task_types = {
                task["taskType"]
                for task in body
                if isinstance(task, dict) and isinstance(task.get("taskType"), str)
            } - {AUTHENTICATION}
            fault = self.faults.next_for_request(task_types)
        if fault is not None and fault.kind == "http":
            raise ApiError(fault.status, fault.error_items(body), fault=fault.label)
        problems = self.validator.validate(body)
        if problems:
            raise ApiError(400, [problem.to_dict() for problem in problems])
        task_fault = fault if fault is not None and fault.kind == "task" else None
        return _Admission(fingerprint(key), task_fault, rules)

    def _run(
        self,
        body: list[Any],
        admitted: _Admission,
        base_url: str,
        at: float,
        accepted: list[TaskRecord],
        drafts: Mapping[int, TaskRecord] | None,
        known: dict[str, TaskRecord],
    ) -> Reply:
        """The reply to an admitted request; new tasks are appended to ``accepted``.

        ``drafts``: new tasks' records prepared outside the write lock, by position.
        ``known``: the live tasks of the submitted UUIDs (``_known_tasks``), kept
        up to date as tasks are stored.
        """
        data: list[dict[str, Any]] = []
        errors: list[ErrorItem] = []
        conflicts: list[ErrorItem] = []
        submits = False
        for position, task in enumerate(body):
            task_type = task["taskType"]
            if task_type == AUTHENTICATION:
                continue  # REST answers carry no auth item; clients ignore it anyway
            if task_type == PING:
                data.append(_pong(task))
            elif task_type == GET_RESPONSE:
                items, failures = self._poll(task["taskUUID"], admitted.owner, base_url, at)
                data.extend(items)
                errors.extend(failures)
            elif task_type == VIDEO_INFERENCE:
                submits = True
                draft = drafts.get(position) if drafts else None
                answer = self._submit(task, admitted, base_url, at, accepted, draft, known)
                # An ack has no "code"; a conflict is an error item.
                (conflicts if "code" in answer else data).append(answer)
            else:
                raise ApiError(400, [_not_runnable(task)])
        if conflicts:
            raise ApiError(400, conflicts)  # none of the request's tasks is stored
        task_fault = admitted.task_fault
        fault_label = task_fault.label if task_fault is not None and submits else None
        if errors and not data and all(e["code"] == "taskNotFound" for e in errors):
            return Reply.envelope(data, errors, status=self.config.not_found_status)
        return Reply.envelope(data, errors, fault=fault_label)

    def _submit(
        self,
        task: Mapping[str, Any],
        admitted: _Admission,
        base_url: str,
        at: float,
        accepted: list[TaskRecord],
        draft: TaskRecord | None,
        known_tasks: dict[str, TaskRecord],
    ) -> dict[str, Any]:
        task_uuid = task["taskUUID"]
        known = known_tasks.get(task_uuid.lower())
        if known is not None and known.expires_at <= at:
            known = None
        if known is not None:
            # A retry (the SDKs resend after 429/5xx/timeouts) is acked again;
            # other parameters, or another key's task, is a conflict.
            owner = admitted.owner
            if known.key_fingerprint == owner and known.params_hash == lifecycle.params_hash(task):
                return lifecycle.ack(known)
            return conflict_task_uuid(task_uuid, task["taskType"])
        record = draft
        if record is None:
            failure = admitted.task_fault or (
                self.faults.next_for_task() if admitted.rules else None
            )
            record = self._draft(task, admitted.owner, at, failure)
        self.store.put_task(record)  # nothing of its results: their rows derive from it
        known_tasks[task_uuid.lower()] = record
        self.deliveries.schedule(record, base_url=base_url, now=at)
        accepted.append(record)
        return lifecycle.ack(record)

    def _known_tasks(self, exchanges: Sequence[Exchange]) -> dict[str, TaskRecord]:
        """The live stored tasks among the UUIDs these exchanges submit."""
        uuids: dict[str, str] = {}
        at = math.inf
        for exchange in exchanges:
            if exchange.plan is None or exchange.reply is not None:
                continue
            at = min(at, exchange.at)
            for task in exchange.body:  # admitted: a list of valid tasks
                if task["taskType"] == VIDEO_INFERENCE:
                    uuids.setdefault(task["taskUUID"].lower(), task["taskUUID"])
        if not uuids:
            return {}
        # Most submits are new: looking for shards created within the last
        # 50 ms as well would cost a syscall each (a retry lands much later).
        return self.store.live_tasks(list(uuids.values()), now=at, rescan_after=SHARDS_RESCAN_AFTER)

    def _draft(
        self, task: Mapping[str, Any], owner: str, at: float, failure: Fault | None
    ) -> TaskRecord:
        """A new task's record (no store access)."""
        return lifecycle.new_task(
            task,
            key_fingerprint=owner,
            now=at,
            latency=self.config.latency,
            default_ttl=self.config.result_ttl,
            failure=failure,
        )

    def _drafts(self, body: list[Any], admitted: _Admission, at: float) -> dict[int, TaskRecord]:
        """Drafts of the request's submits, made before the write lock is taken.

        Not when fault rules exist: which task fails is decided in the transaction.
        """
        if admitted.rules:
            return {}
        return {
            position: self._draft(task, admitted.owner, at, admitted.task_fault)
            for position, task in enumerate(body)
            if task.get("taskType") == VIDEO_INFERENCE
        }

    def _accepted(self, records: list[TaskRecord]) -> None:
        """After the commit: start rendering (eager mode) and dispatching."""
        for record in records:
            if self.config.render_mode == "eager":
                self.results.start(record)
            if isinstance(record.params.get("webhookURL"), str) or isinstance(
                record.params.get("uploadEndpoint"), str
            ):
                self.deliveries.start()

    def _poll(
        self, task_uuid: str, owner: str, base_url: str, at: float
    ) -> tuple[list[dict[str, Any]], list[ErrorItem]]:
        record = self.store.get_task(task_uuid, now=at)
        if record is None or record.key_fingerprint != owner:
            return [], [task_not_found(task_uuid)]  # other keys' tasks are invisible
        states = None
        if (
            self.config.render_mode == "eager"
            and at >= record.completes_at
            and record.failure_code is None
        ):
            states = self.results.states(record)  # kicks a render nobody is doing
        return lifecycle.poll(record, now=at, base_url=base_url, results=states)

    def _maybe_purge(self, at: float) -> None:
        if at - self._last_purge >= PURGE_EVERY:
            self._last_purge = at
            self.store.purge_expired(now=at)
            self.results.delete_files(self.store.purge_expired_media(now=at))


def _pong(task: Mapping[str, Any]) -> dict[str, Any]:
    pong: dict[str, Any] = {"taskType": PING, "pong": True}
    if isinstance(task.get("taskUUID"), str):
        pong["taskUUID"] = task["taskUUID"]
    return pong


def _not_runnable(task: Mapping[str, Any]) -> ErrorItem:
    return error_item(
        "unsupportedTaskType",
        f"Invalid value for taskType parameter. The mock validates {task['taskType']!r} "
        f"tasks but cannot run them; it runs {VIDEO_INFERENCE}, {GET_RESPONSE} and {PING}.",
        parameter="taskType",
        task_uuid=task.get("taskUUID") if isinstance(task.get("taskUUID"), str) else None,
        task_type=task["taskType"],
    )
