"""What an open dashboard costs a busy mock: throughput with and without it, and the cost
of one dashboard poll when the mock is fresh and after a long busy run.

A dashboard is simulated by a thread asking exactly what the page asks once a second
(``ui_files/app.js``): the journal since its cursor (``limit=50``), the unsettled
tasks among the 30 newest it knows, the faults, and the health every 5th poll. The
page polls once a second (``--rate``); the dashboards run in a process of their own.

1. Throughput: one keep-alive client submitting a fresh task then polling it, for
   ``--duration`` seconds, in alternating rounds: no dashboard, 1 dashboard, 10
   dashboards. Figures: submit+poll pairs per second, as ratios to "no dashboard".
2. Poll cost: p50/p99 of one dashboard poll on a fresh mock, then after ``--busy``
   more requests (a long day, shortened), compared with one ``getResponse`` poll.

Run from the repository root:  python bench/dashboard.py [--rounds 3] [--duration 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    API_KEY,
    TYPICAL_TASK,
    Target,
    free_port,
    log,
    ltxmock_command,
    percentiles,
    report,
    running,
    time_calls,
    wait_http,
)

PAGE = 50
MAX_TASKS = 30
HEALTH_EVERY = 5
JSON_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}


class Client:
    """One keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body)
        self.conn.request(method, path, data, JSON_HEADERS)
        response = self.conn.getresponse()
        payload = response.read()
        if response.status >= 500:
            raise RuntimeError(f"{method} {path}: {response.status}")
        return json.loads(payload or b"null")

    def submit_and_poll(self) -> None:
        task_uuid = str(uuid.uuid4())
        self.call(
            "POST", "/v1", [{**TYPICAL_TASK, "taskType": "videoInference", "taskUUID": task_uuid}]
        )
        self.call("POST", "/v1", [{"taskType": "getResponse", "taskUUID": task_uuid}])

    def close(self) -> None:
        self.conn.close()


class Dashboard:
    """What the page asks, poll after poll, with its bounded lists."""

    def __init__(self, port: int) -> None:
        self.client = Client(port)
        self.cursor = 0
        self.tasks: dict[str, str] = {}  # uuid -> status, oldest first
        self.polls = 0

    def poll(self) -> None:
        if self.polls % HEALTH_EVERY == 0:
            self.client.call("GET", "/__ltxmock/health")
        entries = self.client.call("GET", f"/__ltxmock/requests?since={self.cursor}&limit={PAGE}")[
            "requests"
        ]
        if entries:
            self.cursor = entries[-1]["id"]
        else:
            self.client.call("GET", "/__ltxmock/requests?limit=1")
        for entry in entries:
            if entry["status"] == 200 and isinstance(entry["request"], list):
                for task in entry["request"]:
                    if isinstance(task, dict) and task.get("taskType") == "videoInference":
                        self.tasks.setdefault(task["taskUUID"], "new")
        while len(self.tasks) > MAX_TASKS:
            del self.tasks[next(iter(self.tasks))]
        wanted = [u for u, status in self.tasks.items() if status in ("new", "processing")]
        if wanted:
            query = "&".join(f"uuid={quote(u)}" for u in wanted[-PAGE:])
            for view in self.client.call("GET", f"/__ltxmock/tasks?{query}")["tasks"]:
                self.tasks[view["taskUUID"]] = view["status"]
        self.client.call("GET", "/__ltxmock/faults")
        self.polls += 1


def watch(port: int, dashboards: int, rate: float, stop: Any) -> None:
    """``dashboards`` pages polling ``rate`` times a second until ``stop`` is set (run in
    a process of its own: their JSON parsing must not hold the load client's GIL)."""

    def one() -> None:
        board = Dashboard(port)
        while not stop.is_set():
            started = time.perf_counter()
            board.poll()
            stop.wait(max(0.0, 1 / rate - (time.perf_counter() - started)))
        board.client.close()

    threads = [threading.Thread(target=one, daemon=True) for _ in range(dashboards)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def pairs_per_second(port: int, duration: float, dashboards: int, rate: float) -> float:
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    watcher = context.Process(target=watch, args=(port, dashboards, rate, stop), daemon=True)
    if dashboards:
        watcher.start()
        time.sleep(1 / rate)  # the dashboards' first (largest) polls are behind us
    client = Client(port)
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < duration:
        client.submit_and_poll()
        done += 1
    elapsed = time.perf_counter() - start
    stop.set()
    if dashboards:
        watcher.join(timeout=30)
    client.close()
    return done / elapsed


def poll_costs(port: int, samples: int) -> tuple[float, float, float, float]:
    """p50/p99 seconds of one dashboard poll, and of one getResponse poll."""
    board = Dashboard(port)
    board.poll()  # the first poll reads the newest 50 entries: the steady state is after it
    known = next(iter(board.tasks), None) or str(uuid.uuid4())
    dash = percentiles(time_calls(board.poll, samples, warmup=20))
    board.client.close()
    client = Client(port)  # a fresh connection: an idle keep-alive one may have been closed
    getresponse = [{"taskType": "getResponse", "taskUUID": known}]
    poll = percentiles(time_calls(lambda: client.call("POST", "/v1", getresponse), samples))
    client.close()
    return dash[0], dash[1], poll[0], poll[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per round")
    parser.add_argument("--rate", type=float, default=1.0, help="polls per second per dashboard")
    parser.add_argument("--busy", type=int, default=20_000, help="requests of the 'long day'")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args(argv)

    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        command = ltxmock_command(port, "--latency", "0", "--render-mode", "lazy",
                                  "--data-dir", data_dir, "--workers", "1")  # fmt: skip
        with running(command):
            wait_http(f"http://127.0.0.1:{port}/__ltxmock/health")
            fresh = poll_costs(port, args.samples)
            modes = (0, 1, 10)
            rates: dict[int, list[float]] = {mode: [] for mode in modes}
            for round_ in range(args.rounds):
                for mode in modes:
                    log(f"round {round_ + 1}: {mode} dashboard(s)...")
                    rates[mode].append(pairs_per_second(port, args.duration, mode, args.rate))
            log(f"a long day: {args.busy} more requests...")
            client = Client(port)
            for _ in range(args.busy // 2):
                client.submit_and_poll()
            client.close()
            late = poll_costs(port, args.samples)

    best = {mode: max(values) for mode, values in rates.items()}
    print(f"\n# dashboard cost: {args.rounds} rounds x {args.duration:g} s, ltxmock serve "
          f"--workers 1, dashboards polling {args.rate:g}/s (the page: 1/s)")  # fmt: skip
    print("\n| load | submit+poll pairs/s (best round) | vs no dashboard |")
    print("|---|---|---|")
    for mode in modes:
        print(f"| {mode} dashboard(s) | {best[mode]:.0f} | {best[mode] / best[0]:.2f}x |")
    print("\n| one poll | p50 ms | p99 ms | p50 vs one getResponse |")
    print("|---|---|---|---|")
    for name, (d50, d99, g50, _g99) in (
        ("fresh mock", fresh),
        (f"after {args.busy} requests", late),
    ):
        print(f"| dashboard poll, {name} | {d50 * 1e3:.2f} | {d99 * 1e3:.2f} | {d50 / g50:.1f}x |")
        print(f"| getResponse, {name} | {g50 * 1e3:.2f} | {_g99 * 1e3:.2f} | 1.0x |")
    return report(
        [
            Target("throughput with 1 dashboard vs none", best[1] / best[0], 0.9, "x", True),
            Target("dashboard poll p50, late vs fresh", late[0] / fresh[0], 1.5, "x"),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
