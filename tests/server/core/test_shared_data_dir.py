"""Services on one data dir: what several ``ltxmock serve`` workers (or servers) share.

Each ``create_app`` here stands for a worker process with its own store (its
own shard of the data dir). The store on its own is tested in
tests/server/store/test_sqlite_store.py; these are the service's checks on top:
retries and conflicts across shards, downloads of another shard's results,
fault rules and resets made elsewhere, the lazy purge, and many threads.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from support.server import API_KEY, FakeClock, MockClient, get_response, video_task

from ltxmock.server import ApiRequest, MockConfig, create_app, create_service
from ltxmock.server.http.app import service_of


def test_two_servers_on_one_data_dir_see_the_same_tasks(tmp_path: Path) -> None:
    clock = FakeClock()
    first = MockClient(create_app(MockConfig(data_dir=tmp_path, latency=2, clock=clock)))
    second = MockClient(create_app(MockConfig(data_dir=tmp_path, latency=2, clock=clock)))
    task = video_task()
    first.submit(task)
    assert second.poll(task["taskUUID"]).statuses == ["processing"]
    assert second.submit(task).status == 200  # an idempotent retry, on the other one
    clock.advance(2)
    assert first.poll(task["taskUUID"]).data == second.poll(task["taskUUID"]).data


def test_each_server_writes_its_own_shard_and_reads_them_all(tmp_path: Path) -> None:
    # Workers never wait for each other's commits: one SQLite file per process.
    clock = FakeClock()
    config = MockConfig(data_dir=tmp_path, latency=2, clock=clock, render_mode="lazy")
    first_app = create_app(config)
    first, second = MockClient(first_app), MockClient(create_app(config))
    one, two = video_task(), video_task()
    first.submit(one)
    clock.advance(1)
    second.submit(two)
    assert (tmp_path / "ltxmock.sqlite3").is_file()
    assert (tmp_path / "ltxmock-1.sqlite3").is_file()
    changed = dict(one, positivePrompt="another prompt entirely")
    assert second.submit(changed).codes == ["conflictTaskUUID"]  # found in the other shard
    for client in (first, second):
        assert client.service.store.tasks.count(now=clock()) == 2
        journal = [e.request[0]["taskUUID"] for e in client.service.journal]
        assert journal == [one["taskUUID"], two["taskUUID"], one["taskUUID"]]  # in time order
    clock.advance(2)
    url = first.poll(two["taskUUID"]).data[0]["videoURL"]  # a result of the other shard's task
    download = first_app.test_client().get(url.removeprefix("http://localhost"))
    assert (download.status_code, download.mimetype) == (200, "video/mp4")
    second.service.close()
    third = MockClient(create_app(config))  # a restarted worker takes the freed shard
    third.submit(video_task())
    assert sorted(p.name for p in tmp_path.glob("ltxmock*.sqlite3")) == [
        "ltxmock-1.sqlite3",
        "ltxmock.sqlite3",
    ]
    assert third.service.store.tasks.count(now=clock()) == 3


def test_tasks_survive_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    config = MockConfig(data_dir=tmp_path, latency=1, clock=clock, render_mode="lazy")
    before = create_app(config)
    task = video_task(numberResults=2)
    MockClient(before).submit(task)
    service_of(before).close()
    clock.advance(1)
    after = MockClient(create_app(config))
    assert after.poll(task["taskUUID"]).statuses == ["success", "success"]


def test_a_service_purges_expired_tasks_as_it_goes(tmp_path: Path) -> None:
    clock = FakeClock()
    client = MockClient(create_app(MockConfig(data_dir=tmp_path, latency=0, clock=clock)))
    client.submit(video_task(ttl=60))
    clock.advance(3600)
    client.submit(video_task())
    raw = sqlite3.connect(tmp_path / "ltxmock.sqlite3")
    assert raw.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 1
    raw.close()


def test_the_store_keeps_a_key_fingerprint_not_the_key(tmp_path: Path) -> None:
    client = MockClient(create_app(MockConfig(data_dir=tmp_path, latency=0)))
    task = video_task()
    client.submit(task)
    record = client.service.store.tasks.get(task["taskUUID"], now=client.service.now())
    assert record is not None
    assert API_KEY not in record.key_fingerprint
    assert len(record.key_fingerprint) == 16
    assert record.params["positivePrompt"] == task["positivePrompt"]


def test_concurrent_requests_from_many_threads_all_succeed(tmp_path: Path) -> None:
    service = create_service(MockConfig(data_dir=tmp_path, latency=0))
    tasks = [video_task() for _ in range(40)]
    statuses: list[int] = []

    def work(task: dict[str, object]) -> None:
        for body in ([task], [get_response(str(task["taskUUID"]))]):
            reply = service.handle(ApiRequest(body, api_key=API_KEY, base_url="http://x"))
            statuses.append(reply.status)

    threads = [threading.Thread(target=work, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 80
    assert service.store.tasks.count(now=service.now()) == 40
    assert len(service.journal) == 80
    service.close()


def test_the_in_memory_store_is_thread_safe_too() -> None:
    service = create_service(MockConfig(latency=0))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                reply = service.handle(
                    ApiRequest([video_task()], api_key=API_KEY, base_url="http://x")
                )
                assert reply.status == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert service.store.tasks.count(now=service.now()) == 160
    service.close()


def test_a_reset_by_another_server_forgets_the_tasks_this_one_polled(tmp_path: Path) -> None:
    clock = FakeClock()
    config = MockConfig(data_dir=tmp_path, latency=1, clock=clock, render_mode="lazy")
    first, second = MockClient(create_app(config)), MockClient(create_app(config))
    mine, theirs = video_task(), video_task()
    first.submit(mine)
    second.submit(theirs)  # one task in each shard
    for _ in range(2):  # polled twice: the second answer may come from the cache
        assert first.poll(mine["taskUUID"], theirs["taskUUID"]).statuses == ["processing"] * 2
    second.service.reset()
    assert first.poll(mine["taskUUID"], theirs["taskUUID"]).codes == ["taskNotFound"] * 2
    clock.advance(2)  # and a resubmitted task is the new one, not a remembered one
    first.submit(mine)
    assert first.poll(mine["taskUUID"]).statuses == ["processing"]


def test_a_fault_rule_added_by_another_server_applies_at_once(tmp_path: Path) -> None:
    # The "any rules?" answer is cached per process; a change anywhere must end the cache.
    clock = FakeClock()
    first = MockClient(create_app(MockConfig(data_dir=tmp_path, latency=1, clock=clock)))
    second = MockClient(create_app(MockConfig(data_dir=tmp_path, latency=1, clock=clock)))
    assert first.submit(video_task()).status == 200  # caches "no rules"
    rule = second.service.faults.respond_with(503, times=None)
    assert first.submit(video_task()).status == 503
    second.service.faults.remove(rule.id or 0)
    assert first.submit(video_task()).status == 200
    second.service.faults.respond_with(429, times=1)
    assert [first.submit(video_task()).status for _ in range(2)] == [429, 200]
