"""Many WebSocket clients against one real ``ltxmock serve`` process.

Usage: python bench/ws_concurrency.py [--clients 200] [--latency 1.0]
                                      [--workers 1] [--time-limit 60] [--reply-timeout 15]

Starts ``ltxmock serve`` (gunicorn, uvicorn workers) on a free port, then
starts every client at once. Each one authenticates, waits until all the
others are connected too (so every socket is open at the same time), submits
one 1080p 6 s LTX-2 Fast task with includeCost, and polls ``getResponse`` on
its socket until ``success``. Prints a table: clients, peak open sockets,
succeeded, lost tasks, stuck sockets, wall time, p50/p99 time from submit to
success. Exits 1 if a task is lost, a socket is stuck or the clients were never
all connected at once; 2 if the server does not start.

* lost task: a client that did not see ``success`` for its task (an error, a
  dropped or stuck socket, or the time limit);
* stuck socket: a handshake or request on an open socket that got no answer
  within ``--reply-timeout``, or a server-side connection still open
  (ESTABLISHED or CLOSE_WAIT in /proc/net/tcp) a few seconds after every
  client closed.

The server gives each open WebSocket a thread of its own (``--threads`` sizes
only the pool for the admin API and downloads), so no setting limits clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import API_KEY, TYPICAL_TASK, free_port, ltxmock_command

TASK = {**TYPICAL_TASK, "includeCost": True, "deliveryMethod": "async"}
# TCP states in /proc/net/tcp that mean the server still holds a connection.
_HELD_STATES = {"01": "ESTABLISHED", "08": "CLOSE_WAIT"}


@dataclass
class ClientResult:
    succeeded: bool = False
    stuck: bool = False
    error: str | None = None
    time_to_success: float | None = None
    polls: int = 0


@dataclass
class BenchResult:
    clients: int
    results: list[ClientResult]
    wall_time: float
    lingering: int | None  # server-side connections left open; None if unknown
    peak_open: int  # most sockets open (authenticated) at the same time
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def succeeded(self) -> int:
        return sum(r.succeeded for r in self.results)

    @property
    def lost(self) -> int:
        return self.clients - self.succeeded

    @property
    def stuck(self) -> int:
        return sum(r.stuck for r in self.results) + (self.lingering or 0)

    def percentile(self, q: float) -> float | None:
        times = sorted(r.time_to_success for r in self.results if r.time_to_success is not None)
        if not times:
            return None
        if len(times) == 1:
            return times[0]
        return statistics.quantiles(times, n=100, method="inclusive")[round(q) - 1]

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.stuck == 0 and self.peak_open == self.clients

    def table(self) -> str:
        def seconds(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.2f} s"

        rows = [
            ("clients", str(self.clients)),
            ("open at once (peak)", str(self.peak_open)),
            ("succeeded", str(self.succeeded)),
            ("lost tasks", str(self.lost)),
            ("stuck sockets", str(self.stuck) + ("" if self.lingering is not None else " (*)")),
            ("wall time", seconds(self.wall_time)),
            ("p50 time-to-success", seconds(self.percentile(50))),
            ("p99 time-to-success", seconds(self.percentile(99))),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        if self.lingering is None:
            lines.append("(*) /proc/net/tcp unreadable: server-side sockets not counted")
        lines.extend(f"  error x{count}: {text}" for text, count in sorted(self.errors.items()))
        return "\n".join(lines)


# -- the clients --------------------------------------------------------------------


async def _request(ws: Any, tasks: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    await ws.send(json.dumps(tasks))
    try:
        raw = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        raise StuckSocketError(f"no reply within {timeout:g} s on an open socket") from None
    frame: dict[str, Any] = json.loads(raw)
    return frame


class StuckSocketError(Exception):
    """A socket that stopped answering while open."""


class Gate:
    """Holds every client until all are connected, so all sockets are open at once."""

    def __init__(self, clients: int, timeout: float) -> None:
        self.clients = clients
        self.timeout = timeout
        self.open = 0
        self.peak = 0
        self._all_open = asyncio.Event()

    async def arrive(self) -> None:
        self.open += 1
        self.peak = max(self.peak, self.open)
        if self.open == self.clients:
            self._all_open.set()
        # A server short of threads never lets the last ones in: go on regardless,
        # the table then shows a peak below the client count.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_open.wait(), self.timeout)

    def leave(self) -> None:
        self.open -= 1


async def one_client(
    url: str, gate: Gate, deadline: float, poll_interval: float, reply_timeout: float
) -> ClientResult:
    result = ClientResult()
    task_uuid = str(uuid.uuid4())
    try:
        try:
            ws = await connect(url, proxy=None, open_timeout=reply_timeout)
        except TimeoutError:
            raise StuckSocketError(
                f"opening handshake not answered within {reply_timeout:g} s"
            ) from None
        async with ws:
            auth = await _request(
                ws, [{"taskType": "authentication", "apiKey": API_KEY}], reply_timeout
            )
            if "connectionSessionUUID" not in auth.get("data", [{}])[0]:
                result.error = f"authentication failed: {auth}"
                return result
            await gate.arrive()
            try:
                await _run_task(ws, task_uuid, result, deadline, poll_interval, reply_timeout)
            finally:
                gate.leave()
    except StuckSocketError as exc:
        result.stuck = True
        result.error = str(exc)
    except (OSError, WebSocketException) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def _run_task(
    ws: Any,
    task_uuid: str,
    result: ClientResult,
    deadline: float,
    poll_interval: float,
    reply_timeout: float,
) -> None:
    submitted = time.monotonic()
    ack = await _request(ws, [{**TASK, "taskUUID": task_uuid}], reply_timeout)
    if "errors" in ack:
        result.error = f"submit failed: {ack['errors'][0].get('code')}"
        return
    while time.monotonic() < deadline:
        await asyncio.sleep(poll_interval)
        result.polls += 1
        frame = await _request(
            ws, [{"taskType": "getResponse", "taskUUID": task_uuid}], reply_timeout
        )
        if "errors" in frame:
            result.error = f"poll failed: {frame['errors'][0].get('code')}"
            return
        if any(item.get("status") == "success" for item in frame.get("data", [])):
            result.succeeded = True
            result.time_to_success = time.monotonic() - submitted
            return
    result.error = "time limit reached before success"


async def _run_clients(
    url: str, clients: int, time_limit: float, poll_interval: float, reply_timeout: float
) -> tuple[list[ClientResult], int]:
    deadline = time.monotonic() + time_limit
    gate = Gate(clients, timeout=reply_timeout)
    jobs = [one_client(url, gate, deadline, poll_interval, reply_timeout) for _ in range(clients)]
    results = list(await asyncio.gather(*jobs))
    return results, gate.peak


def run_bench(
    url: str,
    clients: int,
    *,
    server_port: int | None = None,
    time_limit: float = 60.0,
    poll_interval: float = 0.25,
    reply_timeout: float = 15.0,
    linger_wait: float = 5.0,
) -> BenchResult:
    """Run ``clients`` concurrent clients against ``url``; count server leftovers on the port."""
    started = time.monotonic()
    results, peak = asyncio.run(
        _run_clients(url, clients, time_limit, poll_interval, reply_timeout)
    )
    wall = time.monotonic() - started
    lingering = None
    if server_port is not None:
        # Give the server a moment to see the closes, then count what it still holds.
        stop = time.monotonic() + linger_wait
        while True:
            lingering = held_connections(server_port)
            if not lingering or time.monotonic() >= stop:
                break
            time.sleep(0.2)
    errors: dict[str, int] = {}
    for r in results:
        if r.error:
            errors[r.error] = errors.get(r.error, 0) + 1
    return BenchResult(clients, results, wall, lingering, peak, errors)


def held_connections(port: int) -> int | None:
    """Server-side TCP connections on ``port`` that are open (None if /proc is unreadable)."""
    count, readable = 0, False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] in _HELD_STATES:
                count += 1
    return count if readable else None


# -- the server ---------------------------------------------------------------------


def wait_until_healthy(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the server answers its health check (bound is not enough: workers boot)."""
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        if process.poll() is not None:
            raise RuntimeError(f"ltxmock serve exited with status {process.returncode}")
        with contextlib.suppress(OSError):
            url = f"http://127.0.0.1:{port}/__ltxmock/health"
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"ltxmock serve did not answer on port {port} within {timeout:g} s")


@contextlib.contextmanager
def serve(*, latency: float, workers: int = 1, startup_timeout: float = 30.0) -> Iterator[int]:
    """A real ``ltxmock serve`` process on a free port; yields the port."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ltxmock-bench-") as data_dir:
        command = ltxmock_command(
            port,
            "--host", "127.0.0.1",
            "--latency", str(latency),
            "--workers", str(workers),
            "--data-dir", data_dir,
            "--api-key", API_KEY,
            # This measures sockets and the task lifecycle; rendering 200 videos would
            # only measure the encoder (bench/render_pipeline.py does that).
            "--render-mode", "lazy",
        )  # fmt: skip
        log_path = Path(data_dir) / "serve.log"
        with log_path.open("wb") as server_log:
            process = subprocess.Popen(command, stdout=server_log, stderr=subprocess.STDOUT)
            try:
                try:
                    wait_until_healthy(port, process, startup_timeout)
                except RuntimeError:
                    sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
                    raise
                yield port
            finally:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0, help="server task latency, s")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=60.0, help="per-run limit, s")
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--reply-timeout", type=float, default=15.0)
    args = parser.parse_args(argv)
    print(
        f"ltxmock serve: {args.workers} worker(s), latency {args.latency:g} s; "
        f"{args.clients} clients",
        file=sys.stderr,
        flush=True,
    )
    try:
        with serve(latency=args.latency, workers=args.workers) as port:
            result = run_bench(
                f"ws://127.0.0.1:{port}/v1",
                args.clients,
                server_port=port,
                time_limit=args.time_limit,
                poll_interval=args.poll_interval,
                reply_timeout=args.reply_timeout,
            )
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.table())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
