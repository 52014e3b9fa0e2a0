"""Scale of state: 100,000 stored tasks, poll latency, worker RSS, store size, TTL expiry.

1. Poll latency through ``MockService.handle`` in a small store (3,200 tasks),
   each task polled once: a process keeps the tasks it read lately, so only a
   first poll is an index lookup, and that is what is compared.
2. 100,000 tasks inserted through the store directly (one transaction), then a
   realistic number submitted over HTTP to a real ``ltxmock serve`` on that store.
3. Poll latency again: first polls of 3,200 of the 100,000 tasks, one task
   polled again and again (cached), and over HTTP (keep-alive); the RSS of
   every ``ltxmock serve`` worker (from /proc) and the store's size on disk.
4. Expiry: ``purge_expired`` with an injected ``now`` past every TTL removes them all.

Run from the repository root:  python bench/scale.py [--tasks 100000] [--http-tasks 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    API_KEY,
    TYPICAL_TASK,
    Target,
    child_pids,
    free_port,
    log,
    ltxmock_command,
    percentiles,
    report,
    rss_mib,
    running,
    time_calls,
    wait_http,
)

from ltxmock.server import ApiRequest, MockConfig, MockService, create_service
from ltxmock.server.core import lifecycle
from ltxmock.server.core.auth import fingerprint

TARGET_RSS_MIB = 200.0
TARGET_SLOWDOWN = 1.5  # p50 poll at 100k tasks vs empty (indexed lookups: ~1x)
TASK = TYPICAL_TASK


POLLS = 3000
WARM_UP = 200  # time_calls' default


def poll_latency(service: MockService, task_uuids: Sequence[str]) -> tuple[float, float]:
    """Polls of these tasks in turn, each polled once: every answer is an index lookup
    (a process keeps tasks it has read lately; a second poll would not reach SQLite)."""
    pending = iter(task_uuids)

    def once() -> None:
        body = [{"taskType": "getResponse", "taskUUID": next(pending)}]
        reply = service.handle(ApiRequest(body, api_key=API_KEY, base_url="http://x"))
        assert reply.status == 200, reply.payload

    return percentiles(time_calls(once, len(task_uuids) - WARM_UP, warmup=WARM_UP))


def repeated_poll_latency(service: MockService, task_uuid: str) -> tuple[float, float]:
    """One task polled again and again, as an SDK does: answered from the process's cache."""
    return poll_latency(service, [task_uuid] * (POLLS + WARM_UP))


def submit(service: MockService, now: float | None = None) -> str:
    task_uuid = str(uuid.uuid4())
    body = [{**TASK, "taskUUID": task_uuid}]
    reply = service.handle(ApiRequest(body, api_key=API_KEY, base_url="http://x", now=now))
    assert reply.status == 200, reply.payload
    return task_uuid


def insert_direct(service: MockService, count: int, now: float) -> list[str]:
    owner = fingerprint(API_KEY, service.store.secret)
    inserted = []
    step = max(count // 10, 1)
    with service.store.transaction():
        for index in range(count):
            task = {**TASK, "taskUUID": str(uuid.uuid4())}
            inserted.append(task["taskUUID"])
            service.store.tasks.put(
                lifecycle.new_task(
                    task,
                    key_fingerprint=owner,
                    now=now,
                    latency=0,
                    default_ttl=service.config.result_ttl,
                )
            )
            if (index + 1) % step == 0:
                log(f"inserted {index + 1}/{count} tasks")
    return inserted


def http_phase(data_dir: Path, count: int, known: str) -> tuple[float, float, list[float]]:
    port = free_port()
    command = ltxmock_command(port, "--latency", "0", "--render-mode", "lazy",
                              "--data-dir", str(data_dir))  # fmt: skip
    with running(command) as proc:
        wait_http(f"http://127.0.0.1:{port}/__ltxmock/health")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}

        def call(body: Any) -> None:
            conn.request("POST", "/v1", json.dumps(body), headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status

        log(f"submitting {count} tasks over HTTP...")
        for _ in range(count):
            call([{**TASK, "taskUUID": str(uuid.uuid4())}])
        poll = [{"taskType": "getResponse", "taskUUID": known}]
        p50, p99 = percentiles(time_calls(lambda: call(poll), 2000))
        conn.close()
        workers = child_pids(proc.pid)
        rss = [rss_mib(pid) for pid in workers]
    return p50, p99, rss


def store_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("ltxmock*.sqlite3*"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--http-tasks", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ltxscale-") as tmp:
        data_dir = Path(tmp)
        config = MockConfig(latency=0, data_dir=data_dir, render_mode="lazy")
        service = create_service(config)
        try:
            now = time.time()
            known = submit(service)
            log(f"submitting {POLLS + WARM_UP} tasks to poll in a small store...")
            few = [submit(service) for _ in range(POLLS + WARM_UP)]
            empty = poll_latency(service, few)
            small = service.store.tasks.count(now=time.time())
            inserted = insert_direct(service, args.tasks, now)
            full = poll_latency(service, random.sample(inserted, POLLS + WARM_UP))
            cached = repeated_poll_latency(service, known)
            p50_http, p99_http, rss = http_phase(data_dir, args.http_tasks, known)
            stored = service.store.tasks.count(now=time.time())
            size = store_bytes(data_dir)
            future = time.time() + config.result_ttl + 1
            purged = service.store.tasks.purge_expired(now=future)
            left = service.store.tasks.count(now=0)
        finally:
            service.close()
    print(f"\n{'scale of state':<44} {'value':>14}")
    rows = [
        (
            f"poll p50 / p99, {small} tasks (handle)",
            f"{empty[0] * 1e6:.0f} / {empty[1] * 1e6:.0f} us",
        ),
        (
            f"poll p50 / p99, {stored} tasks (handle)",
            f"{full[0] * 1e6:.0f} / {full[1] * 1e6:.0f} us",
        ),
        (
            "  the same task polled again (cached)",
            f"{cached[0] * 1e6:.0f} / {cached[1] * 1e6:.0f} us",
        ),
        (
            "poll p50 / p99 over HTTP, one task",
            f"{p50_http * 1e3:.2f} / {p99_http * 1e3:.2f} ms",
        ),
        (f"slowdown, {small} to {stored} tasks (p50)", f"{full[0] / empty[0]:.2f}x"),
        ("ltxmock serve worker RSS", ", ".join(f"{r:.0f} MiB" for r in rss)),
        ("store size on disk (db + wal + shm)", f"{size / 2**20:.1f} MiB"),
        ("purged after TTL (injected now)", f"{purged} (left {left})"),
    ]
    for name, value in rows:
        print(f"{name:<44} {value:>14}")
    return report(
        [
            Target(
                "scale poll p50 slowdown at 100k tasks (first polls)",
                full[0] / empty[0],
                TARGET_SLOWDOWN,
                "x",
            ),
            Target("scale worker RSS (max)", max(rss, default=0.0), TARGET_RSS_MIB, "MiB"),
            Target("scale tasks left after TTL purge", left, 0, "tasks"),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
