"""Test helpers: a live mock server in a background thread, and assertions on it.

    from ltxmock.testing import MockServer

    with MockServer(latency=0) as mock:
        my_client(base_url=mock.url).generate("a red fox")
        mock.assert_submitted(times=1, duration=6)
        mock.assert_no_unexpected_errors()

The server is the same ASGI application as ``ltxmock serve`` (the same HTTP
handling, WebSocket and protocol core) on uvicorn in a background thread, on
a free 127.0.0.1 port, with an in-memory store. It is what the pytest
plugin's ``ltxmock_server`` fixture yields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ltxmock.extras import server_extra_hint

if TYPE_CHECKING:
    from flask import Flask

    from ltxmock.server import Fault, JournalEntry, MockConfig, MockService
    from ltxmock.server.serve.threaded import ThreadedServer

VIDEO_INFERENCE = "videoInference"


class MockAssertionError(AssertionError):
    """An expectation on the mock's journal did not hold."""


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

        # Lazy rendering: tasks succeed right at their latency (files are
        # rendered on first download); pass render_mode="eager" for the real order.
        settings = {"port": 0, "render_mode": "lazy", **overrides}
        self.config = (config or MockConfig()).replace(**settings)
        self.asgi = create_asgi_app(self.config)
        self.app: Flask = self.asgi.flask
        self._server: ThreadedServer | None = None

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

    # -- where it is -----------------------------------------------------------
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
    def respond_with(self, status: int, *, times: int | None = 1, code: str | None = None) -> Fault:
        """The next ``times`` requests are answered ``status`` (402, 429, 503, ...)."""
        return self.service.faults.respond_with(status, times=times, code=code)

    def fail_tasks(self, code: str = "timeoutProvider", *, times: int | None = 1) -> Fault:
        """The next ``times`` submitted tasks end in an error item with ``code``."""
        return self.service.faults.fail_tasks(code, times=times)

    def reset(self) -> None:
        """Forget every task, fault rule and journal entry."""
        self.service.reset()

    # -- the journal ---------------------------------------------------------------
    @property
    def requests(self) -> list[JournalEntry]:
        """Every exchange so far, oldest first."""
        return self.service.journal.entries()

    def submitted_tasks(self) -> list[dict[str, Any]]:
        """The videoInference tasks of every accepted (2xx) request, in order."""
        return [
            task
            for entry in self.requests
            if entry.status < 300 and isinstance(entry.request, list)
            for task in entry.request
            if isinstance(task, dict) and task.get("taskType") == VIDEO_INFERENCE
        ]

    def assert_submitted(self, *, times: int | None = None, **params: Any) -> list[dict[str, Any]]:
        """Assert that accepted tasks had ``params`` (all of them, exact values).

        ``times``: how many such tasks there must be (default: at least one).
        Returns the matching tasks. The failure message lists what came instead.
        """
        tasks = self.submitted_tasks()
        matching = [t for t in tasks if _has(t, params)]
        if (times is None and matching) or (times is not None and len(matching) == times):
            return matching
        wanted = f"{times} task(s)" if times is not None else "at least one task"
        raise MockAssertionError(
            f"expected {wanted} submitted with {_show(params)}, found {len(matching)}.\n"
            f"Submitted tasks ({len(tasks)}):\n" + _listing(tasks)
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


def _has(task: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    return all(key in task and task[key] == value for key, value in params.items())


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _listing(items: list[Any], limit: int = 10) -> str:
    lines = [f"  - {_show(item)[:300]}" for item in items[-limit:]]
    if len(items) > limit:
        lines.insert(0, f"  ... {len(items) - limit} earlier")
    return "\n".join(lines) if lines else "  (none)"
