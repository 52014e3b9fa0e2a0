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
the whole machine under load, not for the server alone. That machine's speed
drifts by 10-20% over tens of seconds, so ltxmock and Prism run side by side
and take turns: ``--rounds`` rounds (3), in each both get every load back to
back, the order flipped every round. A ratio is the median of the rounds'
ratios; req/s, p50 and p99 are those of the median round; the p99 target is
checked against the worst round.

Run from the repository root:  python bench/server.py [--rounds 3] [--duration 8] [--connections 8]
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
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median
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

TARGET_RATIO = 3.0
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


@dataclass
class Server:
    """A started server under test: where to send load, and a task it knows."""

    name: str
    url: str
    known: str


def drive(server: Server, kind: str, opts: argparse.Namespace) -> Load:
    load = {"duration": opts.duration, "connections": opts.connections, "threads": opts.wrk_threads}
    script, args = ("submit.lua", []) if kind == "submit" else ("poll.lua", [server.known])
    return wrk(server.url, script, args, **load)


@contextmanager
def started_mock(
    name: str, command: Sequence[str], port: int, data_dir: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """A running mock (ltxmock serve, or the app on gthread) with one known task."""
    base = f"http://127.0.0.1:{port}"
    with running(command, log_path=data_dir.parent / f"{name}.log", env=env):
        wait_http(f"{base}/__ltxmock/health")
        known = str(uuid.uuid4())
        status, answer = post(f"{base}/v1", [{**TYPICAL_TASK, "taskUUID": known}])
        if status != 200:
            raise SystemExit(f"{name} refused the known task: {status} {answer}")
        yield Server(name, f"{base}/v1", known)


def ltxmock_server(opts: argparse.Namespace, data_dir: Path) -> AbstractContextManager[Server]:
    port = free_port()
    extra = ["--latency", "0", "--render-mode", "lazy", "--data-dir", str(data_dir)]
    if opts.workers:
        extra += ["--workers", str(opts.workers)]
    if opts.threads:
        extra += ["--threads", str(opts.threads)]
    return started_mock("ltxmock", ltxmock_command(port, *extra), port, data_dir)


def gthread_server(opts: argparse.Namespace, data_dir: Path) -> AbstractContextManager[Server]:
    """The same app on the obvious alternative: gunicorn's threaded WSGI workers."""
    port = free_port()
    from ltxmock.server.serve.cli import default_workers

    command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "8",
               "-w", str(opts.workers or default_workers()), "-b", f"127.0.0.1:{port}",
               "ltxmock.server:create_app()"]  # fmt: skip
    env = {"LTXMOCK_DATA_DIR": str(data_dir), "LTXMOCK_LATENCY": "0",
           "LTXMOCK_RENDER_MODE": "lazy"}  # fmt: skip
    return started_mock("gthread", command, port, data_dir, env)


@contextmanager
def prism_server(scratch: Path) -> Iterator[Server]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(prism_command(port), log_path=scratch / "prism.log"):
        wait_http(f"{base}/", method="POST", body=[{"taskType": "ping", "ping": True}], limit=60)
        yield Server("prism", f"{base}/", str(uuid.uuid4()))


def stored_tasks(data_dir: Path) -> int:
    from ltxmock.server.core.config import DATABASE_NAME
    from ltxmock.server.store import SqliteStore

    store = SqliteStore(data_dir / DATABASE_NAME)
    try:
        return store.tasks.count(now=time.time())
    finally:
        store.close()


@dataclass
class Row:
    """One kind of load: every round of ltxmock and Prism, and the gthread run."""

    kind: str
    ours: list[Load]
    prism: list[Load]
    gthread: Load | None = None

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios: each round's two runs are back to back."""
        pairs = zip(self.ours, self.prism, strict=True)
        return median(mine.rate / theirs.rate for mine, theirs in pairs)

    @staticmethod
    def typical(loads: list[Load]) -> Load:
        """The round with the median rate."""
        return sorted(loads, key=lambda load: load.rate)[len(loads) // 2]


KINDS = ("submit", "poll")


def run(opts: argparse.Namespace) -> tuple[list[Row], list[Target], int]:
    rows = {kind: Row(kind, [], []) for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix="ltxbench-") as tmp:
        scratch = Path(tmp)
        data_dir = scratch / "data"
        with ltxmock_server(opts, data_dir) as ours, prism_server(scratch) as prism:
            # The machine's speed drifts by 10-20% over tens of seconds (it is
            # shared); both servers stay up and take turns, round after round,
            # the order flipped every round, so a drift hits both alike.
            log("warming up both servers (2 s each)...")
            warm = {"duration": 2, "connections": opts.connections, "threads": opts.wrk_threads}
            warm_up = wrk(ours.url, "submit.lua", [], **warm).requests
            wrk(prism.url, "submit.lua", [], **warm)
            for number in range(opts.rounds):
                order = (ours, prism) if number % 2 == 0 else (prism, ours)
                for kind in KINDS:
                    for server in order:
                        log(
                            f"round {number + 1}/{opts.rounds}: {server.name} {kind} "
                            f"({opts.duration:g} s, {opts.connections} connections)..."
                        )
                        load = drive(server, kind, opts)
                        (rows[kind].ours if server is ours else rows[kind].prism).append(load)
        stored = stored_tasks(data_dir)
        if not opts.no_gthread:
            with gthread_server(opts, scratch / "gthread") as threaded:
                for kind in KINDS:
                    log(f"gthread: {kind} ({opts.duration:g} s)...")
                    rows[kind].gthread = drive(threaded, kind, opts)
    # every answered submit, the warm-up's and the known task included, must be stored
    submitted = sum(load.requests for load in rows["submit"].ours) + warm_up + 1
    targets = []
    for row in rows.values():
        worst_p99 = max(load.p99_ms for load in row.ours)
        failed = sum(load.bad for load in row.ours)
        targets += [
            Target(
                f"server {row.kind} req/s vs Prism",
                row.ratio,
                TARGET_RATIO,
                "x",
                higher_is_better=True,
            ),
            Target(f"server {row.kind} p99 (worst round)", worst_p99, TARGET_P99_MS, "ms"),
            Target(f"server {row.kind} failed requests", failed, 0, "requests"),
        ]
    targets.append(
        Target("server submits answered but not stored", max(0, submitted - stored), 0, "tasks")
    )
    return list(rows.values()), targets, stored


def print_table(rows: list[Row], stored: int, rounds: int) -> None:
    print(f"\n{'load (wrk, same run)':<22} {'ltxmock req/s':>14} {'Prism req/s':>12} {'ratio':>7} "
          f"{'p50 ms':>13} {'p99 ms':>15}")  # fmt: skip
    for row in rows:
        mine, prism = Row.typical(row.ours), Row.typical(row.prism)
        p50 = f"{mine.p50_ms:>5.2f} / {prism.p50_ms:<5.2f}"
        p99 = f"{mine.p99_ms:>6.2f} / {prism.p99_ms:<6.2f}"
        rates = f"{mine.rate:>14.0f} {prism.rate:>12.0f} {row.ratio:>6.2f}x"
        print(f"{row.kind:<22} {rates} {p50:>13} {p99:>15}")
    print(
        f"(medians of {rounds} rounds, each round ltxmock and Prism back to back; ratio: the "
        "median of the rounds' ratios; p50/p99 columns: ltxmock / Prism, median round)"
    )
    for row in rows:
        rounds_text = ", ".join(
            f"{mine.rate:.0f}/{theirs.rate:.0f}={mine.rate / theirs.rate:.2f}x"
            for mine, theirs in zip(row.ours, row.prism, strict=True)
        )
        print(f"  {row.kind} rounds (ltxmock/Prism): {rounds_text}")
    submit = rows[0]
    print(
        f"tasks stored by ltxmock: {stored} (submits answered: "
        f"{sum(load.requests for load in submit.ours)} in the rounds, plus the warm-up's; "
        f"failed: {sum(load.bad for load in submit.ours)})"
    )
    if all(row.gthread is not None for row in rows):
        print("\nthe same app on gunicorn gthread workers (8 threads), same load, one round:")
        for row in rows:
            assert row.gthread is not None
            mine = Row.typical(row.ours)
            threaded = row.gthread
            print(
                f"  {row.kind:<8} {threaded.rate:>7.0f} req/s, p99 {threaded.p99_ms:6.2f} ms; "
                f"ltxmock serve is {mine.rate / threaded.rate:.2f}x that"
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per load (8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every load (3)")
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
    opts = parser.parse_args(argv)
    rows, targets, stored = run(opts)
    print_table(rows, stored, opts.rounds)
    return report(targets)


if __name__ == "__main__":
    sys.exit(main())
