"""Run every benchmark and print each figure, ratio and target (PASS/FAIL).

Each benchmark runs as its own process (so one's imports and threads cannot
skew another's figures); their tables are printed as they come, then a
summary of every target. Exits 1 if any target fails or a benchmark breaks.

Run from the repository root:  python bench/run_all.py [--quick] [--skip NAME ...]
Needs: wrk (apt-get install wrk), Node.js + npm (Prism is installed on first run).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH, ROOT, machine

# name, script, arguments, arguments with --quick
BENCHMARKS: list[tuple[str, str, list[str], list[str]]] = [
    ("validation", "validation.py", [], ["--calls", "5000"]),
    ("lint", "lint.py", [], ["--files", "2000", "--runs", "2"]),
    ("media", "media.py", [], ["--runs", "1", "--skip-4k"]),
    ("server", "server.py", [], ["--duration", "3", "--rounds", "2"]),
    ("scale", "scale.py", [], ["--tasks", "20000", "--http-tasks", "500"]),
    ("startup", "startup.py", [], ["--runs", "3"]),
    ("ws_concurrency", "ws_concurrency.py", [], []),
    ("dashboard", "dashboard.py", [], ["--rounds", "1", "--duration", "2", "--busy", "2000"]),
    ("proxy", "proxy.py", [], ["--count", "300", "--no-gate"]),
    ("task_cap", "task_cap.py", [], ["--runs", "2"]),
]
VERDICT = re.compile(r"\b(PASS|FAIL)\b")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    info = machine()
    print(f"machine: nproc {info['nproc']}, {info['cpu']}, RAM {info['ram']}, "
          f"Python {info['python']}, load average at start {info['load']}")  # fmt: skip
    summary: list[tuple[str, str]] = []
    failed: list[str] = []
    for name, script, full, quick in BENCHMARKS:
        path = BENCH / script
        if name in args.skip:
            continue
        if not path.exists():
            print(f"\n== {name}: {script} not present, skipped")
            continue
        command = [sys.executable, str(path), *(quick if args.quick else full)]
        print(f"\n== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
        print(done.stdout, end="", flush=True)
        lines = [line.strip() for line in done.stdout.splitlines() if VERDICT.search(line)]
        summary += [(name, line) for line in lines]
        print(f"({name}: exit {done.returncode}, {time.perf_counter() - start:.0f} s)")
        if done.returncode != 0:
            failed.append(name)
            if not any("FAIL" in line for line in lines):
                summary.append((name, f"FAIL  {script} exited {done.returncode}"))
    print("\n== summary: every target")
    for name, line in summary:
        print(f"  [{name}] {line}")
    print(f"\n{len(failed)} benchmark(s) with a failed target: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
