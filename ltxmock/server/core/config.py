"""MockConfig: every knob of the mock server, as one immutable value."""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .addresses import split_host_port
from .faults import Fault

MIB = 1024 * 1024
MB = 1000 * 1000
ENV_PREFIX = "LTXMOCK_"
DATABASE_NAME = "ltxmock.sqlite3"

WebhookEnvelope = Literal["flat", "wrapped"]
RenderMode = Literal["eager", "lazy"]
RenderExecutor = Literal["process", "thread"]


@dataclass(frozen=True)
class MockConfig:
    """How a mock server behaves. Build one, or pass overrides to ``create_app``.

    ``latency`` is the time from the acknowledgement to ``success`` (0 = done at
    the first poll). ``api_keys`` empty means any non-empty key is accepted.
    ``data_dir`` None keeps tasks in memory (one process only); a directory
    holds ``ltxmock.sqlite3``, which several server processes can share.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    latency: float = 3.0
    api_keys: tuple[str, ...] = ()
    data_dir: Path | None = None
    max_body_bytes: int = 4 * MIB
    # Bounds on one request's cost (limits.py): more tasks than this are refused
    # before any is validated (the SDKs send one per request); a reply shows at
    # most this many error items, the last one counting those left out.
    max_tasks_per_request: int = 10
    max_error_items: int = 100
    result_ttl: int = 3600
    webhook_envelope: WebhookEnvelope = "flat"
    public_base_url: str | None = None
    # Runware does not document it; 404 is the reference's suggestion and every
    # SDK maps the taskNotFound code itself (200 is the other sensible choice).
    not_found_status: int = 404
    journal_limit: int = 1000
    # The journal's text kept per process, at most (its oldest entries go first):
    # an entry keeps up to ~136 KiB of excerpts, so the count alone bounds a
    # shard only at ~136 MB.
    journal_max_bytes: int = 16 * MIB
    # WebSocket (ws.py): close a socket after this long without a message, keep
    # a dropped session's undelivered frames for resume this long (both 120 s
    # in the real API), refuse larger messages, give up on a send to a peer
    # that stopped reading after this long.
    ws_idle_timeout: float = 120.0
    ws_resume_window: float = 120.0
    ws_max_message_bytes: int = 1 * MIB
    ws_send_timeout: float = 10.0
    # Results (renders.py, deliveries.py). "eager" renders each video at submit
    # time and reports success only once its file exists (the real API's
    # order); "lazy" reports success at the latency and renders on the first
    # download or delivery (instant protocol tests). Renders run in a process
    # pool by default: under CPU contention a thread pool doubled getResponse's
    # p99 during a render (bench/render_pipeline.py, figures in bench/README.md),
    # and a process also isolates encoder crashes and memory.
    render_mode: RenderMode = "eager"
    render_executor: RenderExecutor = "process"
    render_workers: int = 1
    # Bounded background work (render_backlog.py, media_budget.py). Eager
    # renders queued or running per process, counted in 1080p/6 s/25 fps
    # renders (a larger video counts for more): beyond it a result is reported
    # at its latency and rendered on first download, as in lazy mode. 8 is
    # about 5 s of one core, so a burst never leaves minutes of CPU behind.
    # Rendered files are kept under media_budget bytes, least recently used
    # evicted first (and rendered again, identically, when asked for):
    # 100 MB is ~130 default videos, well under the 150 MB a data dir may
    # take after 200 eager submits.
    render_backlog: int = 8
    media_budget: int = 100 * MB
    # Added to the render processes' nice value. ``ltxmock serve`` passes 19, so
    # renders take the CPU its event loops leave and a submit never waits for a
    # render's time slice (bench/render_load.py); 0 here, because on a machine
    # crowded by others (a CI runner) niced renders would barely run at all.
    render_niceness: int = 0
    # Webhooks and uploadEndpoint PUTs: timeout per attempt, attempts in all,
    # exponential backoff with full jitter (250 ms doubling, capped at 8 s, as
    # the official SDKs retry), and how often an idle dispatcher looks for due
    # deliveries.
    delivery_timeout: float = 5.0
    delivery_max_attempts: int = 8
    delivery_backoff: float = 0.25
    delivery_backoff_cap: float = 8.0
    delivery_poll_interval: float = 0.1
    # A mock others can reach (http/admin_guard.py, callback_targets.py): the
    # token every /__ltxmock route but health then requires (never shown: not
    # in repr, logs or the banner), and the HOST[:PORT]s webhooks and uploads
    # may go to (empty: anywhere but the mock itself).
    admin_token: str | None = field(default=None, repr=False)
    callback_allow: tuple[str, ...] = ()
    # Credits (credits.py): the USD balance every API key starts with (None:
    # unlimited). Faults per API key (faults.py): "KEY=FAULT" entries, FAULT in
    # the X-Ltxmock-Fault syntax, applied to every request of that key. Kept
    # out of repr: the entries carry keys.
    balance: float | None = None
    fault_keys: tuple[str, ...] = field(default=(), repr=False)
    # Replay (replay.py): answer requests matching a cassette of ``ltxmock proxy
    # --record`` from it, its polls' timing divided by ``replay_speed``;
    # ``replay_strict`` refuses the others instead of mocking them.
    replay_dir: Path | None = None
    replay_speed: float = 1.0
    replay_strict: bool = False
    # Wall-clock seconds; tests inject a fake clock instead of sleeping.
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Coerce the loose types a CLI, a pytest marker or a test might pass.
        keys = (self.api_keys,) if isinstance(self.api_keys, str) else self.api_keys
        _set(self, "api_keys", tuple(str(k) for k in _iterable(keys)))
        if self.data_dir is not None and not isinstance(self.data_dir, Path):
            _set(self, "data_dir", Path(self.data_dir))
        if self.replay_dir is not None and not isinstance(self.replay_dir, Path):
            _set(self, "replay_dir", Path(self.replay_dir))
        _set(self, "replay_speed", float(self.replay_speed))
        if isinstance(self.media_budget, str):
            _set(self, "media_budget", parse_size(self.media_budget))
        if self.public_base_url is not None:
            _set(self, "public_base_url", self.public_base_url.rstrip("/"))
        allow = self.callback_allow
        allow = (allow,) if isinstance(allow, str) else allow
        _set(self, "callback_allow", tuple(str(a).strip() for a in _iterable(allow)))
        _set(self, "latency", float(self.latency))
        if self.balance is not None:
            _set(self, "balance", float(self.balance))
        fault_keys = self.fault_keys
        fault_keys = (fault_keys,) if isinstance(fault_keys, str) else fault_keys
        _set(self, "fault_keys", tuple(str(entry) for entry in _iterable(fault_keys)))
        problems = [
            message
            for failed, message in (
                (self.latency < 0, "latency must be >= 0 seconds"),
                (not 0 <= self.port <= 65535, "port must be 0-65535"),
                (self.max_body_bytes < 1, "max_body_bytes must be positive"),
                (self.max_tasks_per_request < 1, "max_tasks_per_request must be >= 1"),
                (self.max_error_items < 2, "max_error_items must be >= 2"),
                (self.result_ttl < 1, "result_ttl must be positive"),
                (self.journal_limit < 1, "journal_limit must be positive"),
                (self.journal_max_bytes < 1, "journal_max_bytes must be positive"),
                (self.ws_idle_timeout <= 0, "ws_idle_timeout must be > 0 seconds"),
                (self.ws_resume_window < 0, "ws_resume_window must be >= 0 seconds"),
                (self.ws_max_message_bytes < 1, "ws_max_message_bytes must be positive"),
                (self.ws_send_timeout <= 0, "ws_send_timeout must be > 0 seconds"),
                (self.render_mode not in ("eager", "lazy"), "render_mode: eager/lazy"),
                (
                    self.render_executor not in ("process", "thread"),
                    "render_executor: process/thread",
                ),
                (self.render_workers < 1, "render_workers must be positive"),
                (not self.replay_speed > 0, "replay_speed must be > 0"),
                (
                    self.replay_dir is not None and not self.replay_dir.is_dir(),
                    f"replay_dir {self.replay_dir} is not a directory",
                ),
                (self.render_backlog < 1, "render_backlog must be >= 1"),
                (self.media_budget < 1, "media_budget must be positive (bytes)"),
                (not 0 <= self.render_niceness <= 19, "render_niceness must be 0-19"),
                (self.delivery_timeout <= 0, "delivery_timeout must be > 0 seconds"),
                (self.delivery_max_attempts < 1, "delivery_max_attempts must be positive"),
                (self.delivery_backoff < 0, "delivery_backoff must be >= 0 seconds"),
                (self.delivery_backoff_cap < 0, "delivery_backoff_cap must be >= 0 seconds"),
                (self.delivery_poll_interval <= 0, "delivery_poll_interval must be > 0"),
                (
                    self.webhook_envelope not in ("flat", "wrapped"),
                    "webhook_envelope: flat/wrapped",
                ),
                (not 200 <= self.not_found_status <= 599, "not_found_status: an HTTP status"),
                (any(not k for k in self.api_keys), "api_keys must not contain an empty key"),
                (
                    self.admin_token is not None and not _header_safe(self.admin_token),
                    "admin_token must be non-empty visible ASCII (no spaces)",
                ),
                (
                    self.balance is not None and not 0 <= self.balance < float("inf"),
                    "balance must be a non-negative number of USD",
                ),
                *(
                    (True, f"callback_allow: {problem}")
                    for problem in _bad_hosts(self.callback_allow)
                ),
                *((True, f"fault_keys: {problem}") for problem in _bad_fault_keys(self.fault_keys)),
            )
            if failed
        ]
        if problems:
            raise ValueError("invalid MockConfig: " + "; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MockConfig:
        """Settings from ``LTXMOCK_<FIELD>`` variables (``LTXMOCK_DATA_DIR=/var/ltx``).

        For a WSGI server that imports ``ltxmock.server:create_app()`` itself, e.g.
        ``LTXMOCK_DATA_DIR=./data gunicorn -w 4 'ltxmock.server:create_app()'``.
        ``LTXMOCK_API_KEYS``, ``LTXMOCK_CALLBACK_ALLOW`` and ``LTXMOCK_FAULT_KEYS``
        are comma-separated.
        Unknown ``LTXMOCK_`` names are ignored (other tools share the prefix,
        e.g. ``LTXMOCK_SPEC_DIR``).
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            raw = env.get(f"{ENV_PREFIX}{spec.name.upper()}")
            if raw is None or spec.name == "clock":
                continue
            kind = type(getattr(cls(), spec.name))
            try:
                if spec.name == "api_keys":
                    values[spec.name] = tuple(k for k in raw.split(",") if k)
                elif spec.name in ("callback_allow", "fault_keys"):
                    values[spec.name] = tuple(a.strip() for a in raw.split(",") if a.strip())
                elif spec.name in ("data_dir", "public_base_url", "admin_token", "replay_dir"):
                    values[spec.name] = raw or None
                elif spec.name == "balance":
                    values[spec.name] = float(raw) if raw else None
                elif kind is bool:
                    values[spec.name] = _boolean(raw)
                elif spec.name == "media_budget":
                    values[spec.name] = parse_size(raw)
                elif kind in (int, float):
                    values[spec.name] = kind(raw)
                else:
                    values[spec.name] = raw
            except ValueError:
                raise ValueError(
                    f"{ENV_PREFIX}{spec.name.upper()}={raw!r}: expected a {kind.__name__}"
                ) from None
        return cls(**values)

    def replace(self, **overrides: Any) -> MockConfig:
        """A copy with some fields changed (unknown names raise TypeError)."""
        return dataclasses.replace(self, **overrides)

    def key_faults(self) -> dict[str, Fault]:
        """``fault_keys`` as API key -> the fault every request of that key gets."""
        faults = {}
        for entry in self.fault_keys:
            key, _, text = entry.partition("=")
            faults[key] = Fault.parse(text, times=None)
        return faults

    @property
    def media_dir(self) -> Path | None:
        """Where rendered videos live (None: a temporary directory per service)."""
        return self.data_dir / "media" if self.data_dir is not None else None

    @property
    def database_path(self) -> Path | None:
        return self.data_dir / DATABASE_NAME if self.data_dir is not None else None


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes from ``200MB``, ``1.5GiB``, ``500k`` or ``1048576`` (k/M/G/T are powers
    of 1000, with an ``i`` of 1024)."""
    found = _SIZE.fullmatch(text)
    if found is None:
        raise ValueError(f"{text[:40]!r} is not a size such as 200MB, 1GiB or 1048576")
    number, prefix, binary = found.groups()
    power = " kmgt".index(prefix.lower() or " ")
    return int(float(number) * (1024 if binary else 1000) ** power)


def _set(config: MockConfig, name: str, value: Any) -> None:
    object.__setattr__(config, name, value)


def _iterable(value: Any) -> Iterable[Any]:
    return value if value is not None else ()


def _boolean(raw: str) -> bool:
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _header_safe(token: str) -> bool:
    # Sent in a header: anything but visible ASCII would be mangled on the way.
    return bool(token) and all(0x21 <= ord(c) <= 0x7E for c in token)


def _bad_fault_keys(entries: tuple[str, ...]) -> list[str]:
    problems = []
    for entry in entries:
        key, equals, text = entry.partition("=")
        if not equals or not key or not text:
            problems.append("an entry is KEY=FAULT, e.g. k1=429 or k2=task:timeoutProvider")
            continue
        try:
            Fault.parse(text)
        except ValueError as exc:
            problems.append(f"the fault of a key: {exc}")  # never the key itself
    return problems


def _bad_hosts(entries: tuple[str, ...]) -> list[str]:
    problems = []
    for entry in entries:
        try:
            split_host_port(entry)
        except ValueError as exc:
            problems.append(f"{entry[:80]!r} is not HOST or HOST:PORT ({exc})")
    return problems
