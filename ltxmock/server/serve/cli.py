"""``ltxmock serve``: the command line, its checks before start and its banner.

The runtime itself is ``workers.serve``: gunicorn with uvicorn workers.

gunicorn manages the processes (one worker per core); each worker is an
asyncio server (uvicorn: httptools' C parser, uvloop) running ``asgi.AsgiMock``,
which answers ``POST /v1`` on the loop, serves the WebSocket on the same port
and bridges everything else to the Flask app. Measured against gunicorn's
gthread workers in bench/server.py's notes: a thread pool per worker loses
most of its time to the GIL's hand-offs around every SQLite call. Flask and
the app are imported in the worker only, so the command starts quickly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ltxmock.extras import server_extra_hint
from ltxmock.server.core.config import MB, MockConfig, parse_size

DEFAULT_THREADS = 8
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# Renders yield the cores to the event loops: submit p99 during renders (bench/render_load.py).
SERVE_RENDER_NICENESS = 19


def add_serve_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``serve`` on an argparse subparsers object (sets ``func``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run a local mock of the Runware API (POST /v1 and the WebSocket)",
        description="Serve a local mock of the Runware API (REST and WebSocket at /v1) "
        "for the models of the OpenAPI documents in spec/ (or $LTXMOCK_SPEC_DIR): "
        "async inference, getResponse polling, real video results, webhooks, "
        "fault injection and a request journal under /__ltxmock/.",
    )
    _add_options(parser)
    parser.set_defaults(func=run_serve)
    return parser


def _add_options(parser: argparse.ArgumentParser) -> None:
    default = MockConfig()
    add = parser.add_argument
    add("--host", default=default.host, help="interface to bind (default %(default)s)")
    add("--port", type=int, default=default.port, help="port, 0 for any free one (default 8080)")
    add(
        "--latency",
        type=float,
        default=default.latency,
        metavar="SECONDS",
        help="time from acknowledgement to success (default %(default)s)",
    )
    add(
        "--api-key",
        dest="api_keys",
        action="append",
        default=[],
        metavar="KEY",
        help="accept only this key (repeatable; default: any non-empty key)",
    )
    add(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep tasks in DIR/ltxmock.sqlite3, shareable by several servers (default: memory)",
    )
    add(
        "--max-body-bytes",
        type=int,
        default=default.max_body_bytes,
        metavar="N",
        help="largest accepted request body (default %(default)s = 4 MiB)",
    )
    add(
        "--max-tasks-per-request",
        type=int,
        default=default.max_tasks_per_request,
        metavar="N",
        help="most tasks in one request, an authentication element aside; more get a 400 "
        "tooManyTasks before any is validated (default %(default)s; the SDKs send one)",
    )
    add(
        "--result-ttl",
        type=int,
        default=default.result_ttl,
        metavar="SECONDS",
        help="how long results stay pollable if a task sets no ttl (default %(default)s)",
    )
    add("--public-base-url", metavar="URL", help="prefix of videoURLs (default: the request's)")
    add(
        "--admin-token",
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' on the admin API (/__ltxmock/, all but "
        "health); default $LTXMOCK_ADMIN_TOKEN, which keeps it out of the process list",
    )
    add(
        "--callback-allow",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="send webhooks and uploads only to this host (repeatable; default: any host "
        "but the mock itself)",
    )
    add(
        "--balance",
        type=float,
        default=None,
        metavar="USD",
        help="credits every API key starts with; each accepted task spends its cost, and "
        "submits beyond the balance get 402 insufficientCredits (default: unlimited; "
        "per-key balances through PUT /__ltxmock/credits)",
    )
    add(
        "--fault-key",
        dest="fault_keys",
        action="append",
        default=[],
        metavar="KEY=FAULT",
        help="every request with this API key gets FAULT, in the X-Ltxmock-Fault syntax: "
        "429, 503;retry-after=2, task:timeoutProvider, delay:0.5-2, reset, truncate, hang "
        "(repeatable; see docs/faults.md)",
    )
    add(
        "--webhook-envelope",
        choices=("flat", "wrapped"),
        default=default.webhook_envelope,
        help='webhook body: the result item, or {"data": [item]} (default %(default)s)',
    )
    add(
        "--render-mode",
        choices=("eager", "lazy"),
        default=default.render_mode,
        help="eager: render at submit, success once the file exists; lazy: success at "
        "--latency, render on first download (default %(default)s)",
    )
    add(
        "--render-backlog",
        type=int,
        default=default.render_backlog,
        metavar="N",
        help="eager renders queued or running per worker, in 1080p/6 s/25 fps videos (a "
        "larger one counts for more); beyond it a result succeeds at --latency and is "
        "rendered on first download (default %(default)s)",
    )
    add(
        "--media-budget",
        default=f"{default.media_budget // MB}MB",
        metavar="SIZE",
        help="disk for rendered videos (200MB, 1GiB, bytes); the least recently used are "
        "deleted beyond it and rendered again, identically, if downloaded (default "
        "%(default)s)",
    )
    add(
        "--render-niceness",
        type=int,
        default=SERVE_RENDER_NICENESS,
        metavar="0-19",
        help="how much lower render processes run than the server's (default %(default)s: "
        "renders take the CPU the requests leave)",
    )
    add(
        "--workers",
        type=int,
        default=default_workers(),
        help="worker processes (default: one per usable CPU core, %(default)s here)",
    )
    add(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="threads per worker for the admin API and downloads; WebSockets each "
        "get their own (default %(default)s)",
    )
    add(
        "--replay",
        type=Path,
        metavar="DIR",
        help="answer tasks recorded by 'ltxmock proxy --record DIR' from their cassettes "
        "(one worker); other requests get the normal mock",
    )
    add(
        "--replay-speed",
        type=float,
        default=default.replay_speed,
        metavar="FACTOR",
        help="play recorded timing this many times faster (default %(default)s)",
    )
    add(
        "--replay-strict",
        action="store_true",
        help="with --replay, refuse tasks no cassette matches (400 replayNoMatch)",
    )
    add("--log-level", choices=LOG_LEVELS, default="warning", help="server log level")
    add("--access-log", action="store_true", help="log every request to stderr")


def default_workers() -> int:
    """One worker per CPU core this process may run on (its affinity, else cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_serve(args: argparse.Namespace) -> int:
    """The ``func`` of the ``serve`` subcommand."""
    if args.replay_strict and args.replay is None:
        print("ltxmock serve: --replay-strict needs --replay DIR", file=sys.stderr)
        return 2
    try:
        config = MockConfig(
            host=args.host,
            port=args.port,
            latency=args.latency,
            api_keys=tuple(args.api_keys),
            data_dir=args.data_dir,
            max_body_bytes=args.max_body_bytes,
            max_tasks_per_request=args.max_tasks_per_request,
            result_ttl=args.result_ttl,
            public_base_url=args.public_base_url,
            admin_token=args.admin_token or os.environ.get("LTXMOCK_ADMIN_TOKEN") or None,
            callback_allow=tuple(args.callback_allow),
            balance=args.balance,
            fault_keys=tuple(args.fault_keys),
            webhook_envelope=args.webhook_envelope,
            render_mode=args.render_mode,
            replay_dir=args.replay,
            replay_speed=args.replay_speed,
            replay_strict=args.replay_strict,
            render_backlog=args.render_backlog,
            render_niceness=args.render_niceness,
            media_budget=parse_size(args.media_budget),
        )
    except ValueError as exc:
        print(f"ltxmock serve: {exc}", file=sys.stderr)
        return 2
    hint = server_extra_hint()
    if hint is not None:
        print(hint, file=sys.stderr)
        return 2
    from .workers import serve  # the server extra: imported only now

    # Replayed tasks' clocks live in the process that acknowledged them.
    workers = 1 if config.replay_dir is not None else args.workers
    return serve(
        config,
        workers=workers,
        threads=args.threads,
        log_level=args.log_level,
        access_log=args.access_log,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ltxmock.server.serve``: the serve command on its own."""
    parser = argparse.ArgumentParser(prog="ltxmock serve", description=__doc__)
    _add_options(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
