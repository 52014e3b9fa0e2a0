"""MockService: the Runware protocol, independent of any transport and any storage.

Every transport hands ``ApiRequest``s to ``handle`` (one) or ``handle_batch``
(several, committed together) and sends back the ``Reply``s. The order of
checks is the real API's (``admission.admit``), then the tasks run in request
order.

A request is atomic: if any task in it is invalid, or reuses a known taskUUID
with different parameters, the request is answered 400 with every error
(each scoped to its task) and none of its tasks is accepted. Tasks accepted by
earlier requests are never touched, and resending the corrected request is
safe (resubmitting a known task with the same parameters just acks again).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ltxmock.validators import RequestValidator, default_validator

from . import directives, lifecycle, limits
from .admission import Admission, AdmissionError, admit
from .auth import AUTHENTICATION
from .config import MockConfig
from .credits import CreditBook, task_cost
from .deliveries import Deliveries
from .errors import (
    ApiError,
    ErrorItem,
    conflict_task_uuid,
    error_item,
    task_not_found,
)
from .fault_book import FaultBook
from .faults import Fault
from .journal import Journal
from .ports import Store
from .records import TaskRecord
from .renders import Renders
from .replay import Replay
from .reply import Reply
from .request import ApiRequest
from .scripts import ScriptBook

GET_RESPONSE, PING, VIDEO_INFERENCE = "getResponse", "ping", "videoInference"
PURGE_EVERY = 60.0  # seconds between lazy purges of expired tasks, per process

log = logging.getLogger("ltxmock.server")


@dataclass(slots=True)
class _Exchange:
    """One request inside ``handle_batch``: checked, then written, then answered."""

    request: ApiRequest
    at: float
    max_errors: int  # error items the answer shows (``Reply.capped``)
    body: Any = None  # the request's body, prompt directives taken out
    directed: Mapping[int, directives.TaskDirectives] = field(default_factory=dict)
    transport: Fault | None = None  # a transport fault the answer gets
    reply: Reply | None = None  # set when checked (refused, or read-only) or written
    admitted: Admission | None = None  # submits still to write
    drafts: Mapping[int, TaskRecord] = field(default_factory=dict)
    accepted: list[TaskRecord] = field(default_factory=list)
    chosen_failure: Fault | None = None  # a task failure a stored rule chose

    @property
    def base_url(self) -> str:
        return self.request.base_url

    @property
    def answer(self) -> Reply:
        """What is sent and journaled: every reply of the service leaves through here."""
        if self.reply is None:  # never written: nothing of it was stored
            return Reply.internal_error()
        reply = self.reply.capped(self.max_errors)
        if self.transport is None:
            return reply
        # Journaled by its name unless a fault already shaped the answer itself.
        label = reply.fault or self.transport.label
        return dataclasses.replace(reply, transport=self.transport, fault=label)


class MockService:
    """The mock's behaviour and state: ``handle`` requests; ``faults``, ``journal``,
    ``results`` (the rendered videos), ``deliveries`` (webhooks, uploads),
    ``scripts`` (scripted polls per task) and ``credits`` (balances per key)."""

    def __init__(
        self,
        config: MockConfig,
        *,
        store: Store,
        validator: RequestValidator | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.faults = FaultBook(store.faults)
        self.scripts = ScriptBook(store.scripts)
        self.credits = CreditBook(store.credits, default=config.balance, secret=store.secret)
        self._key_faults = config.key_faults()
        self.journal = Journal(
            store.journal, limit=config.journal_limit, max_bytes=config.journal_max_bytes
        )
        self._validator = validator
        self._last_purge = -math.inf
        self.results = Renders(config, store, lambda: self.validator)
        self.deliveries = Deliveries(config, store, self.results)
        self.deliveries.resume()  # a restart picks up what the last run left pending
        self.replay: Replay | None = None
        if config.replay_dir is not None:
            self.replay = Replay(
                config.replay_dir,
                speed=config.replay_speed,
                strict=config.replay_strict,
                api_keys=config.api_keys,
                validator=lambda: self.validator,
            )

    @property
    def validator(self) -> RequestValidator:
        # Resolved on first use so importing the server stays cheap.
        if self._validator is None:
            self._validator = default_validator()
        return self._validator

    def now(self) -> float:
        return self.config.clock()

    # -- the one way in -----------------------------------------------------------
    def handle(self, request: ApiRequest) -> Reply:
        """Answer one request."""
        return self.handle_batch([request])[0]

    def handle_batch(self, requests: Sequence[ApiRequest]) -> list[Reply]:
        """Answer several requests, their writes committed in one store transaction.

        Each request is checked (and polls answered) first, outside the
        transaction; then every submit and journal entry is written in it, each
        request in a savepoint of its own (a refused one leaves no trace and
        the others are untouched); after the commit, accepted tasks start
        rendering and delivering. A server that gathers the requests ready at
        one moment (``ltxmock serve``'s group commit) pays for one commit.
        """
        exchanges = [self._check(request) for request in requests]
        try:
            # The UUIDs to submit are held store-wide, so that looking for them in
            # every worker's tasks and storing them is one step (exactly once).
            submitted, at = _submitted(exchanges)
            with self.store.reserve(submitted), self.store.transaction():
                known = self.store.tasks.live(submitted, now=at) if submitted else {}
                for exchange in exchanges:
                    self._write(exchange, known)
        except Exception as exc:  # nothing of the batch was stored
            for exchange in exchanges:
                self._write_failed(exchange, exc)
        for exchange in exchanges:
            self._accepted(exchange.accepted)  # even for a client that left
        return [exchange.answer for exchange in exchanges]

    def record(
        self,
        *,
        at: float,
        transport: str,
        path: str,
        body: Any,
        reply: Reply,
        method: str = "POST",
        headers: Iterable[tuple[str, str]] = (),
        api_key: str | None = None,
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
                headers=headers,
                api_key=api_key,
            )
        except Exception:
            log.exception("could not write the request journal")

    def reset(self) -> None:
        """Forget all tasks, fault rules, scripts, balances, journal entries, files
        and deliveries."""
        self.store.reset()
        self.results.clear()

    def close(self) -> None:
        self.deliveries.close()
        self.results.close()
        self.store.close()

    # -- the three steps of a batch -------------------------------------------------
    def _check(self, request: ApiRequest) -> _Exchange:
        """Everything before the writes: checks, polls, drafts of new tasks."""
        # Too many tasks: refused before authentication and before any task is validated.
        refusal = request.refusal or limits.too_many_tasks(
            request.body, self.config.max_tasks_per_request
        )
        if refusal is not None:
            exchange = self._exchange(request)
            exchange.reply = Reply.from_error(refusal)
            return exchange
        if self.replay is not None:
            replayed = self.replay.answer(request, self._clock(request))
            if replayed is not None:  # answered from a cassette: journaled, nothing stored
                exchange = self._exchange(request)
                exchange.reply = replayed
                return exchange
        submits = _submits(request.body)
        if submits:
            # Before the clock is read and any lock taken: the first import takes
            # a good part of a second, and the task's latency starts after it.
            self.results.load()
        exchange = self._exchange(request)
        try:
            directed = directives.extract(request.body)
            exchange.body, exchange.directed = directed.body, directed.tasks
            admitted = admit(
                exchange.body,
                header_key=request.api_key,
                fault=request.fault or directed.reply or directed.transport,
                transports=request.transport == "rest",
                api_keys=self.config.api_keys,
                faults=self.faults,
                validator=self.validator,
                secret=self.store.secret,
                key_faults=self._key_faults,
            )
            exchange.transport = admitted.transport
            self._maybe_purge(exchange.at)
            if submits:
                exchange.admitted = admitted
                exchange.drafts = self._drafts(exchange, admitted)
            else:  # polls and pings only read: the journal entry is the one write
                exchange.reply = self._run(exchange, admitted, {})
        except Exception as exc:
            if isinstance(exc, AdmissionError):
                exchange.transport = exc.transport
            exchange.reply = self._failure(exc, request)
        return exchange

    def _exchange(self, request: ApiRequest) -> _Exchange:
        return _Exchange(
            request, self._clock(request), self.config.max_error_items, body=request.body
        )

    def _clock(self, request: ApiRequest) -> float:
        return self.now() if request.now is None else request.now

    def _write(self, exchange: _Exchange, known: dict[str, TaskRecord]) -> None:
        """Inside the transaction: the exchange's new tasks, and its journal entry."""
        admitted = exchange.admitted
        if admitted is not None and exchange.reply is None:
            before = dict(known)
            try:
                with self.store.savepoint():
                    exchange.reply = self._run(exchange, admitted, known)
            except Exception as exc:
                exchange.accepted.clear()
                known.clear()
                known.update(before)  # what the rollback unstored is unknown again
                exchange.reply = self._failure(exc, exchange.request)
        request = exchange.request
        self.record(
            at=exchange.at,
            transport=request.transport,
            path=request.path,
            body=request.body,
            reply=exchange.answer,
            headers=request.headers,
            api_key=request.api_key,
        )

    def _write_failed(self, exchange: _Exchange, exc: Exception) -> None:
        """The transaction failed: nothing of the exchange was stored."""
        if exchange.admitted is None:  # a read-only answer stands; only its journal entry is lost
            log.error("could not write the request journal", exc_info=exc)
            return
        exchange.accepted.clear()
        exchange.reply = self._failure(exc, exchange.request)

    def _failure(self, exc: Exception, request: ApiRequest) -> Reply:
        if isinstance(exc, ApiError):
            return Reply.from_error(exc)
        log.error("unexpected error while handling a %s request", request.transport, exc_info=exc)
        return Reply.internal_error()

    # -- the protocol ---------------------------------------------------------------
    def _run(self, exchange: _Exchange, admitted: Admission, known: dict[str, TaskRecord]) -> Reply:
        """The reply to an admitted request; new tasks are appended to ``accepted``.

        ``known``: the live tasks of the submitted UUIDs (``_submitted``), kept
        up to date as tasks are stored.
        """
        data: list[dict[str, Any]] = []
        errors: list[ErrorItem] = []
        conflicts: list[ErrorItem] = []
        submits = False
        accepted_before = len(exchange.accepted)
        for position, task in enumerate(exchange.body):
            task_type = task["taskType"]
            if task_type == AUTHENTICATION:
                continue  # REST answers carry no auth item; clients ignore it anyway
            if task_type == PING:
                data.append(pong(task))
            elif task_type == GET_RESPONSE:
                items, failures = self._poll(task["taskUUID"], admitted.owner, exchange)
                data.extend(items)
                errors.extend(failures)
            elif task_type == VIDEO_INFERENCE:
                submits = True
                answer = self._submit(task, admitted, exchange, position, known)
                # An ack has no "code"; a conflict is an error item.
                (conflicts if "code" in answer else data).append(answer)
            else:
                raise ApiError(400, [_not_runnable(task)])
        if conflicts:
            raise ApiError(400, conflicts)  # none of the request's tasks is stored
        new = exchange.accepted[accepted_before:]
        if new and self.credits.enabled():  # last: a refusal rolls the whole request back
            cost = round(sum(task_cost(record.params) for record in new), 4)
            self.credits.charge(admitted.owner, cost, [dict(r.params) for r in new])
        task_fault = (
            admitted.task_fault
            or next((d.failure for d in exchange.directed.values() if d.failure is not None), None)
            or exchange.chosen_failure
        )
        fault_label = task_fault.label if task_fault is not None and submits else None
        if errors and not data and all(e["code"] == "taskNotFound" for e in errors):
            return Reply.envelope(data, errors, status=self.config.not_found_status)
        return Reply.envelope(data, errors, fault=fault_label)

    def _submit(
        self,
        task: Mapping[str, Any],
        admitted: Admission,
        exchange: _Exchange,
        position: int,
        known_tasks: dict[str, TaskRecord],
    ) -> dict[str, Any]:
        draft = exchange.drafts.get(position)
        task_uuid = task["taskUUID"]
        at = exchange.at
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
            directed = exchange.directed.get(position)
            failure = (directed.failure if directed else None) or admitted.task_fault
            if failure is None and admitted.rules:
                failure = self.faults.next_for_task(task)
                exchange.chosen_failure = exchange.chosen_failure or failure
            record = self._draft(task, admitted.owner, at, failure, directed)
        self.store.tasks.put(record)  # nothing of its results: their rows derive from it
        known_tasks[task_uuid.lower()] = record
        self.deliveries.schedule(record, base_url=self._base_url(exchange), now=at)
        exchange.accepted.append(record)
        return lifecycle.ack(record)

    def _draft(
        self,
        task: Mapping[str, Any],
        owner: str,
        at: float,
        failure: Fault | None,
        directed: directives.TaskDirectives | None = None,
    ) -> TaskRecord:
        """A new task's record (no store access); a prompt directive may set its latency."""
        latency = directed.latency if directed and directed.latency is not None else None
        return lifecycle.new_task(
            task,
            key_fingerprint=owner,
            now=at,
            latency=self.config.latency if latency is None else latency,
            default_ttl=self.config.result_ttl,
            failure=failure,
        )

    def _drafts(self, exchange: _Exchange, admitted: Admission) -> dict[int, TaskRecord]:
        """Drafts of the request's submits, made before the transaction.

        Not when fault rules exist: which task fails is decided in the transaction.
        """
        if admitted.rules:
            return {}
        drafts = {}
        for position, task in enumerate(exchange.body):
            if task.get("taskType") == VIDEO_INFERENCE:
                directed = exchange.directed.get(position)
                failure = (directed.failure if directed else None) or admitted.task_fault
                drafts[position] = self._draft(task, admitted.owner, exchange.at, failure, directed)
        return drafts

    def _accepted(self, records: list[TaskRecord]) -> None:
        """After the commit: start rendering (eager mode) and dispatching."""
        if self.config.render_mode == "eager" and records:
            self.results.start(*records)  # one store write for the deferred ones
        for record in records:
            if isinstance(record.params.get("webhookURL"), str) or isinstance(
                record.params.get("uploadEndpoint"), str
            ):
                self.deliveries.start()

    def _poll(
        self, task_uuid: str, owner: str, exchange: _Exchange
    ) -> tuple[list[dict[str, Any]], list[ErrorItem]]:
        at = exchange.at
        record = self.store.tasks.get(task_uuid, now=at)
        if record is None or record.key_fingerprint != owner:
            return [], [task_not_found(task_uuid)]  # other keys' tasks are invisible
        scripted = self.scripts.poll(record, now=at, base_url=self._base_url(exchange))
        if scripted is not None:
            return scripted
        states = None
        if (
            self.config.render_mode == "eager"
            and at >= record.completes_at
            and record.failure_code is None
        ):
            states = self.results.states(record)  # kicks a render nobody is doing
        return lifecycle.poll(record, now=at, base_url=self._base_url(exchange), results=states)

    def _base_url(self, exchange: _Exchange) -> str:
        return self.config.public_base_url or exchange.base_url

    def _maybe_purge(self, at: float) -> None:
        if at - self._last_purge >= PURGE_EVERY:
            self._last_purge = at
            self.store.tasks.purge_expired(now=at)
            self.results.delete_files(self.store.media.purge_expired(now=at))


def pong(task: Mapping[str, Any]) -> dict[str, Any]:
    """The answer to a ``ping`` task (REST and the WebSocket alike)."""
    answer: dict[str, Any] = {"taskType": PING, "pong": True}
    if isinstance(task.get("taskUUID"), str):
        answer["taskUUID"] = task["taskUUID"]
    return answer


def _submitted(exchanges: Sequence[_Exchange]) -> tuple[list[str], float]:
    """The UUIDs the admitted submits of a batch carry (one spelling each), and the
    batch's earliest time: tasks live then are known."""
    uuids: dict[str, str] = {}
    at = math.inf
    for exchange in exchanges:
        if exchange.admitted is None or exchange.reply is not None:
            continue
        at = min(at, exchange.at)
        for task in exchange.body:  # admitted: a list of valid tasks
            if task["taskType"] == VIDEO_INFERENCE:
                uuids.setdefault(task["taskUUID"].lower(), task["taskUUID"])
    return list(uuids.values()), at


def _submits(body: Any) -> bool:
    return isinstance(body, list) and any(
        isinstance(task, dict) and task.get("taskType") == VIDEO_INFERENCE for task in body
    )


def _not_runnable(task: Mapping[str, Any]) -> ErrorItem:
    return error_item(
        "unsupportedTaskType",
        f"Invalid value for taskType parameter. The mock validates {task['taskType']!r} "
        f"tasks but cannot run them; it runs {VIDEO_INFERENCE}, {GET_RESPONSE} and {PING}.",
        parameter="taskType",
        task_uuid=task.get("taskUUID") if isinstance(task.get("taskUUID"), str) else None,
        task_type=task["taskType"],
    )
