"""The storage adapter: the ports of ``core/ports.py`` over SQLite.

    store = open_store(config)          # in memory, or the data dir's shards
    with store.transaction():
        store.tasks.put(record)

Modules, each with one job: ``schema`` (tables, version), ``locks`` (writer
lock, pid), ``shards`` (which files, which one is this process's), ``engine``
(connections, transactions, counted use), ``marker`` (the change marker
file), one per table (``tasks``, ``faults``, ``journal``, ``media``,
``deliveries``) and ``sqlite`` (``SqliteStore``, which assembles them).
"""

from __future__ import annotations

from ltxmock.server.core.config import MockConfig
from ltxmock.server.core.ports import StoreError

from .shards import shard_path
from .sqlite import SqliteStore

__all__ = ["SqliteStore", "StoreError", "open_store", "shard_path"]


def open_store(config: MockConfig) -> SqliteStore:
    """The store ``config`` asks for: its data dir's sharded files, or memory without one."""
    return SqliteStore(config.database_path)
