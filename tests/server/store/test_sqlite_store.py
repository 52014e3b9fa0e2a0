"""SqliteStore: SQLite state shared by processes, surviving restarts, purged lazily.

Several stores opened on one data dir in one process stand for several worker
processes: each claims its own shard (the flock on ``<file>.owner`` is per
open file, so it excludes a second store of the same process too).
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.server import API_KEY, START, video_task
from support.store import DB, journal, open_on, record_of, submit

from ltxmock.server.core.config import MockConfig
from ltxmock.server.core.faults import Fault
from ltxmock.server.core.lifecycle import new_task
from ltxmock.server.core.records import MediaRow, NewDelivery, TaskRecord
from ltxmock.server.store import SqliteStore, StoreError, open_store, shard_path
from ltxmock.server.store.schema import SCHEMA_VERSION

# -- sharing a data dir -----------------------------------------------------------


def test_two_stores_on_one_data_dir_see_the_same_tasks(
    tmp_path: Path, stores: list[SqliteStore]
) -> None:
    first, second = open_on(stores, tmp_path / DB), open_on(stores, tmp_path / DB)
    record = record_of(video_task(), latency=2)
    submit(first, record)
    assert second.tasks.get(record.task_uuid, now=START) == record
    assert second.tasks.find([record.task_uuid]) == [record]  # a retry on the other one
    later = START + 2
    assert first.tasks.get(record.task_uuid, now=later) == second.tasks.get(
        record.task_uuid, now=later
    )


def test_each_store_writes_its_own_shard_and_reads_them_all(
    tmp_path: Path, stores: list[SqliteStore]
) -> None:
    # Workers never wait for each other's commits: one SQLite file per process.
    first, second = open_on(stores, tmp_path / DB), open_on(stores, tmp_path / DB)
    one, two = record_of(video_task(), latency=2), record_of(video_task(), now=START + 1)
    submit(first, one)
    submit(second, two)
    assert (tmp_path / "ltxmock.sqlite3").is_file()
    assert (tmp_path / "ltxmock-1.sqlite3").is_file()
    assert (first.engine.own_shard().index, second.engine.own_shard().index) == (0, 1)
    found = second.tasks.live([one.task_uuid.upper()], now=START + 1)  # in the other shard
    assert found == {one.task_uuid.lower(): one}
    journal(second, one.task_uuid)  # the conflicting resubmit, answered by the second
    for store in (first, second):
        assert store.tasks.count(now=START + 1) == 2
        entries = [e.request[0]["taskUUID"] for e in store.journal.entries(keep=1000)]
        assert entries == [one.task_uuid, two.task_uuid, one.task_uuid]  # in time order
    row = MediaRow(str(uuid.uuid4()), two.task_uuid, 0, "a" * 64 + ".mp4", "video/mp4", START + 99)
    second.media.put([row])  # a result of the other shard's task
    assert first.media.get(row.video_uuid) == row
    assert first.media.for_task(two.task_uuid) == [row]
    second.close()
    third = open_on(stores, tmp_path / DB)  # a restarted worker takes the freed shard
    submit(third, record_of(video_task(), now=START + 1))
    assert third.engine.own_shard().index == 1
    assert sorted(p.name for p in tmp_path.glob("ltxmock*.sqlite3")) == [
        "ltxmock-1.sqlite3",
        "ltxmock.sqlite3",
    ]
    assert third.tasks.count(now=START + 1) == 3


def test_tasks_survive_a_restart(tmp_path: Path) -> None:
    record = record_of(video_task(numberResults=2), latency=1)
    before = SqliteStore(tmp_path / DB)
    submit(before, record)
    before.close()
    after = SqliteStore(tmp_path / DB)
    restored = after.tasks.get(record.task_uuid, now=START + 1)
    assert restored == record
    assert restored.number_results == 2
    assert restored.completes_at <= START + 1
    after.close()


def test_the_database_is_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB)
    with store.engine.transaction() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    store.close()


def test_expired_tasks_are_purged_with_an_indexed_delete(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB)
    for ttl in (60, 60, 3600):
        store.tasks.put(
            new_task(video_task(ttl=ttl), key_fingerprint="k", now=0, latency=0, default_ttl=3600)
        )
    assert store.tasks.count(now=100) == 1
    assert store.tasks.purge_expired(now=100) == 2
    with store.engine.transaction() as conn:
        plan = " ".join(
            str(row)
            for row in conn.execute("EXPLAIN QUERY PLAN DELETE FROM tasks WHERE expires_at <= 1")
        )
    assert "tasks_by_expiry" in plan
    store.close()


def test_a_purge_leaves_only_the_live_tasks_on_disk(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB)
    submit(store, record_of(video_task(ttl=60)))
    later = START + 3600
    submit(store, record_of(video_task(), now=later))
    store.tasks.purge_expired(now=later)
    raw = sqlite3.connect(tmp_path / DB)
    assert raw.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 1
    raw.close()
    store.close()


def test_the_store_keeps_a_key_fingerprint_not_the_key(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB)
    task = video_task()
    submit(store, record_of(task))
    record = store.tasks.get(task["taskUUID"], now=START)
    assert record is not None
    assert API_KEY not in record.key_fingerprint
    assert len(record.key_fingerprint) == 16
    assert record.params["positivePrompt"] == task["positivePrompt"]
    store.close()
    assert API_KEY.encode() not in (tmp_path / DB).read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("*-wal")
    )


# -- threads ------------------------------------------------------------------------


def test_concurrent_writes_from_many_threads_all_succeed(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB)
    records = [record_of(video_task()) for _ in range(40)]
    found: list[bool] = []

    def work(record: TaskRecord) -> None:
        submit(store, record)
        found.append(store.tasks.get(record.task_uuid, now=START) == record)
        journal(store, record.task_uuid)  # the poll's entry

    threads = [threading.Thread(target=work, args=(record,)) for record in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [True] * 40
    assert store.tasks.count(now=START) == 40
    assert len(store.journal.entries(keep=1000)) == 80
    store.close()


def test_the_in_memory_store_is_thread_safe_too() -> None:
    store = SqliteStore()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                submit(store, record_of(video_task()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.tasks.count(now=START) == 160
    assert len(store.journal.entries(keep=1000)) == 160
    store.close()


# -- opening ---------------------------------------------------------------------------


def test_a_database_from_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB
    SqliteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE meta SET value = '999' WHERE key = 'schema'")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="schema version 999"):
        SqliteStore(path)


def test_a_database_of_schema_version_1_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / DB
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    raw.execute("INSERT INTO meta VALUES ('schema', '1')")
    raw.commit()
    raw.close()
    SqliteStore(path).close()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall() == [
        (SCHEMA_VERSION,)
    ]
    raw.close()


def test_an_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot"):
        SqliteStore(blocker / "sub" / DB)


def test_open_store_follows_the_config(tmp_path: Path) -> None:
    in_memory = open_store(MockConfig())
    assert in_memory.description == "in-memory"
    in_memory.close()
    on_disk = open_store(MockConfig(data_dir=tmp_path))
    assert on_disk.description == str(tmp_path / DB)
    on_disk.close()
    assert shard_path(tmp_path / DB, 0) == tmp_path / DB
    assert shard_path(tmp_path / DB, 3) == tmp_path / "ltxmock-3.sqlite3"


def test_a_closed_store_refuses_work() -> None:
    store = SqliteStore()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.tasks.count(now=START)


# -- transactions ------------------------------------------------------------------------


def test_a_failed_transaction_leaves_nothing_behind() -> None:
    store = SqliteStore()
    record = new_task(video_task(), key_fingerprint="k", now=0, latency=0, default_ttl=60)

    def submit_then_fail() -> None:
        with store.transaction():
            store.tasks.put(record)
            raise RuntimeError("rollback")

    with pytest.raises(RuntimeError):
        submit_then_fail()
    assert store.tasks.get(record.task_uuid, now=1) is None


@pytest.mark.parametrize("on_disk", [True, False], ids=["data dir", "in memory"])
def test_a_savepoint_undoes_only_its_block(tmp_path: Path, on_disk: bool) -> None:
    store = SqliteStore(tmp_path / DB if on_disk else None)
    kept, undone = record_of(video_task()), record_of(video_task())

    def put_then_fail() -> None:
        with store.savepoint():
            store.tasks.put(undone)
            raise RuntimeError("undo this one")

    def empty_savepoint() -> None:
        with store.savepoint():
            pass

    with store.transaction():
        store.tasks.put(kept)
        with pytest.raises(RuntimeError):
            put_then_fail()
    assert store.tasks.find([kept.task_uuid, undone.task_uuid]) == [kept]
    with pytest.raises(StoreError, match="savepoint needs an open transaction"):
        empty_savepoint()
    store.close()


@pytest.mark.parametrize("on_disk", [True, False], ids=["data dir", "in memory"])
def test_a_task_read_inside_a_write_that_rolls_back_is_not_remembered(
    tmp_path: Path, on_disk: bool
) -> None:
    # Polls are answered from a per-process cache of live tasks: it must only
    # ever hold what was committed.
    store = SqliteStore(tmp_path / "db.sqlite3" if on_disk else None)
    record = new_task(video_task(), key_fingerprint="k", now=0, latency=0, default_ttl=60)

    def submit_read_then_fail() -> None:
        with store.transaction():
            store.tasks.put(record)
            assert store.tasks.get(record.task_uuid, now=1) == record  # its own write
            raise RuntimeError("rollback")

    with pytest.raises(RuntimeError):
        submit_read_then_fail()
    assert store.tasks.get(record.task_uuid, now=1) is None


def test_a_reset_by_another_store_forgets_the_tasks_this_one_polled(
    tmp_path: Path, stores: list[SqliteStore]
) -> None:
    first, second = open_on(stores, tmp_path / DB), open_on(stores, tmp_path / DB)
    mine, theirs = record_of(video_task(), latency=1), record_of(video_task(), latency=1)
    submit(first, mine)
    submit(second, theirs)  # one task in each shard
    for _ in range(2):  # read twice: the second answer may come from the cache
        assert first.tasks.get(mine.task_uuid, now=START) == mine
        assert first.tasks.get(theirs.task_uuid, now=START) == theirs
    second.reset()
    assert first.tasks.get(mine.task_uuid, now=START) is None
    assert first.tasks.get(theirs.task_uuid, now=START) is None
    assert first.journal.entries(keep=1000) == []
    # And a resubmitted task is the new one, not a remembered one.
    again = record_of(dict(mine.params), now=START + 2, latency=1)
    submit(first, again)
    assert first.tasks.get(mine.task_uuid, now=START + 2) == again


def test_an_in_memory_reset_forgets_everything() -> None:
    store = SqliteStore()
    record = record_of(video_task())
    submit(store, record)
    store.faults.add(Fault.http(503))
    assert store.tasks.get(record.task_uuid, now=START) == record  # cached
    store.reset()
    assert store.tasks.get(record.task_uuid, now=START) is None
    assert not store.faults.any()
    assert store.journal.entries(keep=10) == []
    store.close()


# -- fault rules -------------------------------------------------------------------------


def test_a_fault_rule_added_by_another_store_applies_at_once(
    tmp_path: Path, stores: list[SqliteStore]
) -> None:
    # The "any rules?" answer is cached per process; a change anywhere must end the cache.
    first, second = open_on(stores, tmp_path / DB), open_on(stores, tmp_path / DB)
    assert not first.faults.any()  # caches "no rules"
    rule = second.faults.add(Fault.http(503, times=None))
    assert first.faults.any()
    taken = first.faults.take("http", ["videoInference"])
    assert taken is not None
    assert taken.status == 503
    second.faults.remove(rule.id or 0)
    assert not first.faults.any()
    assert first.faults.take("http", ["videoInference"]) is None
    second.faults.add(Fault.http(429, times=1))
    statuses = [first.faults.take("http", ["videoInference"]) for _ in range(2)]
    assert [f.status if f else 200 for f in statuses] == [429, 200]


def test_a_rule_added_in_a_rolled_back_transaction_never_applies(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    assert not store.faults.any()

    def add_then_fail() -> None:
        with store.transaction():
            store.faults.add(Fault.http(503))
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        add_then_fail()
    assert not store.faults.any()
    store.faults.add(Fault.http(503))
    assert store.faults.any()


def test_rules_are_taken_oldest_first_and_counted_down() -> None:
    store = SqliteStore()
    twice = store.faults.add(Fault.http(503, times=2, task_type="imageInference"))
    once = store.faults.add(Fault.task_failure(times=1))
    assert store.faults.all() == [twice, once]
    assert store.faults.take("http", ["videoInference"]) is None  # not its task type
    taken = [store.faults.take("http", ["imageInference"]) for _ in range(3)]
    assert [f.times if f else None for f in taken] == [2, 1, None]
    assert store.faults.take("task", ["videoInference"]) == once
    assert not store.faults.any()
    store.faults.add(Fault.http(500))
    store.faults.clear()
    assert store.faults.all() == []
    assert not store.faults.remove(twice.id or 0)
    store.close()


# -- journal, media, deliveries ----------------------------------------------------------


def test_the_journal_keeps_the_newest_entries_oldest_first() -> None:
    store = SqliteStore()
    uuids = [str(uuid.uuid4()) for _ in range(5)]
    for task_uuid in uuids:
        journal(store, task_uuid)
    entries = store.journal.entries(keep=3)
    assert [e.task_uuids for e in entries] == [[u] for u in uuids[2:]]
    newest = store.journal.entries(keep=3, limit=1)
    assert newest == entries[-1:]
    since = entries[0].id or 0
    assert store.journal.entries(keep=5, since=since) == entries[1:]
    store.journal.clear()
    assert store.journal.entries(keep=5) == []
    store.close()


def test_the_journal_is_trimmed_now_and_then(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB)
    for _ in range(64):
        journal(store, str(uuid.uuid4()), keep=10)
    raw = sqlite3.connect(tmp_path / DB)
    assert raw.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 10
    raw.close()
    store.close()


def test_expired_media_rows_are_purged_and_unused_files_named() -> None:
    store = SqliteStore()
    task = str(uuid.uuid4())

    def row(index: int, file_name: str, expires_at: float) -> MediaRow:
        return MediaRow(str(uuid.uuid4()), task, index, file_name, "video/mp4", expires_at)

    shared_old, shared_new = row(1, "shared.mp4", START), row(2, "shared.mp4", START + 60)
    alone = row(0, "alone.mp4", START)
    store.media.put([shared_new, alone, shared_old])
    assert store.media.for_task(task.upper()) == [alone, shared_old, shared_new]
    assert store.media.file_in_use("alone.mp4", now=START - 1)
    assert store.media.purge_expired(now=START) == ["alone.mp4"]  # shared.mp4 is still used
    assert not store.media.file_in_use("alone.mp4", now=START - 1)
    assert store.media.get(alone.video_uuid) is None
    assert store.media.get(shared_new.video_uuid.upper()) == shared_new
    store.close()


def delivery(task_uuid: str, kind: str, *, due_at: float = START) -> NewDelivery:
    return NewDelivery(task_uuid, 0, kind, f"https://hooks.test/{kind}", "http://x", START, due_at)


def test_a_webhook_waits_for_the_upload_of_its_result() -> None:
    store = SqliteStore()
    task = str(uuid.uuid4())
    store.deliveries.add([delivery(task, "upload"), delivery(task, "webhook")])
    assert store.deliveries.has_pending()
    claimed = store.deliveries.claim("me", now=START, wall=START, lease=30, limit=10)
    assert [(d.kind, d.lease_owner, d.lease_until) for d in claimed] == [
        ("upload", "me", START + 30)
    ]
    assert store.deliveries.claim("other", now=START, wall=START, lease=30, limit=10) == []
    store.deliveries.release(claimed[0].id, "me")
    again = store.deliveries.claim("other", now=START, wall=START, lease=30, limit=10)
    assert [d.id for d in again] == [claimed[0].id]
    store.deliveries.release(claimed[0].id, "me")  # not its lease any more: no change
    assert [d.lease_owner for d in store.deliveries.all()] == ["other", None]
    store.deliveries.finish_attempt(
        again[0].id, "other", at=START + 1, attempt=1, status=200, error=None, state="delivered"
    )
    webhook = store.deliveries.claim("other", now=START, wall=START, lease=30, limit=10)
    assert [d.kind for d in webhook] == ["webhook"]
    store.deliveries.finish_attempt(
        webhook[0].id, "other", at=START + 2, attempt=None, status=None, error="gone",
        state="skipped",
    )  # fmt: skip
    assert not store.deliveries.has_pending()
    assert [(d.kind, d.state, d.attempts) for d in store.deliveries.all(task_uuid=task)] == [
        ("upload", "delivered", 1),
        ("webhook", "skipped", 0),
    ]
    attempts = store.deliveries.attempts(task_uuid=task)
    assert [(a.kind, a.attempt, a.status, a.outcome) for a in attempts] == [
        ("upload", 1, 200, "delivered")
    ]
    store.close()


def test_a_delivery_is_updated_in_its_own_shard(tmp_path: Path, stores: list[SqliteStore]) -> None:
    first, second = open_on(stores, tmp_path / DB), open_on(stores, tmp_path / DB)
    submit(first, record_of(video_task()))  # first claims shard 0
    task = str(uuid.uuid4())
    second.deliveries.add([delivery(task, "webhook")])
    (claimed,) = first.deliveries.claim("first", now=START, wall=START, lease=30, limit=5)
    assert claimed.id % 64 == 1  # second's shard
    first.deliveries.finish_attempt(
        claimed.id, "first", at=START, attempt=1, status=500, error="HTTP 500",
        state="pending", due_at=START + 1,
    )  # fmt: skip
    (row,) = second.deliveries.all()
    assert (row.attempts, row.due_at, row.last_error, row.lease_owner) == (
        1,
        START + 1,
        "HTTP 500",
        None,
    )
    (attempt,) = second.deliveries.attempts()
    assert attempt.id % 64 == 1
    assert attempt.delivery_id == claimed.id


# -- properties --------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=20)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
RECORDS = st.builds(
    TaskRecord,
    task_uuid=st.uuids().map(str),
    task_type=TEXT,
    key_fingerprint=TEXT,
    params=st.dictionaries(TEXT, JSON, max_size=5),
    params_hash=TEXT,
    submitted_at=st.floats(0, 2e9),
    latency=st.floats(0, 600),
    seed=st.integers(0, 2**31 - 1),
    number_results=st.integers(1, 16),
    ttl=st.floats(1, 86_400),
    failure_code=st.none() | TEXT,
    failure_message=st.none() | TEXT,
)


@given(record=RECORDS, upper=st.booleans())
def test_a_stored_task_reads_back_equal(record: TaskRecord, upper: bool) -> None:
    store = SqliteStore()
    with store.transaction():
        store.tasks.put(record)
    asked = record.task_uuid.upper() if upper else record.task_uuid
    assert store.tasks.get(asked, now=record.submitted_at) == record
    assert store.tasks.get(asked, now=record.expires_at) is None  # expired by then
    assert store.tasks.live([asked], now=record.submitted_at) == {record.task_uuid.lower(): record}
    assert store.tasks.find([asked]) == [record]
    store.close()


def wait_for_the_next_millisecond() -> None:
    """Journal ids are wall-clock ms: entries of two shards within one ms may tie."""
    start = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 == start:
        time.sleep(0.0002)


@settings(max_examples=20, deadline=None)
@given(writers=st.lists(st.sampled_from([0, 1]), min_size=1, max_size=12))
def test_journal_entries_of_two_shards_come_back_in_time_order(writers: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        pair = [SqliteStore(Path(folder) / DB) for _ in range(2)]
        try:
            written = []
            for writer in writers:
                wait_for_the_next_millisecond()
                task_uuid = str(uuid.uuid4())
                journal(pair[writer], task_uuid)
                written.append((task_uuid, pair[writer].engine.own_shard().index))
            for store in pair:
                entries = store.journal.entries(keep=1000)
                assert [(e.task_uuids[0], (e.id or 0) % 64) for e in entries] == written
                newest = store.journal.entries(keep=3)
                assert [e.task_uuids[0] for e in newest] == [u for u, _ in written[-3:]]
        finally:
            for store in pair:
                store.close()


@settings(max_examples=40, deadline=None)
@given(
    pads=st.lists(st.integers(0, 6_000), min_size=1, max_size=60),
    budget=st.integers(1, 40_000),
)
def test_the_journal_keeps_the_newest_entries_within_its_byte_budget(
    pads: list[int], budget: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / DB)
        try:
            uuids = [str(uuid.uuid4()) for _ in pads]
            size: dict[str, int] = {}
            for task_uuid, pad in zip(uuids, pads, strict=True):
                size[task_uuid] = journal(store, task_uuid, keep_bytes=budget, pad=pad)
                kept = store.journal.entries(keep=1000)
                # Measured when an eighth of the budget has been added: never an
                # eighth over it (or over the one entry kept when it alone exceeds
                # the budget), and the newest entry always stays.
                total = sum(size[e.request[0]["taskUUID"]] for e in kept)
                assert total < max(budget, *size.values()) + budget / 8
                assert kept[-1].request[0]["taskUUID"] == task_uuid
            names = [e.request[0]["taskUUID"] for e in store.journal.entries(keep=1000)]
            assert names == uuids[len(uuids) - len(names) :]  # the newest, in order
        finally:
            store.close()


@settings(max_examples=30, deadline=None)
@given(
    writers=st.lists(st.sampled_from([0, 1]), min_size=1, max_size=10),
    keep=st.integers(0, 12),
    limit=st.none() | st.integers(0, 12),
    cursor=st.integers(-1, 10),
)
def test_journal_pages_across_shards_are_those_of_one_list(
    writers: list[int], keep: int, limit: int | None, cursor: int
) -> None:
    # The model: every entry in one list in time order; the newest ``keep`` of it,
    # those after the cursor, the newest ``limit`` of those.
    with tempfile.TemporaryDirectory() as folder:
        pair = [SqliteStore(Path(folder) / DB) for _ in range(2)]
        try:
            for writer in writers:
                journal(pair[writer], str(uuid.uuid4()))
            ids = [e.id or 0 for e in pair[0].journal.entries(keep=1000)]
            assert ids == sorted(ids)
            assert len(ids) == len(writers)
            since = ids[cursor] if 0 <= cursor < len(ids) else 0
            kept = [i for i in (ids[-keep:] if keep else []) if i > since]
            expected = kept if limit is None else (kept[-limit:] if limit else [])
            for store in pair:
                found = store.journal.entries(keep=keep, since=since, limit=limit)
                assert [e.id for e in found] == expected
        finally:
            for store in pair:
                store.close()


@settings(max_examples=20, deadline=None)
@given(adders=st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=10))
def test_ids_carry_their_shard(adders: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        trio = [SqliteStore(Path(folder) / DB) for _ in range(3)]
        try:
            shard_of_task: dict[str, int] = {}
            for adder in adders:
                task = str(uuid.uuid4())
                trio[adder].deliveries.add([delivery(task, "webhook")])
                shard_of_task[task] = trio[adder].engine.own_shard().index
            # Whoever sends it, the attempt lands in the delivery's shard.
            sender = trio[(adders[0] + 1) % 3]
            claimed = sender.deliveries.claim("s", now=START, wall=START, lease=9, limit=99)
            assert len(claimed) == len(adders)
            for row in claimed:
                assert row.id % 64 == shard_of_task[row.task_uuid]
                sender.deliveries.finish_attempt(
                    row.id, "s", at=START, attempt=1, status=204, error=None, state="delivered"
                )
            for store in trio:
                attempts = store.deliveries.attempts()
                assert sorted(a.id % 64 for a in attempts) == sorted(shard_of_task.values())
                assert all(a.id % 64 == a.delivery_id % 64 for a in attempts)
                assert {d.state for d in store.deliveries.all()} == {"delivered"}
        finally:
            for store in trio:
                store.close()
