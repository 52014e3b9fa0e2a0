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
never a wrong answer. At ``SIZE`` slots, 200,000 stored tasks make about 0.2% of
new UUIDs look up anyway, a million about 5%.

A data dir that has tasks from before the filter existed gets it filled from
every shard first (under a lock, by the first process to open it); the header's
``MAGIC`` marks a filter that holds every stored UUID.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

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
        self._map: mmap.mmap | None = None
        self._fd = -1
        if database is not None:
            self._open(database.with_name(database.name + ".uuidmap"), stored)

    def _open(self, path: Path, stored: Callable[[], Iterable[str]]) -> None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return  # unwritable: every submit looks its UUIDs up
        try:
            if os.fstat(fd).st_size < HEADER + SIZE:
                os.ftruncate(fd, HEADER + SIZE)  # a sparse file: untouched slots take no disk
            mapped = mmap.mmap(fd, HEADER + SIZE)
        except (OSError, ValueError):
            os.close(fd)
            return
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, 0)  # the first opener fills it; the others wait
            try:
                if mapped[: len(MAGIC)] != MAGIC:
                    for task_uuid in stored():
                        for slot in slots(task_uuid):
                            mapped[slot] = 1
                    mapped[: len(MAGIC)] = MAGIC
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, 0)
        except BaseException:
            mapped.close()
            os.close(fd)
            raise
        self._map, self._fd = mapped, fd

    def may_include(self, task_uuids: Collection[str]) -> bool:
        """Whether any of these UUIDs may be stored (True: look them up)."""
        mapped = self._map
        if mapped is None:
            return True  # in memory, or no usable file
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
        mapped = self._map
        if mapped is None:
            return
        first, second = slots(task_uuid)
        mapped[first] = 1
        mapped[second] = 1

    def close(self) -> None:
        mapped, self._map = self._map, None
        if mapped is not None:
            mapped.close()
            os.close(self._fd)
            self._fd = -1
