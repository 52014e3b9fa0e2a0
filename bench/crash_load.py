"""Crash load: concurrent clients submit to ``ltxmock serve --workers 4`` on a data dir,
the whole server is killed with SIGKILL half-way, and restarted on the same data dir.

Usage: python bench/crash_load.py [--clients 50] [--tasks 10000] [--workers 4]
                                  [--latency 1.0] [--webhook-every 50]
                                  [--time-limit 900] [--no-baseline]

Each client takes the next task (a valid 1080p task; every ``--webhook-every``-th one
with a ``webhookURL`` on a local sink: a webhook waits for its video to be rendered,
seconds of CPU each, and that would measure the encoder), submits it and, on any
connection error or 5xx, resubmits the same task (same taskUUID, same body) until it
is acked, as a careful client would: the mock acks an
identical resubmit again without a second task. When half of the tasks are acked the
server's process group gets SIGKILL (no shutdown code runs), and a new server starts on
the same data dir. Then every acked task is polled until it ends.

Prints one row per run: the same load without a kill (the baseline) and with it, and
the ratio of their wall times. Exits 1 if an acked task is lost or does not succeed, or
if a task's webhook never arrives (at least once is the promise: a delivery in flight
when the server died may arrive twice).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import API_KEY, TYPICAL_TASK, free_port, ltxmock_command

POLL_BATCH = 10  # serve's default --max-tasks-per-request


# -- the webhook sink ---------------------------------------------------------------------
class Sink:
    """A local HTTP server that counts the webhooks it receives, per taskUUID."""

    def __init__(self) -> None:
        self.received: dict[str, int] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with contextlib.suppress(ValueError):
                    item = json.loads(body)
                    items = item.get("data", [item]) if isinstance(item, dict) else []
                    with sink.lock:
                        for each in items:
                            key = str(each.get("taskUUID", "")).lower()
                            sink.received[key] = sink.received.get(key, 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Sink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the server ---------------------------------------------------------------------------
class Server:
    """``ltxmock serve`` in its own process group, so SIGKILL reaches every worker."""

    def __init__(self, port: int, data_dir: Path, workers: int, latency: float) -> None:
        self.port = port
        self.command = ltxmock_command(
            port,
            "--host", "127.0.0.1",
            "--latency", str(latency),
            "--workers", str(workers),
            "--data-dir", str(data_dir),
            "--api-key", API_KEY,
            "--render-mode", "lazy",  # the lifecycle and the store, not the encoder
        )  # fmt: skip
        self.log = data_dir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> float:
        started = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                url = f"http://127.0.0.1:{self.port}/__ltxmock/health"
                if requests.get(url, timeout=1).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.05)
        raise RuntimeError(f"serve did not answer within {timeout:g} s")

    def kill(self) -> None:
        """SIGKILL to the whole process group: the arbiter and every worker at once."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


# -- one run ------------------------------------------------------------------------------
@dataclass
class Result:
    label: str
    clients: int
    tasks: int
    acked: int = 0
    acked_before_kill: int = 0
    webhooks_pending_at_kill: int = 0  # of tasks acked before the kill, not yet received
    resubmits: int = 0
    restart_s: float = 0.0
    lost: list[str] = field(default_factory=list)  # acked, then not found
    not_succeeded: list[str] = field(default_factory=list)
    webhooks: int = 0
    webhooks_missing: list[str] = field(default_factory=list)
    webhooks_twice: int = 0
    submit_s: float = 0.0
    wall_s: float = 0.0
    tracebacks: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.acked == self.tasks
            and not self.lost
            and not self.not_succeeded
            and not self.webhooks_missing
            and self.tracebacks == 0
        )


def run(
    *,
    clients: int,
    tasks: int,
    workers: int = 4,
    latency: float = 1.0,
    webhook_every: int = 50,
    kill: bool = True,
    time_limit: float = 900.0,
    data_root: Path | None = None,
) -> Result:
    """One load; with ``kill``, SIGKILL the server when half the tasks are acked."""
    result = Result("kill -9 at half" if kill else "no crash", clients, tasks)
    deadline = time.monotonic() + time_limit
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=data_root)))
        sink = stack.enter_context(Sink())
        port = free_port()
        server = Server(port, data_dir, workers, latency)
        stack.callback(server.stop)
        server.start()
        url = f"http://127.0.0.1:{port}/v1"
        bodies = [[{**TYPICAL_TASK, "taskUUID": str(uuid.uuid4())}] for _ in range(tasks)]
        hooked = {body[0]["taskUUID"] for body in bodies[::webhook_every]}
        for body in bodies[::webhook_every]:
            body[0]["webhookURL"] = sink.url
        acked: set[str] = set()
        lock = threading.Lock()
        next_task = iter(range(tasks))
        half = threading.Event()

        def client() -> None:
            session = requests.Session()
            headers = {"Authorization": f"Bearer {API_KEY}"}
            while time.monotonic() < deadline:
                with lock:
                    index = next(next_task, None)
                if index is None:
                    return
                body = bodies[index]
                while time.monotonic() < deadline:
                    try:
                        answer = session.post(url, json=body, headers=headers, timeout=10)
                        if answer.status_code == 200:
                            break
                    except requests.RequestException:
                        session.close()
                        session = requests.Session()
                    with lock:
                        result.resubmits += 1
                    time.sleep(0.05)
                else:
                    return
                with lock:
                    acked.add(body[0]["taskUUID"])
                    if len(acked) * 2 >= tasks:
                        half.set()

        started = time.monotonic()
        threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        if kill:
            half.wait(max(0.0, deadline - time.monotonic()))
            server.kill()
            with lock, sink.lock:
                result.acked_before_kill = len(acked)
                result.webhooks_pending_at_kill = sum(
                    1 for u in acked & hooked if u.lower() not in sink.received
                )
            result.restart_s = server.start()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        result.submit_s = time.monotonic() - started
        result.acked = len(acked)

        # Every acked task: found, and ends in success (polled in batches).
        pending = sorted(acked)
        session = requests.Session()
        headers = {"Authorization": f"Bearer {API_KEY}"}
        while pending and time.monotonic() < deadline:
            still: list[str] = []
            for start in range(0, len(pending), POLL_BATCH):
                batch = pending[start : start + POLL_BATCH]
                polls = [{"taskType": "getResponse", "taskUUID": u} for u in batch]
                reply = session.post(url, json=polls, headers=headers, timeout=10).json()
                seen = {
                    item["taskUUID"].lower(): item.get("status") for item in reply.get("data", [])
                }
                for task_uuid in batch:
                    status = seen.get(task_uuid.lower())
                    if status is None:
                        result.lost.append(task_uuid)
                    elif status != "success":
                        still.append(task_uuid)
            pending = still
            if pending:
                time.sleep(0.2)
        result.not_succeeded = pending

        # Webhooks: at least once per acked task.
        while time.monotonic() < deadline:
            with sink.lock:
                missing = [u for u in acked & hooked if u.lower() not in sink.received]
            if not missing:
                break
            time.sleep(0.2)
        with sink.lock:
            result.webhooks = len(hooked)
            result.webhooks_missing = [u for u in acked & hooked if u.lower() not in sink.received]
            result.webhooks_twice = sum(1 for count in sink.received.values() if count > 1)
        result.wall_s = time.monotonic() - started
        server.stop()
        result.tracebacks = server.log.read_text(errors="replace").count("Traceback")
    return result


def table(results: Sequence[Result]) -> str:
    baseline = next((r for r in results if r.label == "no crash"), None)
    head = (
        "| run | clients | tasks | acked (before kill) | resubmits | restart s | lost "
        "| not succeeded | webhooks (pending at kill) | missing | twice | submit s | wall s "
        "| wall vs no crash |"
    )
    rows = [head, "|" + "---|" * 14]
    for r in results:
        ratio = f"{r.wall_s / baseline.wall_s:.2f}x" if baseline and baseline.wall_s else "-"
        before = f" ({r.acked_before_kill:,})" if r.label != "no crash" else ""
        pending = f" ({r.webhooks_pending_at_kill})" if r.label != "no crash" else ""
        rows.append(
            f"| {r.label} | {r.clients} | {r.tasks:,} | {r.acked:,}{before} | {r.resubmits:,} "
            f"| {r.restart_s:.1f} | {len(r.lost)} | {len(r.not_succeeded)} "
            f"| {r.webhooks}{pending} | {len(r.webhooks_missing)} | {r.webhooks_twice} "
            f"| {r.submit_s:.1f} | {r.wall_s:.1f} | {ratio} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--webhook-every", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=900.0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without a kill")
    args = parser.parse_args(argv)
    options = {
        "clients": args.clients,
        "tasks": args.tasks,
        "workers": args.workers,
        "latency": args.latency,
        "webhook_every": args.webhook_every,
        "time_limit": args.time_limit,
    }
    results = [] if args.no_baseline else [run(kill=False, **options)]
    results.append(run(kill=True, **options))
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
