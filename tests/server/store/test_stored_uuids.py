"""The stored-UUID filter: a submit of a new UUID asks no shard, and no stored UUID
is ever reported absent, whoever stored it and whatever its case."""

from __future__ import annotations

import multiprocessing
import tempfile
import uuid
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from support.server import START, video_task
from support.store import DB, open_on, record_of, submit

from ltxmock.server.store import SqliteStore
from ltxmock.server.store.stored_uuids import StoredUuids

uuid_texts = st.uuids().map(str) | st.text(min_size=1, max_size=40)


def ascii_upper(text: str) -> str:
    """The spelling SQLite's NOCASE takes as the same (it folds ASCII letters only)."""
    return "".join(c.upper() if c.isascii() else c for c in text)


@settings(max_examples=30, deadline=None)
@given(added=st.lists(uuid_texts, max_size=60), upper=st.booleans())
def test_an_added_uuid_is_never_reported_absent_by_any_opener(
    added: list[str], upper: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / DB
        writer, reader = StoredUuids(database, list), StoredUuids(database, list)
        for task_uuid in added:
            writer.add(task_uuid)
        for task_uuid in added:
            asked = ascii_upper(task_uuid) if upper else task_uuid
            assert reader.may_include([asked])
            assert reader.may_include([str(uuid.uuid4()), asked])
        writer.close()
        reader.close()


def test_new_uuids_are_nearly_always_reported_absent(tmp_path: Path) -> None:
    # The point of the filter: a new UUID's submit skips every shard.
    stored = StoredUuids(tmp_path / DB, list)
    for _ in range(10_000):
        stored.add(str(uuid.uuid4()))
    fresh = [str(uuid.uuid4()) for _ in range(10_000)]
    assert sum(stored.may_include([u]) for u in fresh) < 5  # about 0.06 expected
    stored.close()


def test_a_task_stored_by_another_store_is_found_by_a_resubmit(
    tmp_path: Path, stores: list[SqliteStore]
) -> None:
    first, second = open_on(stores, tmp_path / DB), open_on(stores, tmp_path / DB)
    record = record_of(video_task(), latency=2)
    submit(first, record)
    found = second.tasks.live([record.task_uuid.upper()], now=START)
    assert found == {record.task_uuid.lower(): record}


def test_tasks_stored_before_the_filter_existed_are_found(
    tmp_path: Path, stores: list[SqliteStore]
) -> None:
    # A data dir of an earlier version: tasks in two shards, and no filter yet.
    first, second = SqliteStore(tmp_path / DB), SqliteStore(tmp_path / DB)
    old = [record_of(video_task(), latency=2) for _ in range(2)]
    submit(first, old[0])
    submit(second, old[1])
    first.close()
    second.close()
    (tmp_path / f"{DB}.uuidmap").unlink()
    upgraded = SqliteStore(tmp_path / DB)
    stores.append(upgraded)
    wanted = [record.task_uuid for record in old]
    assert upgraded.tasks.live(wanted, now=START) == {r.task_uuid.lower(): r for r in old}


def _open_and_ask(database: str, task_uuids: list[str], answers: Any) -> None:
    store = SqliteStore(Path(database))
    found = store.tasks.live(task_uuids, now=START)
    answers.put(sorted(found))
    store.close()


def test_processes_opening_an_old_data_dir_at_once_all_find_its_tasks(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB)
    old = [record_of(video_task(), latency=2) for _ in range(50)]
    for record in old:
        submit(store, record)
    store.close()
    (tmp_path / f"{DB}.uuidmap").unlink()
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    wanted = [record.task_uuid for record in old]
    openers = [
        context.Process(target=_open_and_ask, args=(str(tmp_path / DB), wanted, answers))
        for _ in range(3)
    ]
    for opener in openers:
        opener.start()
    results = [answers.get(timeout=60) for _ in openers]
    for opener in openers:
        opener.join(timeout=60)
    assert results == [sorted(u.lower() for u in wanted)] * 3


def test_in_memory_and_without_a_usable_file_every_uuid_is_looked_up(tmp_path: Path) -> None:
    assert StoredUuids(None, list).may_include([str(uuid.uuid4())])
    (tmp_path / f"{DB}.uuidmap").mkdir()  # not a file it can open
    assert StoredUuids(tmp_path / DB, list).may_include([str(uuid.uuid4())])
    closed = StoredUuids(tmp_path / "other", list)
    closed.close()
    assert closed.may_include([str(uuid.uuid4())])
    closed.add(str(uuid.uuid4()))  # nothing to mark
