"""A directory of rendered videos keyed by ``RenderSpec.cache_key()``."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Final

from ltxmock.media.render import EXTENSIONS, RenderSpec, render_video

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: only the in-process lock applies
    fcntl = None  # type: ignore[assignment]  # optional module, checked before use

__all__ = ["RenderCache"]

_KEY: Final = re.compile(r"[0-9a-f]{64}")

Renderer = Callable[[RenderSpec, pathlib.Path], pathlib.Path]


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class RenderCache:
    """Render each distinct spec once; later calls return the stored file.

    Concurrency: one lock per key inside the process (so threads asking for the same
    video wait for a single render), plus an ``flock`` on ``.locks/<key>`` so worker
    processes sharing the directory do not duplicate work either.  Files appear via
    ``os.replace`` from a temp file, so readers never see a partial video.
    """

    def __init__(self, root: pathlib.Path, *, renderer: Renderer = render_video) -> None:
        self.root = pathlib.Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._renderer = renderer
        self._guard = threading.Lock()
        self._locks: dict[str, _KeyLock] = {}
        self._renders = 0
        self.purge_partials()

    @property
    def render_count(self) -> int:
        """How many renders this instance performed (cache misses)."""
        return self._renders

    @staticmethod
    def _check_key(key: str) -> str:
        # Keys become file names; hex-only makes path traversal impossible.
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError("cache key must be 64 lowercase hex characters")
        return key

    def path_for(self, spec: RenderSpec) -> pathlib.Path:
        key = self._check_key(spec.cache_key())
        return self.root / f"{key}.{EXTENSIONS[spec.output_format]}"

    def get(self, key: str) -> pathlib.Path | None:
        """The cached file for ``key`` if one exists (any format)."""
        self._check_key(key)
        for ext in EXTENSIONS.values():
            path = self.root / f"{key}.{ext}"
            if path.is_file():
                return path
        return None

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(key, _KeyLock())
            entry.users += 1
        try:
            with entry.lock, self._file_lock(key):
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if not entry.users:
                    del self._locks[key]

    @contextlib.contextmanager
    def _file_lock(self, key: str) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(exist_ok=True)
        # Lock files are never deleted: unlinking a lock file races with its waiters.
        fd = os.open(lock_dir / key, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def purge_partials(self, max_age: float = 3600.0) -> int:
        """Delete temp files left by renders that crashed; returns how many were removed.

        Only files older than ``max_age`` seconds go, so live renders in other processes
        (a few seconds each) are never touched.
        """
        removed = 0
        cutoff = time.time() - max_age
        for tmp in self.root.glob(".*.part"):
            with contextlib.suppress(FileNotFoundError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed += 1
        return removed

    def get_or_render(self, spec: RenderSpec) -> pathlib.Path:
        """Path of the rendered file for ``spec``, rendering it on the first request.

        Raises RenderError (from the renderer) if the spec cannot be rendered.
        """
        path = self.path_for(spec)
        if path.is_file():
            return path
        key = path.stem
        with self._locked(key):
            if not path.is_file():  # another thread/process may have finished meanwhile
                self._renderer(spec, path)
                with self._guard:
                    self._renders += 1
        return path

    def evict(self, key: str) -> bool:
        """Delete the cached file(s) for ``key``; True if anything was removed.

        Waits for an in-flight render of the same key, so it cannot resurrect afterwards.
        """
        self._check_key(key)
        removed = False
        with self._locked(key):
            for ext in EXTENSIONS.values():
                with contextlib.suppress(FileNotFoundError):
                    (self.root / f"{key}.{ext}").unlink()
                    removed = True
        return removed
