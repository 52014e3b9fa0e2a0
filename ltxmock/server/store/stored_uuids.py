"""Which taskUUIDs may be stored in any shard: a filter every process of a data dir
shares, so that a submit of a new UUID skips the look-up in every shard.

Looking a batch's UUIDs up in a shard another process keeps writing is the
costliest read of a submit: each commit there empties this process's page cache
of that shard, so the index pages are read again (``bench/README.md`` has the
figures). Nearly every submitted UUID is new, and this filter says so from
memory.

``<database>.uuidmap`` holds ``SIZE`` one-byte slots, mapped into every process.
Before a task is written, the two slots its UUID hashes to are set. A UUID with
a slot still zero was never written: the look-up is skipped. Both slots set
means "perhaps" (written, or slots shared with other UUIDs), and the shards are
asked as before. Slots are bytes, not bits, so that two processes setting
neighbouring slots at once cannot undo each other's write.

Correct only together with the reservations (``reservations.py``): a process
sets a UUID's slots while it holds the UUID, before its commit, and another
process reads them only once it holds the UUID in turn. Slots are never
cleared (a reset or a purge leaves them set): a stale slot costs a look-up,
never a wrong answer. A new UUID is looked up anyway with the chance
(1 - e^(-2n/SIZE))^2 after n stores: about 0.2% at 200,000, 5% at a million.

A data dir that has tasks from before the filter existed gets it filled from
every shard first (under a lock, by the first process to open it); the header's
``MAGIC`` marks a filter that holds every stored UUID.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from .mapped_file import MappedFile

SIZE = 8 << 20  # slots: a power of two
HEADER = 4096  # the first page: MAGIC once the filter is complete
MAGIC = b"ltxmock-uuidmap/1\n"


def slots(task_uuid: str) -> tuple[int, int]:
    """The two slots (file offsets) of a UUID, compared case-insensitively.

    Two halves of one BLAKE2 digest: CRC-32 with a second start value
    is the first CRC XOR a constant for UUIDs (all of one length), one slot twice.
    """
    digest = hashlib.blake2b(task_uuid.lower().encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    mask = SIZE - 1
    return HEADER + (value & mask), HEADER + ((value >> 32) & mask)


class StoredUuids:
    """``may_include(uuids)``: False means none of them is stored in any shard."""

    def __init__(self, database: Path | None, stored: Callable[[], Iterable[str]]) -> None:
        """``stored``: every UUID in every shard, read if the filter must be filled."""
        # None in memory, or in an unwritable data dir: every UUID is looked up.
        self._file: MappedFile | None = None
        if database is not None:
            self._file = _open(database.with_name(database.name + ".uuidmap"), stored)

    def may_include(self, task_uuids: Collection[str]) -> bool:
        """Whether any of these UUIDs may be stored (True: look them up)."""
        file = self._file
        if file is None:
            return True
        mapped = file.map
        try:
            for task_uuid in task_uuids:
                first, second = slots(task_uuid)
                if mapped[first] and mapped[second]:
                    return True
        except ValueError:  # closed meanwhile (the store is closing)
            return True
        return False

    def add(self, task_uuid: str) -> None:
        """Mark a UUID about to be written (hold its reservation, before the commit)."""
        file = self._file
        if file is None:
            return
        first, second = slots(task_uuid)
        file.map[first] = 1
        file.map[second] = 1

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()


def _open(path: Path, stored: Callable[[], Iterable[str]]) -> MappedFile | None:
    """The filter of a data dir, filled from every shard if it is new."""
    file = MappedFile.open(str(path), HEADER + SIZE)  # sparse: untouched slots take no disk
    if file is None:
        return None
    try:
        with file.locked():  # the first opener fills it; the others wait
            if file.map[: len(MAGIC)] != MAGIC:
                for task_uuid in stored():
                    for slot in slots(task_uuid):
                        file.map[slot] = 1
                file.map[: len(MAGIC)] = MAGIC
    except BaseException:
        file.close()
        raise
    return file
