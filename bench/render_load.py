"""Submit latency while eager renders run, and what a burst of eager submits leaves behind.

Two measurements of ``ltxmock serve`` with its default flags (eager renders,
one worker per core, ``--render-backlog 8``, ``--media-budget 100MB``,
renders at ``--render-niceness 19``), each data dir in a temporary folder:

1. **Submit load**: wrk (bench/wrk/submit.lua: a fresh valid 1080p task per
   request, so every submit queues a render or defers one) for ``--duration``
   seconds, ``--connections`` connections; p50/p99 and req/s beside the same
   load on ``--render-mode lazy`` (the obvious alternative: no render at all),
   and beside eager with renders at the server's own priority
   (``--render-niceness 0``) and, on top, a backlog too large to bind
   (``--render-backlog 100000``: every submit renders, as before the bound).
   The servers take turns over ``--rounds`` rounds; figures are the medians.
2. **Burst**: 200 eager submits (20 requests of 10 tasks, from 10 concurrent
   clients), then, 20 s after the last answer, the CPU the server's whole
   process tree (gunicorn, its workers, their render processes; from /proc)
   uses over 5 s, and the size of the data dir; with default flags and with
   the unbounded backlog at the server's priority.

wrk, the servers and this script share the machine's cores: figures are for the
whole machine under load.

Run from the repository root:  python bench/render_load.py [--rounds 3] [--duration 8]
Needs: wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    TYPICAL_TASK,
    free_port,
    log,
    ltxmock_command,
    post,
    process_tree,
    running,
    tree_cpu_seconds,
    wait_http,
)
from server import Load, wrk

TARGET_P99_MS = 10.0
BURST_TASKS, PER_REQUEST, CLIENTS = 200, 10, 10
SETTLE_S, SAMPLE_S = 20.0, 5.0

# name -> extra flags; the first is the alternative every ratio is taken against.
SETUPS: dict[str, list[str]] = {
    "lazy (no renders)": ["--render-mode", "lazy"],
    "eager, defaults": [],
    "eager, renders at server priority": ["--render-niceness", "0"],
    "eager, unbounded, server priority": ["--render-niceness", "0", "--render-backlog", "100000"],
}
BURST_SETUPS = ("eager, defaults", "eager, unbounded, server priority")


@contextmanager
def serve(name: str, extra: Sequence[str], scratch: Path) -> Iterator[tuple[str, int, Path]]:
    """``ltxmock serve`` with ``extra`` flags on a fresh data dir: (base URL, pid, data dir)."""
    data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=scratch))
    port = free_port()
    command = ltxmock_command(port, "--latency", "0", "--data-dir", str(data_dir), *extra)
    log_path = scratch / f"{name.replace(' ', '_').replace(',', '')}.log"
    with running(command, log_path=log_path) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/__ltxmock/health")
        # One submit first: each worker imports the renderer on its first submit.
        post(f"{base}/v1", [{**TYPICAL_TASK, "taskUUID": str(uuid.uuid4())}], timeout=30)
        yield base, proc.pid, data_dir


# -- the process tree's CPU ---------------------------------------------------------
def busy_cores(root: int, seconds: float) -> float:
    pids = process_tree(root)
    before, start = tree_cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    return (tree_cpu_seconds(pids) - before) / (time.monotonic() - start)


def size_mb(folder: Path) -> float:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue
    return total / 1e6


# -- the two measurements -----------------------------------------------------------
@dataclass
class Burst:
    accepted: int
    busy_later: float  # cores
    data_mb: float
    media_mb: float


def burst(base: str, pid: int, data_dir: Path) -> Burst:
    requests = [
        [
            {**TYPICAL_TASK, "taskUUID": str(uuid.uuid4()), "positivePrompt": f"burst {n} {i}"}
            for i in range(PER_REQUEST)
        ]
        for n in range(BURST_TASKS // PER_REQUEST)
    ]
    with futures.ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(lambda body: post(f"{base}/v1", body, timeout=60), requests))
    accepted = sum(len(a.get("data", [])) for s, a in answers if s == 200)
    time.sleep(SETTLE_S)
    busy = busy_cores(pid, SAMPLE_S)
    return Burst(accepted, busy, size_mb(data_dir), size_mb(data_dir / "media"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--skip-burst", action="store_true")
    opts = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="ltxmock-render-load-"))
    log(f"logs and data dirs in {scratch}")
    loads: dict[str, list[Load]] = {name: [] for name in SETUPS}
    names = list(SETUPS)
    for number in range(opts.rounds):
        for name in names if number % 2 == 0 else reversed(names):
            with serve(name, SETUPS[name], scratch) as (base, _, _):
                load = wrk(f"{base}/v1", "submit.lua", [], duration=opts.duration,
                           connections=opts.connections, threads=opts.wrk_threads)  # fmt: skip
            log(f"round {number + 1} {name}: {load.rate:.0f} req/s, p99 {load.p99_ms:.1f} ms")
            loads[name].append(load)
    bursts: dict[str, Burst] = {}
    if not opts.skip_burst:
        for name in BURST_SETUPS:
            with serve(name, SETUPS[name], scratch) as (base, pid, data_dir):
                bursts[name] = burst(base, pid, data_dir)
            log(f"burst {name}: {bursts[name]}")
    print_tables(loads, bursts, opts)
    worst = max(load.p99_ms for load in loads["eager, defaults"])
    verdict = "met" if worst < TARGET_P99_MS else "NOT met"
    print(f"\nsubmit p99 with eager renders (worst round): {worst:.1f} ms "
          f"(target < {TARGET_P99_MS:g} ms: {verdict})")  # fmt: skip
    return 0


def print_tables(
    loads: dict[str, list[Load]], bursts: dict[str, Burst], opts: argparse.Namespace
) -> None:
    base = next(iter(SETUPS))
    base_p99 = median(load.p99_ms for load in loads[base])
    base_rate = median(load.rate for load in loads[base])
    print(f"\nsubmit load: wrk -c {opts.connections} -t {opts.wrk_threads}, "
          f"{opts.duration:g} s, {opts.rounds} round(s), medians")  # fmt: skip
    print(f"| {'ltxmock serve':<36} | req/s | p50 ms | p99 ms | p99 / lazy | req/s / lazy | bad |")
    print(f"|{'-' * 38}|------:|-------:|-------:|-----------:|-------------:|----:|")
    for name, runs in loads.items():
        rate = median(load.rate for load in runs)
        p50 = median(load.p50_ms for load in runs)
        p99 = median(load.p99_ms for load in runs)
        bad = sum(load.bad for load in runs)
        print(f"| {name:<36} | {rate:5.0f} | {p50:6.2f} | {p99:6.2f} | "
              f"{p99 / base_p99:9.2f}x | {rate / base_rate:11.2f}x | {bad:3d} |")  # fmt: skip
    if not bursts:
        return
    print(f"\nburst: {BURST_TASKS} eager submits ({BURST_TASKS // PER_REQUEST} requests of "
          f"{PER_REQUEST} tasks, {CLIENTS} clients); CPU of the server's process tree "
          f"{SETTLE_S:g}-{SETTLE_S + SAMPLE_S:g} s after the last answer")  # fmt: skip
    print(f"| {'ltxmock serve':<36} | accepted | cores busy | data dir MB | media MB |")
    print(f"|{'-' * 38}|---------:|-----------:|------------:|---------:|")
    for name, found in bursts.items():
        print(f"| {name:<36} | {found.accepted:8d} | {found.busy_later:10.2f} | "
              f"{found.data_mb:11.1f} | {found.media_mb:8.1f} |")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
