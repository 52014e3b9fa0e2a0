"""Throughput of ``ltxmock serve`` against Stoplight Prism on the same OpenAPI document.

Starts ``ltxmock serve`` (gunicorn with uvicorn workers, one per core, a shared
SQLite store, ``--render-mode lazy`` so no video is rendered until downloaded)
and, in the same run, ``prism mock`` 5.16 on the same document (installed with
npm into bench/.work/prism on first run), then the same app on gunicorn's
threaded WSGI workers (the obvious alternative server, and what ``serve`` used
before). Drives all with the same wrk load:

* submit: a valid 1080p LTX-2 Fast videoInference, a fresh UUID v4 per request
  (bench/wrk/submit.lua), so every request validates fully and stores a task;
* poll:   getResponse of one known task (bench/wrk/poll.lua).

wrk, both servers and this script share the same cores: the figures are for
the whole machine under load, not for the server alone.

Run from the repository root:  python bench/server.py [--duration 10] [--connections 8]
Needs: wrk (apt-get install wrk), Node.js + npm (for Prism).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    BENCH,
    TYPICAL_TASK,
    Target,
    free_port,
    log,
    ltxmock_command,
    post,
    prism_command,
    report,
    running,
    wait_http,
)

TARGET_RATIO = 2.0
TARGET_P99_MS = 10.0


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int  # non-2xx answers plus socket errors

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk(url: str, script: str, args: Sequence[str], *, duration: float, connections: int,
        threads: int) -> Load:  # fmt: skip
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    command = [exe, "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s",
               "--timeout", "5s", "-s", str(BENCH / "wrk" / script), url]  # fmt: skip
    if args:
        command += ["--", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60,
                          check=False)  # fmt: skip
    found = re.search(r"^WRK_JSON (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    stats: dict[str, Any] = json.loads(found.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    errors = sum(stats[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return Load(
        requests=stats["requests"],
        seconds=stats["duration_us"] / 1e6,
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        bad=errors + (int(non2xx.group(1)) if non2xx else 0),
    )


def drive(name: str, url: str, known: str, opts: argparse.Namespace) -> dict[str, Load]:
    load = {"duration": opts.duration, "connections": opts.connections, "threads": opts.wrk_threads}
    log(f"{name}: submit load ({opts.duration:g} s, {opts.connections} connections)...")
    submit = wrk(url, "submit.lua", [], **load)
    log(f"{name}: poll load ({opts.duration:g} s)...")
    poll = wrk(url, "poll.lua", [known], **load)
    return {"submit": submit, "poll": poll}


def bench_ltxmock(opts: argparse.Namespace, data_dir: Path) -> tuple[dict[str, Load], int]:
    port = free_port()
    extra = ["--latency", "0", "--render-mode", "lazy", "--data-dir", str(data_dir)]
    if opts.workers:
        extra += ["--workers", str(opts.workers)]
    if opts.threads:
        extra += ["--threads", str(opts.threads)]
    return measure_mock("ltxmock", ltxmock_command(port, *extra), port, data_dir, opts)


def bench_gthread(opts: argparse.Namespace, data_dir: Path) -> tuple[dict[str, Load], int]:
    """The same app on the obvious alternative: gunicorn's threaded WSGI workers."""
    port = free_port()
    from ltxmock.server.serve import default_workers

    command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "8",
               "-w", str(opts.workers or default_workers()), "-b", f"127.0.0.1:{port}",
               "ltxmock.server:create_app()"]  # fmt: skip
    env = {"LTXMOCK_DATA_DIR": str(data_dir), "LTXMOCK_LATENCY": "0",
           "LTXMOCK_RENDER_MODE": "lazy"}  # fmt: skip
    return measure_mock("gthread", command, port, data_dir, opts, env=env)


def measure_mock(
    name: str,
    command: Sequence[str],
    port: int,
    data_dir: Path,
    opts: argparse.Namespace,
    *,
    env: dict[str, str] | None = None,
) -> tuple[dict[str, Load], int]:
    """Drive one mock process; returns the loads and how many tasks it stored."""
    base = f"http://127.0.0.1:{port}"
    with running(command, log_path=data_dir.parent / f"{name}.log", env=env):
        wait_http(f"{base}/__ltxmock/health")
        known = str(uuid.uuid4())
        status, answer = post(f"{base}/v1", [{**TYPICAL_TASK, "taskUUID": known}])
        if status != 200:
            raise SystemExit(f"{name} refused the known task: {status} {answer}")
        results = drive(name, f"{base}/v1", known, opts)
    from ltxmock.server.config import DATABASE_NAME
    from ltxmock.server.store import TaskStore

    store = TaskStore(data_dir / DATABASE_NAME)
    stored = store.count_tasks(now=time.time())
    store.close()
    return results, stored


def bench_prism(opts: argparse.Namespace, scratch: Path) -> dict[str, Load]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(prism_command(port), log_path=scratch / "prism.log"):
        wait_http(f"{base}/", method="POST", body=[{"taskType": "ping", "ping": True}], limit=60)
        return drive("prism", f"{base}/", str(uuid.uuid4()), opts)


Row = tuple[str, Load, Load, Load | None]  # kind, ltxmock, Prism, gthread


def run(opts: argparse.Namespace) -> tuple[list[Row], list[Target], int]:
    with tempfile.TemporaryDirectory(prefix="ltxbench-") as tmp:
        scratch = Path(tmp)
        ours, stored = bench_ltxmock(opts, scratch / "data")
        theirs = bench_prism(opts, scratch)
        threaded = None if opts.no_gthread else bench_gthread(opts, scratch / "gthread")[0]
    rows: list[Row] = [
        (kind, ours[kind], theirs[kind], threaded[kind] if threaded else None)
        for kind in ("submit", "poll")
    ]
    targets = []
    for kind, mine, prism, _ in rows:
        targets += [
            Target(
                f"server {kind} req/s vs Prism",
                mine.rate / prism.rate,
                TARGET_RATIO,
                "x",
                higher_is_better=True,
            ),
            Target(f"server {kind} p99", mine.p99_ms, TARGET_P99_MS, "ms"),
            Target(f"server {kind} failed requests", mine.bad, 0, "requests"),
        ]
    targets.append(
        Target(
            "server submits answered but not stored",
            max(0, ours["submit"].requests + 1 - stored),
            0,
            "tasks",
        )
    )
    return rows, targets, stored


def print_table(rows: list[Row], stored: int) -> None:
    print(f"\n{'load (wrk, same run)':<22} {'ltxmock req/s':>14} {'Prism req/s':>12} {'ratio':>7} "
          f"{'p50 ms':>13} {'p99 ms':>15}")  # fmt: skip
    for kind, mine, prism, _ in rows:
        ratio = mine.rate / prism.rate
        p50 = f"{mine.p50_ms:>5.2f} / {prism.p50_ms:<5.2f}"
        p99 = f"{mine.p99_ms:>6.2f} / {prism.p99_ms:<6.2f}"
        rates = f"{mine.rate:>14.0f} {prism.rate:>12.0f} {ratio:>6.2f}x"
        print(f"{kind:<22} {rates} {p50:>13} {p99:>15}")
    print("(p50/p99 columns: ltxmock / Prism)")
    print(
        f"tasks stored by ltxmock during the submit load: {stored} "
        f"(submits answered: {rows[0][1].requests}, failed: {rows[0][1].bad})"
    )
    if all(row[3] is not None for row in rows):
        print("\nthe same app on gunicorn gthread workers (8 threads), same load:")
        for kind, mine, _, threaded in rows:
            assert threaded is not None
            print(
                f"  {kind:<8} {threaded.rate:>7.0f} req/s, p99 {threaded.p99_ms:6.2f} ms; "
                f"ltxmock serve is {mine.rate / threaded.rate:.2f}x that"
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load (10)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--workers", type=int, default=0, help="ltxmock workers (default: serve's)")
    parser.add_argument("--threads", type=int, default=0, help="ltxmock threads (default: serve's)")
    parser.add_argument(
        "--no-gthread", action="store_true", help="skip the gunicorn gthread comparison"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    rows, targets, stored = run(parser.parse_args(argv))
    print_table(rows, stored)
    return report(targets)


if __name__ == "__main__":
    sys.exit(main())
