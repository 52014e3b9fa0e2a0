"""The runtime of ``ltxmock serve``: gunicorn managing uvicorn workers, until Ctrl-C or SIGTERM.

gunicorn manages the processes (one worker per core); each worker is an
asyncio server (uvicorn: httptools' C parser, uvloop) running ``asgi.AsgiMock``,
which answers ``POST /v1`` on the loop, serves the WebSocket on the same port
and bridges everything else to the Flask app. A thread pool per worker
(gunicorn's gthread workers) loses most of its time to the GIL's hand-offs
around every SQLite call (bench/README.md). Flask and the app are imported in
the worker only, so the command starts quickly.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar

from ltxmock.server.core.addresses import is_loopback
from ltxmock.server.core.channel import HARD_LIMIT_FACTOR
from ltxmock.server.core.config import MIB, MockConfig
from ltxmock.validators.documents import SPEC_DIR_ENV, SpecError


def serve(
    config: MockConfig,
    *,
    workers: int = 1,
    threads: int = 8,
    log_level: str = "warning",
    access_log: bool = False,
) -> int:
    """Run until stopped; returns the exit status (0 after Ctrl-C or SIGTERM)."""
    if workers < 1 or threads < 1:
        print("ltxmock serve: --workers and --threads must be at least 1", file=sys.stderr)
        return 2
    scratch: Path | None = None
    if workers > 1 and config.data_dir is None:
        # Workers are processes: an in-memory store would give each its own tasks.
        scratch = Path(tempfile.mkdtemp(prefix="ltxmock-"))
        config = config.replace(data_dir=scratch)
    try:
        problem = preflight(config)
        if problem:
            print(f"ltxmock serve: {problem}", file=sys.stderr)
            return 2
        options = {
            "bind": f"{host_literal(config.host)}:{config.port}",
            "workers": workers,
            "worker_class": _worker_class(config),
            "graceful_timeout": 3,
            "keepalive": 5,
            "loglevel": log_level,
            "errorlog": "-",
            "accesslog": "-" if access_log else None,
            "proc_name": "ltxmock",
            "control_socket_disable": True,  # else servers fight over one socket path
            "when_ready": lambda arbiter: announce(arbiter, config, workers, scratch),
            "post_worker_init": _quick_exit_on_quit,
        }
        try:
            _gunicorn(config, options, threads).run()
        except SystemExit as stop:  # the arbiter exits through sys.exit
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except KeyboardInterrupt:  # Ctrl-C before the arbiter took over the signals
            code = 0
        else:
            code = 0
        if code == 0:
            print("ltxmock: stopped.", flush=True)
        return code
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _worker_class(config: MockConfig) -> type:
    """uvicorn's gunicorn worker, with the WebSocket size cap ``Channel`` expects."""
    from uvicorn_worker import UvicornWorker

    from .guard import GuardedProtocol

    class Worker(UvicornWorker):  # type: ignore[misc]
        CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
            "loop": "auto",  # uvloop when installed
            "http": GuardedProtocol,  # uvicorn's httptools protocol, behind guard.py's checks
            "lifespan": "on",
            # Above ws_max_message_bytes a message gets an error frame; only one
            # this much larger ends the connection (1009), bounding the buffer.
            "ws_max_size": config.ws_max_message_bytes * HARD_LIMIT_FACTOR,
        }

        def handle_exit(self, sig: int, frame: Any) -> None:
            # The arbiter asks for a quick stop (Ctrl-C, kill -INT) with SIGQUIT,
            # which uvicorn-worker routes here; gunicorn's handler only clears a
            # flag nothing in a uvicorn worker reads, so the arbiter SIGKILLed
            # the worker 3 s later and logged "Perhaps out of memory?". Leave
            # at once instead, as ``_quick_exit_on_quit`` explains.
            if sig == signal.SIGQUIT:
                _leave(self)
            super().handle_exit(sig, frame)

    return Worker


def _gunicorn(config: MockConfig, options: dict[str, Any], threads: int) -> Any:
    """gunicorn embedded: options from us, the app built inside each worker."""
    # Imported here: ``ltxmock lint`` and ``serve --help`` never need gunicorn.
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped,unused-ignore]

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from .asgi import create_asgi_app

            # Our tracebacks go where gunicorn's own errors go.
            server_log = logging.getLogger("gunicorn.error")
            ours = logging.getLogger("ltxmock")
            ours.handlers = list(server_log.handlers)
            ours.setLevel(server_log.level)
            ours.propagate = False
            return create_asgi_app(config, threads=threads)

    return Server()


RENDERS_CLOSE_TIMEOUT = 2.0  # seconds


def _quick_exit_on_quit(worker: Any) -> None:
    """After a worker boots: start its render processes (eager mode), Ctrl-C
    ignored so that they inherit that; then make Ctrl-C / SIGQUIT end it at once.

    Nothing needs flushing (every store write is an already committed SQLite
    transaction), and a graceful stop would wait for open WebSockets whose
    threads never hear of it, so leave directly.
    """
    # Leaving at once leaves the render pool's named semaphores to multiprocessing's
    # resource tracker (a process of its own, started with this environment),
    # which removes them and warns of a leak: a false alarm, kept out of the log.
    rule = "ignore:resource_tracker:UserWarning"
    current = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{current},{rule}" if current else rule
    service = getattr(getattr(worker, "wsgi", None), "service", None)
    if service is not None and service.config.render_mode == "eager":
        ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited: see Renders
        try:
            service.results.start_processes()
        finally:
            signal.signal(signal.SIGINT, ignored)
    for quit_signal in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(quit_signal, lambda *_: _leave(worker))


def _leave(worker: Any) -> None:
    """End the worker now, its render processes first.

    A render process still starting reads its start-up message from this one:
    left half-written, it prints a traceback. Closing the renders waits for a
    start in progress, then ends the processes; bounded, in case the signal
    came in the middle of that start on this very thread.
    """
    service = getattr(getattr(worker, "wsgi", None), "service", None)
    if service is not None:
        closing = threading.Thread(target=service.results.close, daemon=True)
        closing.start()
        closing.join(RENDERS_CLOSE_TIMEOUT)
    os._exit(0)


def preflight(config: MockConfig) -> str | None:
    """Fail fast and clearly on what would otherwise kill every worker at boot."""
    if os.environ.get(SPEC_DIR_ENV):  # the packaged documents are checked by the tests
        from ltxmock.validators.request import default_validator

        try:
            default_validator()
        except SpecError as exc:
            return str(exc)
    if config.database_path is not None:
        from ltxmock.server.core.ports import StoreError
        from ltxmock.server.http.app import build_store

        try:
            build_store(config).close()
        except StoreError as exc:
            return str(exc)
    if config.port == 0:
        return None
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.host, config.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {config.port} on {config.host} is already in use (try --port 0)"
            return f"cannot listen on {config.host}:{config.port}: {exc.strerror}"
    return None


def host_literal(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def announce(arbiter: Any, config: MockConfig, workers: int, scratch: Path | None) -> None:
    port = arbiter.LISTENERS[0].getsockname()[1] if arbiter.LISTENERS else config.port
    host = host_literal(config.host)
    http, ws = f"http://{host}:{port}/v1", f"ws://{host}:{port}/v1"
    store = "in memory" if config.data_dir is None else str(config.database_path)
    if scratch is not None:
        store += " (temporary)"
    keys = f"{len(config.api_keys)} configured key(s)" if config.api_keys else "any non-empty key"
    # Never echo a configured key: the banner ends up in CI logs.
    example = "<one of your --api-key values>" if config.api_keys else "any-key"
    from ltxmock.validators.documents import packaged_documents

    models = ", ".join(f"{doc.air_id} ({doc.title})" for doc in packaged_documents())
    admin = f"http://{host}:{port}/__ltxmock/health"
    if config.admin_token:
        admin += ", token required"
    lines = [
        f"ltxmock: Runware API mock for {models} listening on {http}",
        f"  REST endpoint: POST {http}   (admin: {admin})",
        f"  latency {config.latency:g} s, store {store}, auth: {keys}, workers {workers}, "
        f"max body {_size(config.max_body_bytes)}",
        "  Point the official Python SDK (runware-sdk) at it:",
        f'    Runware(api_key="{example}", transport="rest", '
        f'http_base_url="{http}", ws_base_url="{ws}")',
        *exposure_warning(config),
        "  Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def exposure_warning(config: MockConfig) -> list[str]:
    """Banner lines for a mock others can reach whose admin API has no token (the token
    itself is never printed)."""
    if config.admin_token or is_loopback(config.host):
        return []
    return [
        f"  WARNING: listening on {config.host}, beyond this machine, without --admin-token:",
        "    anyone who can reach this port can reset the mock (every task, result, fault",
        "    and log gone), add faults that fail your runs, and read the request journal",
        "    (request and reply bodies) and the delivery log (webhook and upload targets).",
        "    Set --admin-token TOKEN (or LTXMOCK_ADMIN_TOKEN), or bind --host 127.0.0.1.",
    ]


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n % MIB == 0 else f"{n} bytes"
