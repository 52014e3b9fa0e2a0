"""The disk budget of the media folder: rendered files, least recently used evicted first.

A render lands its file through ``MediaBudget.place``: room is made first
(under a lock every process sharing the folder takes), then the file is
moved in, so the finished files never add up to more than the budget, except
for files in use (a file cannot be evicted while it is being served: each
reader holds a shared ``flock`` on it, ``hold``) and a single file larger than
the whole budget (a render is never thrown away: its client is waiting).

"Used" is the file's access time, set on each read (``hold``): the mount's
``relatime`` would not. An evicted file's result stays reported as done; its
file is rendered again on demand, byte for byte the same (renders are
deterministic from the task).

Names starting with a dot (partial renders, ``.locks``, ``.staging``) are
neither counted nor evicted: they exist only while a render runs.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process locks, no eviction guard
    fcntl = None  # type: ignore[assignment]  # optional module, checked before use

LOCK_NAME = "budget"  # in .locks/, beside RenderCache's per-key locks
STAGING = ".staging"  # where a render finishes before it is placed


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    used: float  # access time


class MediaBudget:
    """Keep the finished files of ``root`` within ``budget`` bytes."""

    def __init__(self, root: Path, budget: int) -> None:
        self.root = root
        self.budget = budget

    def staging_path(self, name: str) -> Path:
        """Where a render writes ``name`` before it is placed (same file system)."""
        folder = self.root / STAGING
        folder.mkdir(exist_ok=True)
        return folder / name

    def place(self, made: Path, dest: Path) -> list[str]:
        """Make room for ``made``, then move it to ``dest``; returns the evicted names."""
        size = made.stat().st_size
        with self._locked():
            evicted = self.make_room(size, keep=dest.name)
            os.replace(made, dest)
        return evicted

    def make_room(self, incoming: int, *, keep: str = "") -> list[str]:
        """Evict the least recently used files until ``incoming`` more bytes fit.

        A file being read (a shared lock on it) or named ``keep`` stays.
        """
        entries = self.entries()
        total = sum(entry.size for entry in entries) + incoming
        evicted: list[str] = []
        for entry in sorted(entries, key=lambda e: e.used):
            if total <= self.budget:
                break
            if entry.name != keep and self._evict(entry.name):
                total -= entry.size
                evicted.append(entry.name)
        return evicted

    def entries(self) -> list[Entry]:
        """The finished files (regular, not dot-named) with their sizes and last use."""
        found = []
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root) as scan:
            for item in scan:
                if item.name.startswith("."):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    status = item.stat(follow_symlinks=False)
                    if stat.S_ISREG(status.st_mode):
                        found.append(Entry(item.name, status.st_size, status.st_atime))
        return found

    def purge_staging(self, max_age: float) -> None:
        """Delete staged renders older than ``max_age`` seconds: a crash left them
        (a running render's file is seconds old)."""
        folder = self.root / STAGING
        if not folder.is_dir():
            return
        cutoff = time.time() - max_age
        for entry in folder.iterdir():
            with contextlib.suppress(OSError):
                if entry.lstat().st_mtime < cutoff:
                    entry.unlink()

    def used_bytes(self) -> int:
        return sum(entry.size for entry in self.entries())

    def _evict(self, name: str) -> bool:
        path = self.root / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return False  # gone already, or a link (not ours to count)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False  # being served: it stays
            path.unlink()
            return True
        except FileNotFoundError:
            return False
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        folder = self.root / ".locks"
        folder.mkdir(exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def hold(fd: int) -> bool:
    """Mark an open result file as in use until ``fd`` is closed, and as used now.

    False if the file was evicted while we waited for the lock (it has no
    name any more: the caller renders it again rather than serve a ghost).
    """
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)  # an eviction holds its lock only to unlink
    status = os.fstat(fd)
    if status.st_nlink == 0:
        return False
    with contextlib.suppress(OSError):  # a read-only folder still serves
        os.utime(fd, ns=(time.time_ns(), status.st_mtime_ns))
    return True
