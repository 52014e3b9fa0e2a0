"""Bounded background work and disk: the eager render backlog per process and the
media budget (issue 13, point 3).

The burst tests use a stand-in encoder (``renderer``: deterministic bytes per
render spec, a few milliseconds each) so that 200 tasks fit in a test; one
test renders real videos to show that an evicted file comes back byte for byte.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.receiver import Receiver
from support.renders import FAKE_SIZE, FakeEncoder, fake_bytes
from support.server import FAST_DELIVERIES, MockClient, video_task

from ltxmock.media import RenderSpec
from ltxmock.server import MockConfig, create_app
from ltxmock.server.core.config import parse_size
from ltxmock.server.core.media_budget import MediaBudget, hold
from ltxmock.server.core.render_backlog import RenderBacklog, weight
from ltxmock.server.http.app import service_of


def mock(
    tmp_path: Path, encoder: Callable[[RenderSpec, Path], Path] | None, **settings: Any
) -> MockClient:
    config = MockConfig(latency=0, render_executor="thread", data_dir=tmp_path / "data")
    client = MockClient(create_app(config.replace(**settings)))
    client.service.results.renderer = encoder
    return client


@pytest.fixture
def closing() -> Iterator[list[MockClient]]:
    clients: list[MockClient] = []
    yield clients
    for client in clients:
        service_of(client.app).close()


def finished_bytes(media: Path) -> int:
    return MediaBudget(media, 1).used_bytes()


def download(client: MockClient, url: str) -> tuple[int, bytes]:
    response = client.app.test_client().get(url.removeprefix("http://localhost"))
    try:
        return response.status_code, response.get_data()
    finally:
        response.close()


def wait_all_done(client: MockClient, uuids: list[str], timeout: float = 120.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        items = [item for chunk in _chunks(uuids) for item in client.poll(*chunk).data]
        if all(item["status"] == "success" for item in items):
            return items
        assert time.monotonic() < deadline, "results still processing"
        time.sleep(0.02)


def _chunks(uuids: list[str], size: int = 10) -> Iterator[list[str]]:
    for start in range(0, len(uuids), size):
        yield uuids[start : start + size]


# -- the pieces ---------------------------------------------------------------------
@given(
    bound=st.integers(1, 20),
    steps=st.lists(st.tuples(st.booleans(), st.integers(1, 30), st.booleans()), max_size=60),
)
def test_the_backlog_holds_its_bound_except_for_one_heavy_render(
    bound: int, steps: list[tuple[bool, int, bool]]
) -> None:
    backlog = RenderBacklog(bound)
    admitted: list[int] = []
    for add, cost, demand in steps:
        if add:
            before = backlog.load
            ok = backlog.admit(cost, demand=demand)
            assert ok == (demand or before == 0 or before + cost <= bound)
            if ok:
                admitted.append(cost)
        elif admitted:
            backlog.release(admitted.pop(0))
        assert backlog.load == sum(admitted)
    # Demand renders aside, the peak is the bound, or one render heavier than it alone.
    heavy = max((cost for add, cost, demand in steps if add and not demand), default=0)
    assert backlog.peak <= max(bound, heavy)


def test_weights_count_frames_and_pixels() -> None:
    def spec(width: int, height: int, fps: int, duration: float) -> RenderSpec:
        return RenderSpec(width, height, fps, duration, "MP4", False, "p", "t", "v")

    assert weight(spec(1920, 1080, 25, 6)) == 1
    assert weight(spec(1920, 1080, 25, 10)) == 2
    assert weight(spec(3840, 2160, 50, 10)) == 14


@pytest.mark.parametrize(
    ("text", "size"),
    [("200MB", 200_000_000), ("1GiB", 1 << 30), ("500k", 500_000), ("1048576", 1 << 20),
     ("1.5 MiB", 1_572_864), ("64mb", 64_000_000)],
)  # fmt: skip
def test_sizes_parse(text: str, size: int) -> None:
    assert parse_size(text) == size
    assert MockConfig(media_budget=text).media_budget == size  # type: ignore[arg-type]
    assert MockConfig.from_env({"LTXMOCK_MEDIA_BUDGET": text}).media_budget == size


@pytest.mark.parametrize("text", ["", "MB", "-1MB", "12 parsecs", "1e9"])
def test_bad_sizes_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


@given(
    sizes=st.lists(st.integers(1, 4000), min_size=1, max_size=25),
    budget=st.integers(1000, 12000),
    held=st.sets(st.integers(0, 24), max_size=4),
)
def test_placing_files_keeps_the_folder_within_budget_lru_first(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], budget: int, held: set[int]
) -> None:
    root = tmp_path_factory.mktemp("media")
    media = MediaBudget(root, budget)
    holds: dict[str, int] = {}
    try:
        for number, size in enumerate(sizes):
            name = f"{number:064x}.mp4"
            staged = media.staging_path(name)
            staged.write_bytes(b"x" * size)
            before = {e.name: e for e in media.entries()}
            evicted = media.place(staged, root / name)
            after = {e.name for e in media.entries()}
            assert name in after  # a render is never thrown away
            assert not set(evicted) & set(holds)  # a file being served stays
            kept_in_use = sum(before[n].size for n in holds if n in before)
            assert finished_bytes(root) <= max(budget, size + kept_in_use)
            # Least recently used first: nothing evicted was used after something kept.
            kept = [before[n] for n in before if n in after and n not in holds]
            if evicted and kept:
                assert max(before[n].used for n in evicted) <= min(e.used for e in kept)
            if number in held:
                fd = os.open(root / name, os.O_RDONLY)
                assert hold(fd)
                holds[name] = fd
            time.sleep(0.002)  # distinct access times
    finally:
        for fd in holds.values():
            os.close(fd)


def test_a_reader_waiting_on_an_eviction_sees_the_file_gone(tmp_path: Path) -> None:
    path = tmp_path / f"{0:064x}.mp4"
    path.write_bytes(b"video")
    fd = os.open(path, os.O_RDONLY)
    evictor = os.open(path, os.O_RDONLY)
    fcntl.flock(evictor, fcntl.LOCK_EX)
    path.unlink()
    fcntl.flock(evictor, fcntl.LOCK_UN)
    try:
        assert not hold(fd)
    finally:
        os.close(fd)
        os.close(evictor)


# -- a burst against a whole service ------------------------------------------------
def test_a_burst_of_200_eager_submits_stays_within_backlog_and_budget(
    tmp_path: Path, closing: list[MockClient]
) -> None:
    """200 eager tasks in 20 requests of 10: the backlog never holds more than its bound,
    the finished files never exceed the budget, results beyond the backlog are
    reported at their latency, and every video still downloads, exactly."""
    encoder = FakeEncoder()
    bound, budget = 4, 8 * FAKE_SIZE
    client = mock(tmp_path, encoder, render_backlog=bound, media_budget=budget)
    closing.append(client)
    results = client.service.results
    media = tmp_path / "data" / "media"
    peaks: list[int] = []
    over: list[int] = []
    stop = threading.Event()

    def watch() -> None:  # the folder, sampled while the burst runs
        while not stop.is_set():
            used = finished_bytes(media)
            if used > budget:
                over.append(used)
            peaks.append(results.backlog.load)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    tasks = [video_task(positivePrompt=f"burst {n}") for n in range(200)]
    try:
        for start in range(0, 200, 10):
            answer = client.submit(*tasks[start : start + 10])
            assert answer.status == 200, answer.body
            peaks.append(results.backlog.load)
            # Latency 0: every result is done now but those whose render is in flight.
            first = client.poll(*(t["taskUUID"] for t in tasks[start : start + 10]))
            processing = [i for i in first.data if i["status"] == "processing"]
            assert len(processing) <= bound
        items = wait_all_done(client, [t["taskUUID"] for t in tasks])
        assert results.backlog.peak <= bound
        assert max(peaks) <= bound
        eager_renders = encoder.count
        assert eager_renders < 200  # most results were deferred, not rendered at submit
        store, now = client.service.store, client.service.now()
        specs = {}
        for task in tasks:
            record = store.tasks.get(task["taskUUID"], now=now)
            assert record is not None
            specs[task["taskUUID"]] = results.spec(record, 0)
        for item in items:
            status, body = download(client, item["videoURL"])
            assert status == 200
            assert body == fake_bytes(specs[item["taskUUID"]])
    finally:
        stop.set()
        watcher.join()
    assert not over, f"finished files reached {max(over)} bytes over a {budget}-byte budget"
    assert finished_bytes(media) <= budget


def test_an_evicted_video_is_rendered_again_byte_identical(
    tmp_path: Path, closing: list[MockClient]
) -> None:
    """Real renders: a 1080p/6 s MP4 is about 750 kB, so a 1.2 MB budget keeps one."""
    client = mock(tmp_path, None, media_budget=1_200_000)
    closing.append(client)
    media = tmp_path / "data" / "media"
    first, second = video_task(positivePrompt="first"), video_task(positivePrompt="second")
    client.submit(first)
    [done] = wait_all_done(client, [first["taskUUID"]])
    status, original = download(client, done["videoURL"])
    assert status == 200
    assert len(original) > 100_000
    client.submit(second)
    wait_all_done(client, [second["taskUUID"]])
    assert len(MediaBudget(media, 1).entries()) == 1  # the first video was evicted
    assert finished_bytes(media) <= 1_200_000
    [again] = client.poll(first["taskUUID"]).data
    assert again == done  # still a success, the same item: status never goes back
    status, rendered_again = download(client, done["videoURL"])
    assert status == 200
    assert hashlib.sha256(rendered_again).digest() == hashlib.sha256(original).digest()


# -- deliveries of deferred results -------------------------------------------------
def test_deferred_results_are_announced_at_once_and_uploaded_once_rendered(
    tmp_path: Path, closing: list[MockClient]
) -> None:
    """Backlog 1, its one render held: the deferred tasks' webhooks go at the latency
    (their poll says success); their uploads need the file, so they wait for room in
    the backlog, then carry the rendered bytes."""
    encoder = FakeEncoder()
    encoder.gate.clear()
    client = mock(tmp_path, encoder, render_backlog=1, **FAST_DELIVERIES)
    closing.append(client)
    with Receiver() as receiver:
        eager = video_task(positivePrompt="eager", uploadEndpoint=f"{receiver.base}/put/0")
        hooked = [video_task(positivePrompt=f"hook {n}", webhookURL=f"{receiver.base}/hook/{n}")
                  for n in (1, 2)]  # fmt: skip
        uploaded = [video_task(positivePrompt=f"put {n}", uploadEndpoint=f"{receiver.base}/put/{n}")
                    for n in (3, 4)]  # fmt: skip
        tasks = [eager, *hooked, *uploaded]
        assert client.submit(*tasks).status == 200
        hooks = receiver.wait(2)
        assert sorted(r.target for r in hooks) == ["/hook/1", "/hook/2"]
        assert all(json.loads(r.body)["status"] == "success" for r in hooks)
        assert client.service.results.backlog.load == 1  # the uploads wait for room
        encoder.gate.set()
        puts = [r for r in receiver.wait(5) if r.method == "PUT"]
    store, now = client.service.store, client.service.now()
    for task in (eager, *uploaded):
        record = store.tasks.get(task["taskUUID"], now=now)
        assert record is not None
        [put] = [r for r in puts if r.target == task["uploadEndpoint"].removeprefix(receiver.base)]
        assert put.body == fake_bytes(client.service.results.spec(record, 0))
    assert client.service.results.backlog.peak == 1


def test_in_lazy_mode_a_webhook_goes_at_the_latency_and_renders_nothing(
    tmp_path: Path, closing: list[MockClient]
) -> None:
    """A lazy poll says success at the latency, without a file: the webhook says so too,
    then. It used to render the video first, one render per webhook (a crash test's 40
    webhooks took minutes), while the upload, which carries the file, still renders."""
    encoder = FakeEncoder()
    encoder.gate.clear()  # a render would never end
    client = mock(tmp_path, encoder, render_mode="lazy", **FAST_DELIVERIES)
    closing.append(client)
    with Receiver() as receiver:
        hooked = [video_task(positivePrompt=f"hook {n}", webhookURL=f"{receiver.base}/hook/{n}")
                  for n in range(3)]  # fmt: skip
        uploaded = video_task(positivePrompt="put", uploadEndpoint=f"{receiver.base}/put")
        assert client.submit(*hooked, uploaded).status == 200
        hooks = receiver.wait(3)
        assert sorted(r.target for r in hooks) == ["/hook/0", "/hook/1", "/hook/2"]
        for hook in hooks:
            item = json.loads(hook.body)
            assert item == client.poll(item["taskUUID"]).data[0]  # what a poll says
        assert encoder.count == 0
        assert encoder.waiting <= 1  # the upload's render only
        encoder.gate.set()
        [put] = [r for r in receiver.wait(4) if r.method == "PUT"]
    record = client.service.store.tasks.get(uploaded["taskUUID"], now=client.service.now())
    assert record is not None
    assert put.body == fake_bytes(client.service.results.spec(record, 0))


def test_a_download_makes_its_file_the_most_recently_used(tmp_path: Path) -> None:
    media = MediaBudget(tmp_path, 2000)
    names = [f"{n:064x}.mp4" for n in range(3)]
    for name in names[:2]:
        staged = media.staging_path(name)
        staged.write_bytes(b"x" * 1000)
        media.place(staged, tmp_path / name)
        time.sleep(0.01)
    fd = os.open(tmp_path / names[0], os.O_RDONLY)  # the older one is read
    assert hold(fd)
    os.close(fd)
    staged = media.staging_path(names[2])
    staged.write_bytes(b"x" * 1000)
    assert media.place(staged, tmp_path / names[2]) == [names[1]]
    assert {e.name for e in media.entries()} == {names[0], names[2]}


def test_staged_renders_a_crash_left_behind_are_purged(tmp_path: Path) -> None:
    media = MediaBudget(tmp_path, 2000)
    old, fresh = media.staging_path("old.mp4"), media.staging_path("fresh.mp4")
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    media.purge_staging(3600)
    assert not old.exists()
    assert fresh.exists()
