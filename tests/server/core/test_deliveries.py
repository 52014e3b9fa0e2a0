"""Webhooks and uploadEndpoint PUTs, against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.receiver import Receiver
from support.server import LiveServer, MockClient, delivery_mock, video_task, wait_for

from ltxmock.server.core import deliveries


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def client(tmp_path: Path) -> Iterator[MockClient]:
    made = delivery_mock(tmp_path)
    yield made
    made.service.close()


QUERY = "?token=a%2Fb%3D%3D&x=1&x=2&empty=&sig=AbC~_.-"


def test_upload_put_comes_before_the_webhook_post(client: MockClient, receiver: Receiver) -> None:
    task = video_task(
        webhookURL=f"{receiver.base}/hook{QUERY}",
        uploadEndpoint=f"{receiver.base}/bucket/v.mp4{QUERY}",
        includeCost=True,
    )
    client.submit(task)
    put, post = receiver.wait(2)
    assert (put.method, post.method) == ("PUT", "POST")
    assert put.target == f"/bucket/v.mp4{QUERY}"
    assert post.target == f"/hook{QUERY}"  # byte for byte
    assert put.headers["Content-Type"] == "video/mp4"
    assert int(put.headers["Content-Length"]) == len(put.body)
    assert "Authorization" not in put.headers
    [record] = client.service.store.tasks.find([task["taskUUID"]])
    [row] = client.service.results.rows(record)
    assert put.body == client.service.results.path(row).read_bytes()
    assert post.headers["Content-Type"] == "application/json"
    item = json.loads(post.body)
    assert item == client.poll(task["taskUUID"]).data[0]  # flat: the item getResponse shows
    assert item["status"] == "success"
    assert "cost" in item
    time.sleep(0.3)
    assert len(receiver.requests) == 2  # once each


def test_one_webhook_per_result(client: MockClient, receiver: Receiver) -> None:
    task = video_task(numberResults=2, webhookURL=f"{receiver.base}/hook")
    client.submit(task)
    posts = receiver.wait(2)
    items = sorted((json.loads(p.body) for p in posts), key=lambda i: i["videoUUID"])
    polled = sorted(client.poll(task["taskUUID"]).data, key=lambda i: i["videoUUID"])
    assert items == polled
    assert len({i["videoUUID"] for i in items}) == 2
    time.sleep(0.3)
    assert len(receiver.requests) == 2


def test_a_receiver_failing_twice_gets_three_attempts_and_one_delivery(
    client: MockClient,
) -> None:
    with Receiver([500, 503]) as flaky:
        task = video_task(webhookURL=f"{flaky.base}/hook")
        client.submit(task)
        flaky.wait(3)
        wait_for(lambda: client.service.deliveries.all()[0].state == "delivered")
        log = client.service.deliveries.log(task["taskUUID"])
        assert [(a.attempt, a.status, a.outcome) for a in log] == [
            (1, 500, "pending"),
            (2, 503, "pending"),
            (3, 200, "delivered"),
        ]
        time.sleep(0.3)
        assert len(flaky.requests) == 3
    answer = client.admin("GET", f"/deliveries?task={task['taskUUID']}")
    [delivery] = answer.body["deliveries"]
    assert (delivery["state"], delivery["attempts"], len(delivery["attempt_log"])) == (
        "delivered",
        3,
        3,
    )


def test_exhausted_attempts_mark_the_delivery_failed(tmp_path: Path) -> None:
    client = delivery_mock(tmp_path, delivery_max_attempts=3)
    try:
        with Receiver([500] * 10) as broken:
            task = video_task(webhookURL=f"{broken.base}/hook")
            client.submit(task)
            wait_for(lambda: client.service.deliveries.all()[0].state == "failed")
            assert [a.status for a in client.service.deliveries.log()] == [500, 500, 500]
            time.sleep(0.3)
            assert len(broken.requests) == 3
    finally:
        client.service.close()


def test_connection_errors_and_timeouts_are_retried(tmp_path: Path) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    client = delivery_mock(tmp_path, delivery_max_attempts=2)
    try:
        client.submit(video_task(webhookURL=f"http://127.0.0.1:{port}/nobody-home"))
        wait_for(lambda: client.service.deliveries.all()[0].state == "failed")
        assert all(a.status is None and a.error for a in client.service.deliveries.log())
    finally:
        client.service.close()


def test_a_bug_in_a_delivery_counts_as_failed_attempts_then_gives_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not an OSError: the dispatcher used to release the delivery untouched and
    # pick it up again at once, for ever.
    def broken_send(*args: Any, **kwargs: Any) -> tuple[int | None, str | None]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(deliveries, "send", broken_send)
    client = delivery_mock(tmp_path, delivery_max_attempts=3)
    try:
        client.submit(video_task(webhookURL="http://127.0.0.1:9/hook"))
        wait_for(lambda: client.service.deliveries.all()[0].state == "failed")
        log = client.service.deliveries.log()
        assert [a.error for a in log] == ["internal error: RuntimeError"] * 3
    finally:
        client.service.close()


def test_wrapped_envelope(tmp_path: Path, receiver: Receiver) -> None:
    client = delivery_mock(tmp_path, webhook_envelope="wrapped")
    try:
        task = video_task(webhookURL=f"{receiver.base}/hook")
        client.submit(task)
        [post] = receiver.wait(1)
        assert json.loads(post.body) == {"data": client.poll(task["taskUUID"]).data}
    finally:
        client.service.close()


@pytest.mark.parametrize("envelope", ["flat", "wrapped"])
def test_a_failed_task_is_delivered_too(tmp_path: Path, receiver: Receiver, envelope: str) -> None:
    client = delivery_mock(tmp_path, webhook_envelope=envelope)
    try:
        task = video_task(webhookURL=f"{receiver.base}/hook", uploadEndpoint=f"{receiver.base}/put")
        client.submit(task, headers={"X-Ltxmock-Fault": "task:providerError"})
        [post] = receiver.wait(1)
        error = client.poll(task["taskUUID"]).errors[0]
        assert (error["status"], error["code"]) == ("error", "providerError")
        expected = error if envelope == "flat" else {"errors": [error]}
        assert json.loads(post.body) == expected
        time.sleep(0.3)
        assert [r.method for r in receiver.requests] == ["POST"]  # nothing to upload
    finally:
        client.service.close()


@pytest.mark.slow
def test_pending_webhooks_survive_a_sigkill(tmp_path: Path) -> None:
    """A killed server's pending deliveries are sent by the next one on the same data dir."""
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # the receiver is down for now
    url = f"http://127.0.0.1:{port}/hook?token=t0k3n"
    early = video_task(webhookURL=url, uploadEndpoint=f"http://127.0.0.1:{port}/put")
    late = video_task(webhookURL=url)
    first = LiveServer(latency=4, data_dir=tmp_path, render_mode="eager").start()
    try:
        assert first.post([early]).status_code == 200
        assert first.post([late]).status_code == 200
    finally:
        assert first.process is not None
        first.stop(signal.SIGKILL, group=True)  # no goodbye: renders and leases die with it
    with (
        Receiver(port=port) as receiver,
        LiveServer(latency=4, data_dir=tmp_path, render_mode="eager") as second,
    ):
        received = receiver.wait(3, timeout=90)
        posts = [r for r in received if r.method == "POST"]
        assert {json.loads(p.body)["taskUUID"] for p in posts} == {
            early["taskUUID"],
            late["taskUUID"],
        }
        assert all(p.target == "/hook?token=t0k3n" for p in posts)
        order = [(r.method, r.target) for r in received]
        assert order.index(("PUT", "/put")) < min(
            i
            for i, r in enumerate(received)
            if r.method == "POST" and json.loads(r.body)["taskUUID"] == early["taskUUID"]
        )
        deliveries = second.admin("GET", "/deliveries").json()["deliveries"]
        assert {d["state"] for d in deliveries} == {"delivered"}


def dead_pid() -> int:
    """The PID of a process that has exited (and is reaped)."""
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


@pytest.mark.parametrize("holder", ["dead", "alive", "other host"])
def test_a_lease_of_a_dead_process_of_this_host_is_given_back(
    tmp_path: Path, receiver: Receiver, holder: str
) -> None:
    """A killed worker's claimed deliveries are released by the next process to start
    (``resume``), not left to their lease; a live process's, or another host's, stay."""
    client = delivery_mock(tmp_path, latency=5)  # not due before the test claims it
    try:
        task = video_task(webhookURL=f"{receiver.base}/hook", positivePrompt=holder)
        client.submit(task)
        pid = {"dead": dead_pid(), "alive": os.getpid(), "other host": dead_pid()}[holder]
        host = "elsewhere.invalid" if holder == "other host" else socket.gethostname()
        store = client.service.store
        [claimed] = store.deliveries.claim(
            f"{host}:{pid}:0badcafe", now=client.service.now() + 60, wall=time.time(),
            lease=600, limit=10,
        )  # fmt: skip
        released = client.service.deliveries.release_orphaned_leases()
        leases = store.deliveries.leases(wall=time.time())
        if holder != "dead":
            assert released == 0
            assert [delivery_id for delivery_id, _ in leases] == [claimed.id]
            return
        assert released == 1
        assert leases == []
        [post] = receiver.wait(1, timeout=30)  # at the latency, long before the 600 s lease
        assert json.loads(post.body)["taskUUID"] == task["taskUUID"]
        assert claimed.task_uuid == task["taskUUID"]
    finally:
        client.service.close()


def test_backoff_jitter_leaves_the_global_random_state_alone() -> None:
    import random

    from ltxmock.server.core.deliveries import backoff

    before = random.getstate()
    delays = [backoff(attempt, base=0.25, cap=8.0) for attempt in range(1, 9)]
    assert random.getstate() == before
    assert all(0.0 <= d <= min(8.0, 0.25 * 2 ** (n - 1)) for n, d in enumerate(delays, 1))
