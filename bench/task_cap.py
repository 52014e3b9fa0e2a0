"""Issue 13's probe of one huge request: 20,000 invalid tasks in one 3.8 MB body against
a live ``ltxmock serve``: the reply's size and time with the task cap (the default,
``--max-tasks-per-request 10``) against the same server with the cap out of the way
(ten times the task count: every task validated, the reply bounded only by its error
items), in the same run.

Usage: python bench/task_cap.py [--runs 5] [--tasks 20000]

Targets (issue 13): a reply under 1 MB in under 1 s with the cap.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    API_KEY,
    TYPICAL_TASK,
    Target,
    free_port,
    log,
    ltxmock_command,
    post_bytes,
    report,
    running,
    wait_http,
)


def huge_body(tasks: int) -> bytes:
    """``tasks`` short tasks, each invalid for its duration (20,000: 3.8 MB; the issue's
    probe was 3.5 MB)."""
    task = {**TYPICAL_TASK, "positivePrompt": "A red fox", "duration": 7}
    return json.dumps([{**task, "taskUUID": str(uuid.uuid4())} for _ in range(tasks)]).encode()


def timed_post(url: str, body: bytes) -> tuple[float, int, int]:
    """Seconds to the whole reply, its status and its size in bytes."""
    start = time.perf_counter()
    status, reply = post_bytes(url, body, timeout=120)
    return time.perf_counter() - start, status, len(reply)


def measure(cap: int, body: bytes, runs: int) -> tuple[float, int, int]:
    """Median seconds, the status and the reply size, on a server of its own."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        extra = ("--max-tasks-per-request", str(cap), "--data-dir", data, "--api-key", API_KEY)
        command = ltxmock_command(port, "--render-mode", "lazy", *extra)
        with running(command):
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/__ltxmock/health")
            samples = [timed_post(f"{base}/v1", body) for _ in range(runs)]
    statuses = {status for _, status, _ in samples}
    sizes = {size for _, _, size in samples}
    return statistics.median(s for s, _, _ in samples), statuses.pop(), max(sizes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=20_000)
    args = parser.parse_args(argv)
    body = huge_body(args.tasks)
    log(f"{args.tasks:,} invalid tasks in {len(body) / 1e6:.1f} MB, {args.runs} runs each")
    capped = measure(10, body, args.runs)
    uncapped = measure(10 * args.tasks, body, args.runs)
    print(f"{'server':34} {'status':>6} {'reply bytes':>12} {'median s':>9}")
    for name, (seconds, status, size) in (
        ("ltxmock serve (cap 10, default)", capped),
        (f"--max-tasks-per-request {10 * args.tasks}", uncapped),
    ):
        print(f"{name:34} {status:>6} {size:>12,} {seconds:>9.3f}")
    print(f"the cap answers {uncapped[0] / capped[0]:.1f}x sooner")
    return report(
        [
            Target("reply size with the cap", capped[2] / 1e6, 1.0, "MB"),
            Target("reply time with the cap", capped[0], 1.0, "s"),
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
