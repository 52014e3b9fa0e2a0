"""A small file of the data dir that every process opening it maps into memory.

The change marker (``marker.py``) and the filter of stored taskUUIDs
(``stored_uuids.py``) are read on every request by every worker: through a
shared mapping a read is a memory read, not a system call.
"""

from __future__ import annotations

import fcntl
import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager


class MappedFile:
    """``size`` bytes of ``path`` (zeros when new), mapped shared; ``open`` gives None
    when the file cannot be made or mapped (an unwritable data dir)."""

    def __init__(self, fd: int, mapped: mmap.mmap) -> None:
        self._fd = fd
        self.map = mapped

    @classmethod
    def open(cls, path: str, size: int) -> MappedFile | None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_size < size:  # new, or written by an earlier version
                os.ftruncate(fd, size)  # zeros; growing to the same size again changes nothing
            return cls(fd, mmap.mmap(fd, size))
        except (OSError, ValueError):
            os.close(fd)
            return None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive record lock on the file's first byte, across processes."""
        fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, 0)
        try:
            yield
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, 0)

    def close(self) -> None:
        if not self.map.closed:
            self.map.close()
            os.close(self._fd)
