"""The tables every shard file holds, and the schema version check.

Every shard (``ltxmock.sqlite3`` and each ``ltxmock-<k>.sqlite3``) has the
same tables; a row lives in the shard of the process that created it. Shard 0's
``meta`` also keeps the store's fingerprint secret (``read_secret``).
"""

from __future__ import annotations

import secrets
import sqlite3

from ltxmock.server.core.ports import StoreError

SCHEMA_VERSION = "4"
# Versions whose databases this one can open: the tables it added are created
# by the CREATE IF NOT EXISTS statements below, and the columns it added by
# UPGRADES (each run only where the column is missing).
UPGRADABLE_VERSIONS = ("1", "2", "3")
UPGRADES = (
    ("faults", "options", "ALTER TABLE faults ADD COLUMN options TEXT"),
    # 4: request headers in the journal; older entries read as having none.
    (
        "journal",
        "headers_json",
        "ALTER TABLE journal ADD COLUMN headers_json TEXT NOT NULL DEFAULT '[]'",
    ),
)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS tasks (
        task_uuid TEXT PRIMARY KEY COLLATE NOCASE,
        task_type TEXT NOT NULL,
        key_fingerprint TEXT NOT NULL,
        params_json TEXT NOT NULL,
        params_hash TEXT NOT NULL,
        submitted_at REAL NOT NULL,
        latency REAL NOT NULL,
        seed INTEGER NOT NULL,
        number_results INTEGER NOT NULL,
        ttl REAL NOT NULL,
        expires_at REAL NOT NULL,
        failure_code TEXT,
        failure_message TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS tasks_by_expiry ON tasks (expires_at)",
    """CREATE TABLE IF NOT EXISTS faults (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        status INTEGER NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        remaining INTEGER,
        task_type TEXT,
        options TEXT
    )""",
    # Journal, delivery and attempt ids are given explicitly (they carry their
    # shard), so no AUTOINCREMENT: it would only write sqlite_sequence's page on
    # every insert. (Files made by older versions keep theirs; the ids mean the
    # same either way.)
    """CREATE TABLE IF NOT EXISTS journal (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        transport TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        fault TEXT,
        request_json TEXT NOT NULL,
        response_json TEXT NOT NULL,
        headers_json TEXT NOT NULL DEFAULT '[]'
    )""",
    # One row per rendered (or failed) result video: where its file is (a
    # RenderCache file name, never user input) and why its render failed.
    """CREATE TABLE IF NOT EXISTS media (
        video_uuid TEXT PRIMARY KEY COLLATE NOCASE,
        task_uuid TEXT NOT NULL COLLATE NOCASE,
        result_index INTEGER NOT NULL,
        file_name TEXT NOT NULL,
        content_type TEXT NOT NULL,
        expires_at REAL NOT NULL,
        error TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS media_by_task ON media (task_uuid, result_index)",
    "CREATE INDEX IF NOT EXISTS media_by_expiry ON media (expires_at)",
    # Webhook POSTs and uploadEndpoint PUTs still to send (or sent/failed).
    # due_at is on the service clock; lease_until on the real one (it guards
    # against dead processes, not against simulated time).
    """CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY,
        task_uuid TEXT NOT NULL COLLATE NOCASE,
        result_index INTEGER NOT NULL,
        kind TEXT NOT NULL,
        url TEXT NOT NULL,
        base_url TEXT NOT NULL,
        created_at REAL NOT NULL,
        due_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending',
        lease_owner TEXT,
        lease_until REAL,
        last_error TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, due_at)",
    """CREATE TABLE IF NOT EXISTS delivery_attempts (
        id INTEGER PRIMARY KEY,
        delivery_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        at REAL NOT NULL,
        status INTEGER,
        error TEXT,
        outcome TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS attempts_by_delivery ON delivery_attempts (delivery_id)",
    # What a delivery to a reserved name (example.com, *.test, ...) would have
    # sent: kept instead of sent (``callback_targets.is_sink``).
    """CREATE TABLE IF NOT EXISTS captures (
        delivery_id INTEGER PRIMARY KEY,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        body BLOB
    )""",
    # Scripted getResponse outcomes per taskUUID (shard 0 only).
    """CREATE TABLE IF NOT EXISTS scripts (
        task_uuid TEXT PRIMARY KEY COLLATE NOCASE,
        outcomes_json TEXT NOT NULL,
        position INTEGER NOT NULL DEFAULT 0
    )""",
    # Credits per API key fingerprint; owner '*' is the default of new accounts
    # (shard 0 only).
    """CREATE TABLE IF NOT EXISTS credits (
        owner TEXT PRIMARY KEY,
        balance REAL,
        spent REAL NOT NULL DEFAULT 0
    )""",
)

# Every table a reset empties, in the order it empties them.
DATA_TABLES = (
    "tasks", "faults", "journal", "media", "deliveries", "delivery_attempts",
    "captures", "scripts", "credits",
)  # fmt: skip


def write_schema(conn: sqlite3.Connection, *, description: str = "the database") -> None:
    """Create the tables (if missing) and check or record the schema version."""
    for statement in SCHEMA:
        conn.execute(statement)
    for table, column, statement in UPGRADES:
        columns = {info[1] for info in conn.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            conn.execute(statement)
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is None:
        conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
    elif row[0] in UPGRADABLE_VERSIONS:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
    elif row[0] != SCHEMA_VERSION:
        raise StoreError(
            f"{description} has schema version {row[0]}, this ltxmock uses "
            f"{SCHEMA_VERSION}; point --data-dir at a new directory"
        )


def read_secret(conn: sqlite3.Connection, *, create: bool) -> bytes | None:
    """The store's fingerprint secret (``Store.secret``), kept in shard 0's ``meta``.

    ``create``: make it if missing (inside a write transaction, so that
    processes opening a new store at once all read the one that got written).
    A data dir made before there was a secret gets one on its next open; the
    fingerprints its tasks were stored with (unkeyed) then match no key.
    """
    if create:
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('secret', ?)", (secrets.token_hex(32),))
    row = conn.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
    # The text's bytes are the HMAC key: 64 random hex digits, 256 bits.
    return str(row[0]).encode("utf-8") if row is not None else None
