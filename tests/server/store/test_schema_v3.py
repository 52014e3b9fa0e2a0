"""Schema 3 (fault rule options, captures, scripts, credits): a version 2 data dir is
upgraded in place and its fault rules keep working."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ltxmock.server.core.faults import Fault
from ltxmock.server.store import SqliteStore
from ltxmock.server.store.schema import SCHEMA_VERSION

V2_FAULTS = """CREATE TABLE faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, status INTEGER NOT NULL,
    code TEXT NOT NULL, message TEXT NOT NULL, remaining INTEGER, task_type TEXT)"""


def test_a_version_2_database_gains_the_new_column_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "ltxmock.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    raw.execute("INSERT INTO meta VALUES ('schema', '2')")
    raw.execute(V2_FAULTS)
    raw.execute(
        "INSERT INTO faults (kind, status, code, message, remaining, task_type) "
        "VALUES ('http', 503, 'serviceUnavailable', 'old rule', 1, NULL)"
    )
    raw.commit()
    raw.close()
    store = SqliteStore(path)
    try:
        (old,) = store.faults.all()
        assert (old.code, old.match, old.after, old.retry_after) == (
            "serviceUnavailable",
            None,
            0,
            None,
        )
        new = store.faults.add(Fault.parse("429;retry-after=2"))
        assert store.faults.all()[1].retry_after == 2 == new.retry_after
        store.scripts.put("t", ["processing", "success"])
        assert [store.scripts.step("t") for _ in range(3)] == ["processing", "success", "success"]
        assert store.credits.spend("owner", 0.24, 1.0) is not None
    finally:
        store.close()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
        SCHEMA_VERSION,
    )
    raw.close()
