"""Start-up time: from launching the server to its first 200, ltxmock and Prism.

ltxmock: ``ltxmock serve`` (default workers) until ``GET /__ltxmock/health`` is 200.
Prism:   ``prism mock`` on the same document until ``POST /`` (a ping) is 200.
Median of several launches each, in the same run.

Run from the repository root:  python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    Target,
    free_port,
    log,
    ltxmock_command,
    prism_command,
    report,
    running,
    wait_http,
)


def launch(kind: str) -> float:
    port = free_port()
    if kind == "ltxmock":
        command, url, method = (
            ltxmock_command(port, "--render-mode", "lazy"),
            "/__ltxmock/health",
            "GET",
        )
    else:
        command, url, method = prism_command(port), "/", "POST"
    body = [{"taskType": "ping", "ping": True}] if method == "POST" else None
    start = time.perf_counter()
    with running(command):
        wait_http(f"http://127.0.0.1:{port}{url}", method=method, body=body, limit=60)
        return time.perf_counter() - start


def measure(runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"ltxmock": [], "prism": []}
    for run in range(runs):
        for kind in times:  # interleaved, so both see the same machine
            times[kind].append(launch(kind))
            log(f"start-up run {run + 1}/{runs}: {kind} {times[kind][-1]:.3f} s")
    return {kind: statistics.median(values) for kind, values in times.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    medians = measure(parser.parse_args(argv).runs)
    ours, theirs = medians["ltxmock"], medians["prism"]
    print(f"\n{'start-up to first 200':<24} {'median s':>9} {'vs Prism':>9}")
    print(f"{'ltxmock serve':<24} {ours:>9.3f} {ours / theirs:>8.2f}x")
    print(f"{'prism mock':<24} {theirs:>9.3f} {1.0:>8.2f}x")
    return report([Target("start-up ltxmock / Prism", ours / theirs, 1.0, "x")])


if __name__ == "__main__":
    sys.exit(main())
