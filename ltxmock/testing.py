"""Test helpers: a live mock server in a background thread, and assertions on it.

    from ltxmock.testing import MockServer

    with MockServer(latency=0) as mock:
        my_client(base_url=mock.url).generate("a red fox")
        mock.assert_submitted(times=1, duration=6)
        mock.assert_no_unexpected_errors()

The server is the same ASGI application as ``ltxmock serve`` (the same HTTP
handling, WebSocket and protocol core) on uvicorn in a background thread, on
a free 127.0.0.1 port, with an in-memory store. Videos are rendered on a
thread, not in a process: a render process would be started by ``spawn``
(forking a process with threads and SQLite connections is unsafe), which
re-runs a plain script that has no ``if __name__ == "__main__"`` guard. The
pytest plugin's ``ltxmock_server`` fixture yields one, taken from a
``ServerPool``: started once per session, reset between tests.

Every public name is described in docs/testing.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ltxmock import matchers
from ltxmock.extras import server_extra_hint

if TYPE_CHECKING:
    from flask import Flask

    from ltxmock.server import Fault, JournalEntry, MockConfig, MockService
    from ltxmock.server.serve.threaded import ThreadedServer

VIDEO_INFERENCE = "videoInference"
INSUFFICIENT_CREDITS = "insufficientCredits"
# MockConfig fields read on every request, so a running server can change them
# between tests; any other field needs a server of its own (ServerPool).
RUNTIME_SETTINGS = frozenset(
    {
        "latency",
        "api_keys",
        "max_tasks_per_request",
        "max_error_items",
        "not_found_status",
        "result_ttl",
        "webhook_envelope",
        "delivery_timeout",
        "delivery_max_attempts",
        "delivery_backoff",
        "delivery_backoff_cap",
        "clock",
        # Not read per request: applied as the default balance (credits.set_balance).
        "balance",
    }
)
# The kit's own defaults: tasks succeed at their latency and files are rendered
# on first download, on a thread (see the module docstring).
KIT_DEFAULTS: Mapping[str, Any] = {"port": 0, "render_mode": "lazy", "render_executor": "thread"}


class MockAssertionError(AssertionError):
    """An expectation on the mock's journal did not hold."""


class UnknownSettingError(TypeError):
    """A setting that is no ``MockConfig`` field (a typo in a marker, say)."""


def setting_names() -> list[str]:
    """Every setting ``MockServer`` and the ``ltxmock`` marker take: ``MockConfig``'s fields."""
    from ltxmock.server import MockConfig

    return sorted(f.name for f in dataclasses.fields(MockConfig))


def check_settings(settings: Iterable[str], *, extra: Collection[str] = ()) -> None:
    """Raise ``UnknownSettingError`` naming the valid settings if one is unknown."""
    valid = [*setting_names(), *extra]
    unknown = [name for name in settings if name not in valid]
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise UnknownSettingError(
        f"unknown ltxmock setting {', '.join(hints)}; valid settings: {', '.join(sorted(valid))}"
    )


class MockServer:
    """A running ltxmock server; use it as a context manager.

    ``overrides`` are ``MockConfig`` fields (``latency=0.5``, ``api_keys=["k"]``,
    ``data_dir=...``); host and port default to 127.0.0.1 and a free port.
    """

    def __init__(self, config: MockConfig | None = None, **overrides: Any) -> None:
        hint = server_extra_hint()
        if hint is not None:
            raise RuntimeError(hint)
        from ltxmock.server import MockConfig
        from ltxmock.server.serve.asgi import create_asgi_app

        check_settings(overrides)
        self.config = (config or MockConfig()).replace(**{**KIT_DEFAULTS, **overrides})
        self.base_config = self.config
        self.asgi = create_asgi_app(self.config)
        self.app: Flask = self.asgi.flask
        self._server: ThreadedServer | None = None
        self._balance_configured = False

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> MockServer:
        from ltxmock.server.serve.threaded import ThreadedServer

        if self._server is not None:
            return self
        server = ThreadedServer(self.asgi, host=self.config.host, port=self.config.port)
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = None
        self.service.close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- settings between tests ----------------------------------------------------
    def configure(self, **settings: Any) -> None:
        """Set run-time settings (``RUNTIME_SETTINGS``: latency, api_keys, ...) of the
        running server: these on top of the ones it was started with (an earlier
        ``configure`` is undone). Any other field needs a server of its own:
        ``ValueError``."""
        check_settings(settings)
        fixed = sorted(set(settings) - RUNTIME_SETTINGS)
        if fixed:
            raise ValueError(
                f"{', '.join(fixed)} cannot change on a running server (settings that can: "
                f"{', '.join(sorted(RUNTIME_SETTINGS))}); start a MockServer with them"
            )
        self._apply(self.base_config.replace(**settings))
        # The credit book keeps the balance it was built with; a balance for one
        # test is its default account instead (as PUT /__ltxmock/credits sets).
        if "balance" in settings or self._balance_configured:
            self.service.credits.set_balance(self.config.balance)
            self._balance_configured = "balance" in settings

    def _apply(self, config: MockConfig) -> None:
        # Every holder of the config reads these fields per request (RUNTIME_SETTINGS).
        self.config = config
        self.service.config = config
        self.service.results.config = config
        self.service.deliveries.config = config
        self.asgi.config = config
        self.asgi.hub.config = config
        self.app.config["LTXMOCK"] = config

    def reset(self) -> None:
        """Forget every task, fault rule, script, balance, journal entry, file and
        delivery (the settings stay: ``configure()`` with no argument goes back to the
        starting ones)."""
        self.service.reset()
        self._balance_configured = False

    # -- where it is -----------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the mock server is not running: call start() or use 'with'")
        return self._server.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def url(self) -> str:
        """The REST endpoint to give a client: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.base_url}/v1"

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint: ``ws://127.0.0.1:PORT/v1``."""
        return f"ws://{self.config.host}:{self.port}/v1"

    @property
    def service(self) -> MockService:
        return self.asgi.service

    # -- faults ------------------------------------------------------------------
    def respond_with(
        self,
        status: int,
        *,
        times: int | None = 1,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> Fault:
        """The next ``times`` requests are answered ``status`` (402, 429, 503, ...),
        with a ``Retry-After: retry_after`` header if given."""
        from ltxmock.server import Fault

        return self.service.faults.add(
            Fault.http(status, code=code, times=times, retry_after=retry_after)
        )

    def add_fault(self, rule: Mapping[str, Any]) -> Fault:
        """A fault rule in the admin API's JSON (``POST /__ltxmock/faults``, see
        docs/faults.md): ``{"status": 429, "retryAfter": 2, "times": 2}``,
        ``{"task": "providerError", "match": {"duration": 10}}``, ``{"transport":
        "reset", "nth": 2}``. A malformed rule: ``ValueError``."""
        from ltxmock.server import Fault

        return self.service.faults.add(Fault.from_json(rule))

    def fail_tasks(self, code: str = "timeoutProvider", *, times: int | None = 1) -> Fault:
        """The next ``times`` submitted tasks end in an error item with ``code``."""
        return self.service.faults.fail_tasks(code, times=times)

    def script(self, task_uuid: str, outcomes: Sequence[str]) -> None:
        """Script the polls of ``task_uuid``: each ``getResponse`` answers the next
        outcome (``"processing"``, ``"success"`` or a Runware error code such as
        ``"timeoutProvider"``), the last one repeating. May precede the submit;
        replaces an earlier script of the task. A bad outcome: ``ValueError``."""
        self.service.scripts.set(task_uuid, list(outcomes))

    @property
    def scripts(self) -> list[dict[str, Any]]:
        """The scripts set (``taskUUID``, ``outcomes``, ``next``: the position reached)."""
        return self.service.scripts.all()

    # -- credits -------------------------------------------------------------------
    def balance(self, api_key: str | None = None) -> float | None:
        """USD left to ``api_key``; with no key, the balance new keys start with.
        None: unlimited (no balance set)."""
        if api_key is None:
            return self.service.credits.default()
        return self.service.credits.account(api_key).balance

    def spent(self, api_key: str) -> float:
        """USD ``api_key`` has spent on accepted tasks."""
        return self.service.credits.account(api_key).spent

    def set_balance(self, usd: float | None, api_key: str | None = None) -> None:
        """Set ``api_key``'s balance, or with no key the one every key that has not
        spent yet starts with; None: unlimited. A negative amount: ``ValueError``."""
        self.service.credits.set_balance(None if usd is None else float(usd), api_key)

    # -- the journal ---------------------------------------------------------------
    @property
    def requests(self) -> list[JournalEntry]:
        """Every exchange so far, oldest first."""
        return self.service.journal.entries()

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook and upload the mock planned, with its state (``/__ltxmock/deliveries``)."""
        return self.service.deliveries.to_json()

    @property
    def webhooks(self) -> list[dict[str, Any]]:
        """The deliveries that are webhooks, whatever their state."""
        return [d for d in self.deliveries if d.get("kind") == "webhook"]

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """The deliveries that are ``uploadEndpoint`` PUTs, whatever their state."""
        return [d for d in self.deliveries if d.get("kind") == "upload"]

    def wait_for_deliveries(
        self,
        count: int = 1,
        *,
        kind: str | None = None,
        state: str | None = None,
        task_uuid: str | None = None,
        timeout: float = 30.0,
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` deliveries match (``kind``: ``"webhook"`` or
        ``"upload"``; ``state``: ``"captured"``, ``"delivered"``, ``"failed"``, ...;
        ``task_uuid``) and return them; deliveries are made by a background thread,
        after the task's latency (and render). ``MockAssertionError`` after
        ``timeout`` seconds, listing the deliveries there are. The timeout is
        generous because an eager render on a crowded CI runner can take seconds;
        a wait that succeeds returns as soon as the deliveries are there."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.service.deliveries.to_json(task_uuid, kind=kind, state=state)
            if len(rows) >= count:
                return rows
            if time.monotonic() >= deadline:
                raise MockAssertionError(
                    f"expected {count} deliveries (kind={kind}, state={state}, "
                    f"task={task_uuid}) within {timeout} s, found {len(rows)}; all of them:\n"
                    + _listing(
                        [
                            {k: d.get(k) for k in ("kind", "state", "task_uuid", "last_error")}
                            for d in self.deliveries
                        ]
                    )
                )
            time.sleep(0.02)

    def submitted_tasks(self) -> list[dict[str, Any]]:
        """The videoInference tasks of every accepted (2xx) request, in order."""
        return [task for entry, task in _model_tasks(self.requests) if entry.status < 300]

    def rejected(self) -> list[JournalEntry]:
        """Exchanges the mock refused on its own (4xx/5xx it was not told to inject).
        A 402 ``insufficientCredits`` is not one: only a balance set for the test
        (``set_balance``, the ``balance`` setting) makes it."""
        return [
            e for e in self.requests if e.status >= 400 and e.fault is None and not _no_credit(e)
        ]

    def assert_submitted(self, *, times: int | None = None, **fields: Any) -> list[dict[str, Any]]:
        """Assert that accepted tasks had ``fields`` (values or ``ltxmock.matchers``;
        dotted keys reach nested fields: ``**{"inputs.frameImages.0.image": ...}``).

        ``times``: how many such tasks there must be (default: at least one).
        Returns the matching tasks. A failure shows the closest task received
        (refused ones too) and each field where it differs.
        """
        tasks = self.submitted_tasks()
        matching = [t for t in tasks if not matchers.differences(t, fields)]
        if (times is None and matching) or (times is not None and len(matching) == times):
            return matching
        wanted = f"{times} task(s)" if times is not None else "at least one task"
        raise MockAssertionError(
            f"expected {wanted} submitted with {matchers.describe(fields)}, "
            f"found {len(matching)}.\n" + self._near_misses(fields, tasks)
        )

    def assert_not_submitted(self, **fields: Any) -> None:
        """Assert that no accepted task had ``fields`` (no arguments: no task at all)."""
        tasks = self.submitted_tasks()
        matching = [t for t in tasks if not matchers.differences(t, fields)]
        if matching:
            raise MockAssertionError(
                f"expected no task submitted with {matchers.describe(fields)}, "
                f"found {len(matching)}:\n" + _listing(matching)
            )

    def assert_polled(self, task_uuid: str, *, times: int | None = None) -> None:
        """Assert that ``getResponse`` was sent for ``task_uuid`` (``times`` exactly)."""
        polls = [
            entry
            for entry in self.service.journal.for_task(task_uuid)
            if "getResponse" in entry.task_types
        ]
        if (times is None and polls) or (times is not None and len(polls) == times):
            return
        wanted = f"{times} poll(s)" if times is not None else "at least one poll"
        raise MockAssertionError(
            f"expected {wanted} for task {task_uuid}, found {len(polls)}.\n"
            f"Requests mentioning it:\n"
            + _listing([e.to_dict() for e in self.service.journal.for_task(task_uuid)])
        )

    def assert_no_unexpected_errors(self) -> None:
        """Assert the mock answered no 5xx that was not injected."""
        unexpected = self.service.journal.unexpected_errors()
        if unexpected:
            raise MockAssertionError(
                f"the mock answered {len(unexpected)} unexpected 5xx:\n"
                + _listing([e.to_dict() for e in unexpected])
            )

    def assert_no_rejections(self) -> None:
        """Assert the mock refused nothing it was not told to (no 4xx/5xx of its own):
        what the plugin's ``fail_on_rejected`` checks after each test."""
        refused = self.rejected()
        if refused:
            raise MockAssertionError(
                f"the mock rejected {len(refused)} request(s) it was not told to:\n"
                + "\n".join(_refusal(e) for e in refused[-10:])
            )

    def _near_misses(self, fields: Mapping[str, Any], accepted: list[dict[str, Any]]) -> str:
        sent = _model_tasks(self.requests)
        best = _closest_sent(sent, fields)
        lines = [f"Submitted tasks ({len(accepted)}):", _listing(accepted)]
        if best is None:
            return "No videoInference task reached the mock.\n" + "\n".join(lines)
        (entry, task), diff = best
        verdict = "accepted" if entry.status < 300 else f"refused with {entry.status}"
        head = [f"Closest task received ({verdict}), differing in {len(diff)} field(s):"]
        head += [f"  {line}" for line in diff]
        if entry.status >= 300:
            head.append(f"  the mock answered: {matchers.show(entry.response, 300)}")
        head.append(f"  {matchers.show(task, 300)}")
        return "\n".join(head + lines)


def _model_tasks(entries: Iterable[JournalEntry]) -> list[tuple[JournalEntry, dict[str, Any]]]:
    return [
        (entry, task)
        for entry in entries
        if isinstance(entry.request, list)
        for task in entry.request
        if isinstance(task, dict) and task.get("taskType") == VIDEO_INFERENCE
    ]


def _no_credit(entry: JournalEntry) -> bool:
    errors = entry.response.get("errors") if isinstance(entry.response, dict) else None
    return (
        entry.status == 402
        and isinstance(errors, list)
        and bool(errors)
        and all(isinstance(e, dict) and e.get("code") == INSUFFICIENT_CREDITS for e in errors)
    )


def _closest_sent(
    sent: list[tuple[JournalEntry, dict[str, Any]]], fields: Mapping[str, Any]
) -> tuple[tuple[JournalEntry, dict[str, Any]], list[str]] | None:
    best: tuple[tuple[JournalEntry, dict[str, Any]], list[str]] | None = None
    for pair in sent:
        diff = matchers.differences(pair[1], fields)
        if best is None or len(diff) <= len(best[1]):
            best = (pair, diff)
    return best


def _refusal(entry: JournalEntry) -> str:
    return (
        f"  - {entry.status} {matchers.show(entry.response, 300)}\n"
        f"    to {matchers.show(entry.request, 300)}"
    )


def _listing(items: list[Any], limit: int = 10) -> str:
    lines = [f"  - {matchers.show(item, 300)}" for item in items[-limit:]]
    if len(items) > limit:
        lines.insert(0, f"  ... {len(items) - limit} earlier")
    return "\n".join(lines) if lines else "  (none)"


class ServerPool:
    """Started servers, one per distinct set of settings that need a server of
    their own, reused: ``acquire`` resets one and applies the run-time settings.

    At most ``max_servers`` run at once; the least recently used one is stopped
    to make room. The pytest plugin keeps one pool per session (per xdist worker).
    """

    def __init__(self, *, max_servers: int = 4, **defaults: Any) -> None:
        check_settings(defaults)
        self.defaults = defaults
        self.max_servers = max_servers
        self._servers: OrderedDict[tuple[tuple[str, str], ...], MockServer] = OrderedDict()

    def acquire(self, **settings: Any) -> MockServer:
        """A running server with ``settings`` (on top of the pool's defaults), reset."""
        check_settings(settings)
        merged = {**self.defaults, **settings}
        fixed = {k: v for k, v in merged.items() if k not in RUNTIME_SETTINGS}
        key = tuple(sorted((k, repr(v)) for k, v in fixed.items()))
        server = self._servers.pop(key, None)
        if server is None:
            while len(self._servers) >= self.max_servers:
                _, oldest = self._servers.popitem(last=False)
                oldest.stop()
            runtime_defaults = {k: v for k, v in self.defaults.items() if k in RUNTIME_SETTINGS}
            server = MockServer(**fixed, **runtime_defaults).start()
        self._servers[key] = server  # the most recently used, last
        server.reset()
        server.configure(**{k: v for k, v in merged.items() if k in RUNTIME_SETTINGS})
        return server

    def __len__(self) -> int:
        return len(self._servers)

    def close(self) -> None:
        while self._servers:
            _, server = self._servers.popitem()
            server.stop()
