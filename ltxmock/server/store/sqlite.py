"""SqliteStore: the mock's whole state in SQLite, shareable between processes.

The data dir holds tasks, fault rules, the request journal, the rendered result
files' rows (``media``) and pending webhook/upload deliveries in SQLite (WAL
mode): ``ltxmock.sqlite3`` and one ``ltxmock-<k>.sqlite3`` shard per further
process that wrote (``shards.py`` explains the sharding). Every worker process
sees the same world and a restart resumes what was pending. Without a data dir
the database lives in memory (one process).

This class only assembles the parts: the engine (connections, transactions),
the change marker and one object per table.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from pathlib import Path

from ltxmock.server.core import ports

from .credits import CreditTable
from .deliveries import DeliveryTable
from .engine import Engine
from .faults import FaultTable
from .journal import JournalTable
from .marker import ChangeMarker
from .media import MediaTable
from .reservations import Reservations
from .schema import DATA_TABLES, read_secret
from .scripts import ScriptTable
from .shards import create_data_dir
from .stored_uuids import StoredUuids
from .tasks import TaskTable


class SqliteStore:
    """SQLite-backed state (``path`` None: in memory). Thread-safe; several
    processes may share one data dir. Table writes made inside ``transaction()``
    join it."""

    # The ports' types, not the classes': a Protocol's attributes are invariant.
    tasks: ports.TaskTable
    faults: ports.FaultTable
    journal: ports.JournalTable
    media: ports.MediaTable
    deliveries: ports.DeliveryTable
    scripts: ports.ScriptTable
    credits: ports.CreditTable

    def __init__(self, path: Path | None = None, *, busy_timeout: float = 10.0) -> None:
        if path is not None:
            create_data_dir(path)
        self._marker = ChangeMarker(path)
        self.engine = Engine(path, marker=self._marker, busy_timeout=busy_timeout)
        self._stored_uuids = StoredUuids(path, self._every_task_uuid)
        self._tasks = TaskTable(self.engine, self._marker, self._stored_uuids)
        self.tasks = self._tasks
        self.faults = FaultTable(self.engine, self._marker)
        self.journal = JournalTable(self.engine)
        self.media = MediaTable(self.engine)
        self.deliveries = DeliveryTable(self.engine)
        self.scripts = ScriptTable(self.engine, self._marker)
        self.credits = CreditTable(self.engine, self._marker)
        self._secret = self._load_secret()
        self._reservations = Reservations(path)

    @property
    def path(self) -> Path | None:
        """Shard 0's file (None: in memory)."""
        return self.engine.path

    @property
    def description(self) -> str:
        """Where the state lives, for the health check and the banner."""
        return self.engine.description

    @property
    def secret(self) -> bytes:
        """The key of the API-key fingerprints: made once per store (in memory: per
        store object), shared by every process of a data dir."""
        return self._secret

    def _load_secret(self) -> bytes:
        with self.engine.reading(self.engine.home) as conn:
            found = read_secret(conn, create=False)
        if found is not None:
            return found
        # Missing (a new store, or one made before secrets): the write lock makes
        # every process that opens it now read the same one.
        with self.engine.transaction(self.engine.home) as conn:
            made = read_secret(conn, create=True)
        assert made is not None
        return made

    def transaction(self) -> AbstractContextManager[object]:
        """One atomic write on this process's shard; table writes inside it join it,
        and so do nested calls."""
        return self.engine.transaction()

    def reserve(self, task_uuids: Collection[str]) -> AbstractContextManager[object]:
        """Hold these UUIDs store-wide (``reservations.py``); take it before the transaction."""
        return self._reservations.hold(task_uuids)

    def savepoint(self) -> AbstractContextManager[None]:
        """Inside a transaction: undo just this block's writes if it raises."""
        return self.engine.savepoint()

    def reset(self) -> None:
        """Forget every task, fault rule, journal entry, result file row and delivery."""
        home = self.engine.home
        for shard in self.engine.all_shards():
            with self.engine.transaction(shard) as conn:
                if shard is home:
                    self._marker.note_change()
                for table in DATA_TABLES:
                    conn.execute(f"DELETE FROM {table}")
        # Again, now that every shard is empty: a process that looked at the
        # marker in between may have cached a task of a shard not yet emptied.
        self._marker.bump()
        self._tasks.forget_cached()

    def close(self, *, wait: float = 10.0) -> None:
        """Refuse new work, let running statements finish (up to ``wait`` s), close."""
        self.engine.close(wait=wait)
        self._reservations.close()
        self._marker.close()
        self._stored_uuids.close()

    def _every_task_uuid(self) -> list[str]:
        return [row[0] for row in self.engine.rows_of_all("SELECT task_uuid FROM tasks")]


def _conforms(store: SqliteStore) -> ports.Store:
    """Never called: mypy checks here that ``SqliteStore`` is a ``Store``."""
    return store
