"""``ltxmock proxy``: the command line, the uvicorn runtime and the exit status.

One process (uvicorn, one event loop): the drift log and the protocol state
live in it. With ``--fail-on-drift`` the exit status at shutdown (Ctrl-C or
SIGTERM) is 1 when any drift was seen, so a CI job can run its tests through
the proxy and fail on the upstream's deviations.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from ltxmock.extras import server_extra_hint

DRIFT_EXIT = 1


def add_proxy_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``proxy`` on an argparse subparsers object (sets ``func``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "proxy",
        help="validate, check and record traffic to the real Runware API (or any upstream)",
        description="Listen like 'serve' (POST /v1 and the WebSocket at /v1) and forward to "
        "the upstream: invalid requests are answered here with the Runware 400 and never "
        "sent; every answer is checked against the OpenAPI document and the protocol "
        "(drift: logged and listed at /__ltxmock/drift); --record keeps each task as a "
        "cassette that 'ltxmock serve --replay DIR' plays back.",
    )
    add = parser.add_argument
    add("--upstream", default="https://api.runware.ai/v1", help="REST URL (default %(default)s)")
    add(
        "--upstream-ws",
        metavar="URL",
        help="WebSocket URL (default: wss://ws-api.runware.ai/v1 for the real API, else "
        "--upstream with ws(s)://)",
    )
    add("--host", default="127.0.0.1", help="interface to bind (default %(default)s)")
    add("--port", type=int, default=8080, help="port, 0 for any free one (default 8080)")
    add("--record", type=Path, metavar="DIR", help="write one cassette per task into DIR")
    add(
        "--record-media",
        action="store_true",
        help="with --record, also download each result video into DIR/media/",
    )
    add(
        "--fail-on-drift",
        action="store_true",
        help=f"exit with status {DRIFT_EXIT} at shutdown if any drift was seen",
    )
    add(
        "--openapi-gate",
        action="store_true",
        help="also hold each model request for openapi-core's verdict before forwarding "
        "(its rejections answered here with the 400; about 1 ms per request). Without "
        "it, openapi-core checks each forwarded request afterwards and reports a "
        "rejection as 'request-schema' drift",
    )
    add("--spec-dir", type=Path, metavar="DIR", help="OpenAPI documents (default: the packaged)")
    add("--timeout", type=float, default=120.0, help="seconds per upstream exchange (default 120)")
    add("--log-level", choices=("debug", "info", "warning", "error"), default="warning")
    parser.set_defaults(func=run_proxy)
    return parser


def run_proxy(args: argparse.Namespace) -> int:
    """The ``func`` of the ``proxy`` subcommand."""
    hint = server_extra_hint()
    if hint is not None:
        print(hint.replace("serve", "proxy"), file=sys.stderr)
        return 2
    if args.record_media and args.record is None:
        print("ltxmock proxy: --record-media needs --record DIR", file=sys.stderr)
        return 2
    import uvicorn

    from ltxmock.validators import RequestValidator, SpecError, default_validator

    from .app import ProxyApp, ProxyConfig

    try:
        config = ProxyConfig(
            upstream=args.upstream,
            upstream_ws=args.upstream_ws,
            host=args.host,
            port=args.port,
            record_dir=args.record,
            record_media=args.record_media,
            timeout=args.timeout,
            openapi_gate=args.openapi_gate,
        )
        validator = (
            RequestValidator.from_spec_dir(args.spec_dir) if args.spec_dir else default_validator()
        )
        app = ProxyApp(config, validator=validator)
    except (ValueError, SpecError, OSError) as exc:
        print(f"ltxmock proxy: {exc}", file=sys.stderr)
        return 2
    try:
        sock = _bind(config.host, config.port)
    except OSError as exc:
        print(
            f"ltxmock proxy: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr
        )
        return 2
    port = sock.getsockname()[1]
    host = f"[{config.host}]" if ":" in config.host else config.host
    print(f"ltxmock proxy: listening on http://{host}:{port}/v1", flush=True)
    print(f"  forwarding to {config.upstream} and {config.websocket_url}", flush=True)
    if config.record_dir is not None:
        print(f"  recording cassettes into {config.record_dir}", flush=True)
    print("  drift: GET /__ltxmock/drift; Ctrl-C to stop", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level=args.log_level,
            access_log=False,
            lifespan="on",
            ws="websockets-sansio",
            ws_max_size=config.ws_max_message_bytes,
            ws_ping_interval=None,
        )
    )
    # uvicorn stops on SIGINT/SIGTERM, then raises the signal again for the handler
    # it found: with these, the process lives on to report and choose its status.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _ignore)
    server.run(sockets=[sock])
    snapshot = app.drift.snapshot()
    if snapshot["total"] or snapshot["unchecked"]:
        counts = {rule: n for rule, n in snapshot["byRule"].items() if n}
        print(
            f"ltxmock proxy: {snapshot['total']} drift(s) {json.dumps(counts)}, "
            f"{snapshot['unchecked']} exchange(s) unchecked",
            file=sys.stderr,
        )
    return DRIFT_EXIT if args.fail_on_drift and snapshot["total"] else 0


def _ignore(signum: int, frame: Any) -> None:
    return None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
