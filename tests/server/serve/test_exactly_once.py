"""Exactly one acceptance per taskUUID across the worker processes of ``ltxmock serve``.

Each worker stores the tasks it accepts in a shard of its own; the submits of
one taskUUID racing into several workers must still give one task: one ack
(the others conflictTaskUUID, or an ack of the same task for identical
parameters), one stored task, one webhook.
"""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from support.server import API_KEY, LiveServer, video_task

ROUNDS = 100
RACERS = 16
WORKERS = 4


@dataclass(frozen=True)
class Raced:
    status: int
    body: Any
    pid: int  # the worker that served the connection


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    with LiveServer("--workers", str(WORKERS), latency=0.2, data_dir=data_dir) as server:
        yield server


def race(server: LiveServer, bodies: list[list[dict[str, Any]]]) -> list[Raced]:
    """Send every body at once, each on a connection of its own (each may reach
    another worker: the answer says which pid served that connection)."""
    barrier = threading.Barrier(len(bodies))

    def send(body: list[dict[str, Any]]) -> Raced:
        with requests.Session() as session:
            pid = session.get(f"{server.base}/__ltxmock/health", timeout=10).json()["pid"]
            barrier.wait(timeout=10)
            answer = session.post(
                server.url, json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
            )
            return Raced(answer.status_code, answer.json(), pid)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_racing_submits_with_different_parameters_are_acked_once(live: LiveServer) -> None:
    before = live.get("/__ltxmock/health").json()["tasks"]
    pids: set[int] = set()
    for _ in range(ROUNDS):
        task_uuid = str(uuid.uuid4())
        prompts = [f"variant {n}" for n in range(RACERS)]
        answers = race(live, [[video_task(taskUUID=task_uuid, positivePrompt=p)] for p in prompts])
        acked = [a for a in answers if a.status == 200]
        refused = [a for a in answers if a.status == 400]
        assert len(acked) == 1, [a.body for a in acked]
        assert len(refused) == RACERS - 1
        assert {a.body["errors"][0]["code"] for a in refused} == {"conflictTaskUUID"}
        pids.update(a.pid for a in answers)
    assert live.get("/__ltxmock/health").json()["tasks"] - before == ROUNDS
    assert len(pids) > 1, "the load never reached a second worker"


class _Sink(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).received.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_racing_identical_submits_store_one_task_and_send_one_webhook(live: LiveServer) -> None:
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        hook = f"http://127.0.0.1:{sink.server_address[1]}/hook"
        before = live.get("/__ltxmock/health").json()["tasks"]
        uuids = [str(uuid.uuid4()) for _ in range(10)]
        for task_uuid in uuids:
            task = video_task(taskUUID=task_uuid, webhookURL=hook)
            answers = race(live, [[task]] * RACERS)
            assert [a.status for a in answers] == [200] * RACERS
        pause = threading.Event()
        for _ in range(600):  # due 0.2 s after each submit; a loaded CI machine is slower
            if len(_Sink.received) >= len(uuids):
                break
            pause.wait(0.1)
        pause.wait(1.0)  # room for a duplicate to arrive
        delivered = [b for b in _Sink.received if any(u.encode() in b for u in uuids)]
        assert sorted(u for u in uuids for b in delivered if u.encode() in b) == sorted(uuids)
        # One stored task per taskUUID, and one delivery (a second task would bring
        # its own render and delivery).
        assert live.get("/__ltxmock/health").json()["tasks"] - before == len(uuids)
        for task_uuid in uuids:
            rows = live.get(f"/__ltxmock/deliveries?task={task_uuid}").json()["deliveries"]
            assert len(rows) == 1, rows
    finally:
        sink.shutdown()
