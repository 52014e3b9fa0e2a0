"""Webhook POSTs and ``uploadEndpoint`` PUTs: persisted, leased, retried.

When a task is accepted, one delivery per result and target (``upload``,
``webhook``) is written to the store's ``deliveries`` table, due at the task's
completion, in the same transaction as the task: a restart resumes them, and
nothing is silently dropped (at least once). A dispatcher thread per process
claims due deliveries with a lease (so two processes never send the same one
at once), then:

* upload: once the result's file is rendered, PUT it raw (``Content-Type`` of
  the format, ``Content-Length``, no auth headers: presigned URLs carry their own);
* webhook: once a poll would say the result is done (eager mode: its file
  rendered or deferred; lazy mode: at the latency, the file made on first
  download), POST the result as getResponse shows it, flat or ``{"data": [item]}``
  (failures: the error item, or ``{"errors": [item]}``), only once the same
  result's upload is settled (PUT before POST).

A non-2xx answer, connection error or timeout is retried with exponential
backoff and full jitter until ``delivery_max_attempts``; then the delivery is
``failed``. A target that can never be right (not HTTP(S), the mock itself,
outside ``callback_allow``: ``callback_targets``) fails at once, unsent. Every
attempt is in the delivery log (``service.deliveries.log()``,
``GET /__ltxmock/deliveries``). URLs are stored whole, for sending, but shown
in the log and log lines with their query hidden, as it usually carries a token.

A target on a reserved name (``callback_targets.is_sink``: ``example.com``,
``*.test``, ...) is never connected to: when the delivery would be sent, its
body (the webhook's JSON, the upload's file) is kept instead and the delivery
is ``captured`` (``captured(id)``; ``GET /__ltxmock/deliveries/<id>/body``).
"""

from __future__ import annotations

import concurrent.futures as futures
import functools
import http.client
import json
import logging
import os
import random
import socket
import ssl
import threading
import time
import uuid
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from ltxmock import __version__

from . import lifecycle
from .callback_targets import (
    OwnAddress,
    TargetRefusedError,
    is_sink,
    parse_allow,
    peer_refusal,
    refusal,
)
from .config import MockConfig
from .ports import Store
from .records import AttemptRow, Capture, DeliveryRow, NewDelivery, TaskRecord
from .renders import Renders

log = logging.getLogger("ltxmock.server")

UPLOAD, WEBHOOK = "upload", "webhook"
PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
CAPTURED = "captured"
CAPTURE_LIMIT = 64 * 1024 * 1024  # bytes of a captured body kept (beyond: size and hash)
SENDERS = 4  # deliveries in flight per process: one slow receiver does not stall the rest
LEASE_MARGIN = 30.0  # seconds beyond the attempt timeout before another process may take over
USER_AGENT = f"ltxmock/{__version__}"


def plan(record: TaskRecord, *, base_url: str, now: float) -> list[NewDelivery]:
    """The deliveries a newly accepted task asks for: uploads first, per result."""
    params = record.params
    upload, webhook = params.get("uploadEndpoint"), params.get("webhookURL")
    planned = []
    for index in range(record.number_results):
        # A task an injected fault fails has no file: only its webhook is sent.
        targets = ((UPLOAD, upload), (WEBHOOK, webhook))
        for kind, url in targets:
            if not isinstance(url, str) or (kind == UPLOAD and record.failure_code is not None):
                continue
            planned.append(
                NewDelivery(
                    task_uuid=record.task_uuid,
                    result_index=index,
                    kind=kind,
                    url=url,
                    base_url=base_url,
                    created_at=now,
                    due_at=record.completes_at,
                )
            )
    return planned


# Our own generator: drawing from the global one in a background thread changes the
# random state of the process hosting the mock (a user's test run), which, for one,
# Hypothesis reports as non-determinism in their strategies.
_JITTER = random.Random()


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
    return _JITTER.uniform(0.0, min(cap, base * 2 ** max(0, attempt - 1)))


def redact_url(url: str) -> str:
    """For the delivery log and log lines: the query (usually a token) and any
    user:password hidden."""
    head, sep, _ = url.partition("?")
    scheme, slashes, rest = head.partition("//")
    authority, slash, path = rest.partition("/")
    if slashes and "@" in authority:
        head = f"{scheme}//…@{authority.rsplit('@', 1)[1]}{slash}{path}"
    return f"{head}?…" if sep else head


def send(
    method: str,
    url: str,
    body: Any,
    headers: dict[str, str],
    *,
    timeout: float,
    own: OwnAddress | None = None,
) -> tuple[int | None, str | None]:
    """One HTTP request; (status, None) or (None, error). The URL is sent as given.

    http.client (not a higher-level client) so the path and query go out byte
    for byte, nothing is added but ``Host`` and ``Accept-Encoding``, and no
    redirect is followed. With ``own``, a connection that reached the mock
    itself is closed before a byte is sent: ``TargetRefusedError``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, f"unsupported URL scheme {parts.scheme!r}"
    after_host = url.split("//", 1)[1]
    slash, question = after_host.find("/"), after_host.find("?")
    starts = [i for i in (slash, question) if i >= 0]
    target = after_host[min(starts) :] if starts else "/"
    target = target.split("#", 1)[0]
    if target.startswith("?"):
        target = "/" + target
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
        connection = (
            http.client.HTTPSConnection(parts.hostname, port, timeout=timeout, context=_tls())
            if https
            else http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
        )
    except (ValueError, http.client.HTTPException) as exc:  # a bad port or host
        return None, f"invalid URL: {_hide_query(str(exc), parts.query)}"
    try:
        # Connected here rather than by http.client, to look at the peer first.
        connection.sock = socket.create_connection((parts.hostname, port), timeout)
        refused = peer_refusal(connection.sock, own) if own is not None else None
        if refused is not None:
            raise TargetRefusedError(refused)
        if https:
            connection.sock = _tls().wrap_socket(connection.sock, server_hostname=parts.hostname)
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(1 << 16)  # the receiver's answer is not used
        return response.status, None
    except (OSError, http.client.HTTPException) as exc:
        kind = "timeout" if isinstance(exc, socket.timeout | TimeoutError) else type(exc).__name__
        return None, f"{kind}: {_hide_query(str(exc), parts.query)}"
    finally:
        connection.close()


@functools.lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """http.client's default: certificates and host names verified, HTTP/1.1 by ALPN."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def _hide_query(text: str, query: str) -> str:
    # http.client quotes a URL it refuses (control characters) in its message.
    return text.replace(query, "…") if query else text


def _lease_owner() -> str:
    """This process as a lease's owner: ``host:pid:nonce`` (``_owner_pid`` reads it back)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_pid(owner: str, host: str) -> int | None:
    """The PID of a ``_lease_owner`` of ``host``; None for another host's (or a malformed one)."""
    owner_host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return int(pid) if owner_host == host and pid.isdigit() else None


def _alive(pid: int) -> bool:
    """Whether a process of this PID exists (another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Deliveries:
    """``service.deliveries``: schedule, dispatch and inspect webhooks and uploads."""

    def __init__(self, config: MockConfig, store: Store, renders: Renders) -> None:
        self.config = config
        self._store = store
        self._renders = renders
        self.owner = _lease_owner()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders: futures.ThreadPoolExecutor | None = None
        self._busy = threading.Semaphore(SENDERS)
        self._lock = threading.Lock()
        self._allow = parse_allow(config.callback_allow)
        renders.on_ready.append(self._wake.set)

    # -- scheduling ----------------------------------------------------------------
    def schedule(self, record: TaskRecord, *, base_url: str, now: float) -> int:
        """Store the deliveries of a newly accepted task (inside its transaction)."""
        planned = plan(record, base_url=base_url, now=now)
        if planned:
            self._store.deliveries.add(planned)
        return len(planned)

    def start(self) -> None:
        """Run the dispatcher thread (idempotent; a daemon, stopped by ``close``)."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._senders = futures.ThreadPoolExecutor(
                SENDERS, thread_name_prefix="ltxmock-deliver"
            )
            self._thread = threading.Thread(
                target=self._run, name="ltxmock-dispatcher", daemon=True
            )
            self._thread.start()
        self._wake.set()

    def resume(self) -> None:
        """Start the dispatcher if the store holds pending deliveries (after a restart),
        first giving back the leases of processes of this host that are gone."""
        try:
            if self._store.deliveries.has_pending():
                self.release_orphaned_leases()
                self.start()
        except Exception:
            log.exception("could not look for pending deliveries")

    def release_orphaned_leases(self) -> int:
        """Give back the leases held by dead processes of this host (a killed worker's
        deliveries would otherwise wait for their lease to run out); how many. A
        live PID keeps its leases, even if it was reused: the lease then runs out."""
        host = socket.gethostname()
        released = 0
        for delivery_id, owner in self._store.deliveries.leases(wall=time.time()):
            pid = _owner_pid(owner, host)
            if pid is not None and not _alive(pid):
                self._store.deliveries.release(delivery_id, owner)
                released += 1
        return released

    def close(self) -> None:
        with self._lock:
            self._stop.set()
            thread, senders = self._thread, self._senders
        self._wake.set()
        if thread is not None:
            thread.join(timeout=5)
        if senders is not None:
            # A send in progress finishes (bounded by its timeout); its lease
            # expires if the process goes first, and another process resends.
            senders.shutdown(wait=False, cancel_futures=True)

    # -- the log ---------------------------------------------------------------------
    def all(self, task_uuid: str | None = None) -> list[DeliveryRow]:
        """Every delivery (of one task), oldest first, with its state."""
        return self._store.deliveries.all(task_uuid=task_uuid)

    def log(self, task_uuid: str | None = None) -> list[AttemptRow]:
        """Every attempt (of one task's deliveries), oldest first."""
        return self._store.deliveries.attempts(task_uuid=task_uuid)

    def captured(self, delivery_id: int, *, with_body: bool = True) -> Capture | None:
        """What a captured delivery would have sent (None: not captured); without its
        body (``body`` None), only its type, size and hash."""
        return self._store.deliveries.captured(delivery_id, with_body=with_body)

    def to_json(
        self, task_uuid: str | None = None, *, kind: str | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        """The delivery log; a captured delivery shows its body (a webhook's JSON)
        or, for an upload, its size, SHA-256 and where to read its bytes."""
        attempts: dict[int, list[dict[str, Any]]] = {}
        for attempt in self.log(task_uuid):
            entry = asdict(attempt)
            for key in ("delivery_id", "task_uuid", "result_index", "kind", "url"):
                del entry[key]
            attempts.setdefault(attempt.delivery_id, []).append(entry)
        shown = []
        for d in self.all(task_uuid):
            if (kind is not None and d.kind != kind) or (state is not None and d.state != state):
                continue
            row = {**asdict(d), "url": redact_url(d.url), "attempt_log": attempts.get(d.id, [])}
            if d.state == CAPTURED:
                row["captured"] = self._capture_json(d)
            shown.append(row)
        return shown

    def _capture_json(self, delivery: DeliveryRow) -> dict[str, Any] | None:
        # The log shows a webhook's JSON; an upload (a video) only by size and hash.
        capture = self.captured(delivery.id, with_body=delivery.kind == WEBHOOK)
        if capture is None:
            return None
        shown: dict[str, Any] = {
            "contentType": capture.content_type,
            "size": capture.size,
            "sha256": capture.sha256,
            "bodyURL": f"/__ltxmock/deliveries/{delivery.id}/body",
        }
        if delivery.kind == WEBHOOK and capture.body is not None:
            shown["body"] = json.loads(capture.body)
        return shown

    # -- the dispatcher ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:
                if self._stop.is_set():
                    break  # the store closed under us: nothing left to do
                log.exception("the delivery dispatcher failed; retrying")
            self._wake.wait(self.config.delivery_poll_interval)
            self._wake.clear()

    def _tick(self) -> None:
        free = 0
        while self._busy.acquire(blocking=False):
            free += 1
        claimed = self._store.deliveries.claim(
            self.owner,
            now=self.config.clock(),
            wall=time.time(),
            lease=self.config.delivery_timeout + LEASE_MARGIN,
            limit=free,
        )
        for _ in range(free - len(claimed)):
            self._busy.release()
        for delivery in claimed:
            senders = self._senders
            if senders is None:
                self._busy.release()
                continue
            try:
                senders.submit(self._deliver_and_release, delivery)
            except RuntimeError:  # closing
                self._busy.release()
                self._store.deliveries.release(delivery.id, self.owner)

    def _deliver_and_release(self, delivery: DeliveryRow) -> None:
        try:
            self._deliver(delivery)
        except Exception as exc:
            if self._stop.is_set():
                return  # closing: the lease runs out and a later run resends it
            log.exception("delivery %s failed unexpectedly", delivery.id)
            # Counted as a failed attempt, so a bug retries with backoff and then
            # gives up, rather than spinning on one delivery for ever.
            try:
                self._finish(delivery, None, f"internal error: {type(exc).__name__}")
            except Exception:
                self._store.deliveries.release(delivery.id, self.owner)
        finally:
            self._busy.release()
            self._wake.set()  # a settled upload may unblock its webhook

    def _deliver(self, delivery: DeliveryRow) -> None:
        now = self.config.clock()
        # A sink target is never connected to, so the allow-list has no say.
        refused = (
            None
            if is_sink(delivery.url)
            else refusal(delivery.url, own=self._own(delivery), allow=self._allow)
        )
        if refused is not None:
            self._settle(delivery, FAILED, refused, now)
            return
        record = self._store.tasks.get(delivery.task_uuid, now=now)
        if record is None:
            self._settle(delivery, FAILED, "the task expired or the mock was reset", now)
            return
        error: str | None = None
        if record.failure_code is None:
            if delivery.kind == UPLOAD:  # needs the file, even a deferred result's
                rows = self._renders.rows(record)
                state = self._renders.fetch(record, rows[delivery.result_index])
            else:  # announces the result: done once a poll says so
                state = self._renders.announced(record, delivery.result_index)
            if not state.done and state.error is None:
                # Rendering (kicked just now if nobody was): look again soon.
                self._store.deliveries.release(delivery.id, self.owner)
                return
            error = state.error
        if delivery.kind == UPLOAD:
            if error is not None:
                self._settle(delivery, SKIPPED, f"no file to upload: {error}", now)
                return
            self._upload(delivery, record)
        else:
            self._webhook(delivery, record, error)

    def _upload(self, delivery: DeliveryRow, record: TaskRecord) -> None:
        rows = self._renders.rows(record)
        row = next((r for r in rows if r.result_index == delivery.result_index), None)
        if row is None:
            self._settle(delivery, SKIPPED, "the result has no file", self.config.clock())
            return
        media = self._renders.open_file(row)  # never through a link placed in the folder
        if media is None:  # gone since its state was read (rendered again on the next look)
            self._store.deliveries.release(delivery.id, self.owner)
            return
        with media.file as body:
            headers = {
                "Content-Type": row.content_type,
                "Content-Length": str(media.size),
                "User-Agent": USER_AGENT,
            }
            self._attempt(delivery, "PUT", body, headers)

    def _webhook(self, delivery: DeliveryRow, record: TaskRecord, render_error: str | None) -> None:
        wrapped = self.config.webhook_envelope == "wrapped"
        if record.failure_code is not None or render_error is not None:
            item = (
                lifecycle.task_failure_item(record)
                if record.failure_code is not None
                else lifecycle.render_failure_item(record, render_error or "")
            )
            payload: Any = {"errors": [item]} if wrapped else item
        else:
            item = lifecycle.success_item(record, delivery.result_index, delivery.base_url)
            payload = {"data": [item]} if wrapped else item
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "User-Agent": USER_AGENT,
        }
        self._attempt(delivery, "POST", body, headers)

    def _attempt(
        self, delivery: DeliveryRow, method: str, body: Any, headers: dict[str, str]
    ) -> None:
        if is_sink(delivery.url):
            self._capture(delivery, body, headers["Content-Type"])
            return
        try:
            status, error = send(
                method,
                delivery.url,
                body,
                headers,
                timeout=self.config.delivery_timeout,
                own=self._own(delivery),
            )
        except TargetRefusedError as refused:
            self._settle(delivery, FAILED, str(refused), self.config.clock())
            return
        self._finish(delivery, status, error)

    def _finish(self, delivery: DeliveryRow, status: int | None, error: str | None) -> None:
        """Record one attempt: delivered, or pending again after a backoff, or failed
        once the attempts are used up."""
        attempt = delivery.attempts + 1
        now = self.config.clock()
        if status is not None and 200 <= status < 300:
            state, due = DELIVERED, None
        else:
            error = error or f"HTTP {status}"
            exhausted = attempt >= self.config.delivery_max_attempts
            state = FAILED if exhausted else PENDING
            due = (
                None
                if exhausted
                else now
                + backoff(
                    attempt, base=self.config.delivery_backoff, cap=self.config.delivery_backoff_cap
                )
            )
        # Every failed attempt is one warning (URL without its query or user info):
        # a client whose webhook endpoint is down learns it from the log.
        outcome = {DELIVERED: "", FAILED: ", giving up", PENDING: ", will retry"}[state]
        log.log(
            logging.DEBUG if state == DELIVERED else logging.WARNING,
            "%s %s of task %s result %d: attempt %d -> %s%s",
            delivery.kind,
            redact_url(delivery.url),
            delivery.task_uuid,
            delivery.result_index,
            attempt,
            status if status is not None else error,
            outcome,
        )
        self._store.deliveries.finish_attempt(
            delivery.id,
            self.owner,
            at=now,
            attempt=attempt,
            status=status,
            error=error,
            state=state,
            due_at=due,
        )

    def _capture(self, delivery: DeliveryRow, body: Any, content_type: str) -> None:
        """Keep what would have been sent to a reserved name; nothing leaves the machine."""
        # An upload's file is one rendered video: bounded by the largest the spec allows.
        data = body if isinstance(body, bytes) else bytes(body.read())
        log.debug(
            "%s %s of task %s captured (%d bytes), not sent",
            delivery.kind,
            redact_url(delivery.url),
            delivery.task_uuid,
            len(data),
        )
        self._store.deliveries.capture(
            delivery.id,
            self.owner,
            at=self.config.clock(),
            content_type=content_type,
            body=data,
            keep=CAPTURE_LIMIT,
        )

    def _own(self, delivery: DeliveryRow) -> OwnAddress:
        return OwnAddress.of(self.config, delivery.base_url)

    def _settle(self, delivery: DeliveryRow, state: str, reason: str, now: float) -> None:
        log.warning("%s of task %s not sent: %s", delivery.kind, delivery.task_uuid, reason)
        self._store.deliveries.finish_attempt(
            delivery.id,
            self.owner,
            at=now,
            attempt=None,
            status=None,
            error=reason,
            state=state,
        )
