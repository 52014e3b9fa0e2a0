"""Schema 4 (request headers in the journal): a version 3 data dir is upgraded in
place; its journal entries read as having no headers, new ones keep theirs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from support.server import MockClient

from ltxmock.server import MockConfig, create_app
from ltxmock.server.core.journal import REDACTED
from ltxmock.server.store import SqliteStore
from ltxmock.server.store.schema import SCHEMA_VERSION

V3_JOURNAL = """CREATE TABLE journal (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, transport TEXT NOT NULL, method TEXT NOT NULL,
    path TEXT NOT NULL, status INTEGER NOT NULL, fault TEXT, request_json TEXT NOT NULL,
    response_json TEXT NOT NULL)"""
PING = [{"taskType": "ping", "ping": True}]


def version_3_data_dir(path: Path) -> Path:
    """A data dir as ltxmock with schema 3 left it: one journal entry."""
    path.mkdir()
    raw = sqlite3.connect(path / "ltxmock.sqlite3")
    raw.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    raw.execute("INSERT INTO meta VALUES ('schema', '3')")
    raw.execute(V3_JOURNAL)
    raw.execute(
        "INSERT INTO journal VALUES (4096, 1.5, 'rest', 'POST', '/v1', 200, NULL, ?, ?)",
        (json.dumps(PING), json.dumps({"data": [{"taskType": "ping", "pong": True}]})),
    )
    raw.commit()
    raw.close()
    return path


def test_a_version_3_journal_gains_headers_in_place(tmp_path: Path) -> None:
    data_dir = version_3_data_dir(tmp_path / "data")
    store = SqliteStore(data_dir / "ltxmock.sqlite3")
    try:
        [old] = store.journal.entries(keep=10)
        assert (old.id, old.request, old.headers) == (4096, PING, [])
    finally:
        store.close()
    raw = sqlite3.connect(data_dir / "ltxmock.sqlite3")
    columns = [info[1] for info in raw.execute("PRAGMA table_info(journal)")]
    assert columns[-1] == "headers_json"
    assert raw.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
        SCHEMA_VERSION,
    )
    raw.close()
    assert SCHEMA_VERSION == "4"


def test_a_server_on_an_upgraded_data_dir_journals_headers(tmp_path: Path) -> None:
    data_dir = version_3_data_dir(tmp_path / "data")
    client = MockClient(create_app(MockConfig(data_dir=data_dir, latency=0)))
    try:
        assert client.post(PING, headers={"X-Trace": "t-3"}).status == 200
        old, new = client.service.journal.entries()
        assert old.headers == []
        assert ["x-trace", "t-3"] in new.headers
        assert ["authorization", f"Bearer {REDACTED}"] in new.headers
        assert [e.to_dict()["headers"] for e in (old, new)] == [[], new.headers]
    finally:
        client.service.close()
    again = SqliteStore(data_dir / "ltxmock.sqlite3")  # and it opens again as version 4
    try:
        assert len(again.journal.entries(keep=10)) == 2
    finally:
        again.close()
