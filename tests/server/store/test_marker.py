"""The change marker: one counter per data dir, shared by every process through a
memory map; each committed change moves it exactly once."""

from __future__ import annotations

import multiprocessing
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ltxmock.server.store.marker import ChangeMarker


def _bump(database: str, times: int, go: Any) -> None:
    marker = ChangeMarker(Path(database))
    go.wait()  # all at once: their increments overlap
    for _ in range(times):
        marker.bump()
    marker.close()


@settings(max_examples=3, deadline=None)
@given(st.lists(st.integers(min_value=2000, max_value=4000), min_size=2, max_size=3))
def test_bumps_from_several_processes_each_move_the_counter(bumps: list[int]) -> None:
    # A lost increment would let a process keep a cache that a change made stale.
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "ltxmock.sqlite3"
        watcher = ChangeMarker(database)
        before = watcher.version()
        context = multiprocessing.get_context("fork")
        go = context.Event()
        workers = [context.Process(target=_bump, args=(str(database), n, go)) for n in bumps]
        for worker in workers:
            worker.start()
        go.set()
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        assert before is not None
        assert watcher.version() == before + sum(bumps)
        watcher.close()


def test_a_change_is_seen_by_another_marker_at_its_next_look(tmp_path: Path) -> None:
    first, second = ChangeMarker(tmp_path / "db"), ChangeMarker(tmp_path / "db")
    seen = second.version()
    first.note_change()
    assert second.version() == seen  # noted, not yet committed
    first.publish()
    assert second.version() != seen
    seen = second.version()
    first.note_change()
    first.discard()  # rolled back: never published
    first.publish()
    assert second.version() == seen
    first.close()
    second.close()


def test_an_earlier_versions_empty_marker_file_is_taken_over(tmp_path: Path) -> None:
    (tmp_path / "db.faults").touch()  # what versions that read the mtime left
    marker = ChangeMarker(tmp_path / "db")
    assert marker.version() == 0
    marker.bump()
    assert marker.version() == 1
    assert (tmp_path / "db.faults").stat().st_size == 8
    marker.close()


def test_without_a_usable_file_the_caches_ask_sqlite(tmp_path: Path) -> None:
    assert ChangeMarker(None).version() is None  # in memory
    (tmp_path / "db.faults").mkdir()  # not a file it can open for writing
    assert ChangeMarker(tmp_path / "db").version() is None
    marker = ChangeMarker(tmp_path / "other")
    marker.close()
    assert marker.version() is None  # closed: no stale answer
    marker.bump()  # and nothing to move
