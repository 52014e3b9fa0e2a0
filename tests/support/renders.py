"""A stand-in encoder for tests of render scheduling: deterministic bytes per render
spec, in milliseconds, optionally held at a gate (``Renders.renderer``, thread
executor only)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

from ltxmock.media import RenderSpec

FAKE_SIZE = 50_000


def fake_bytes(spec: RenderSpec) -> bytes:
    """What ``FakeEncoder`` writes for ``spec``: a function of the spec alone."""
    seed = hashlib.sha256(spec.cache_key().encode()).digest()
    return (seed * (FAKE_SIZE // len(seed) + 1))[:FAKE_SIZE]


class FakeEncoder:
    """Counts its renders; ``gate.clear()`` holds every render until ``gate.set()``."""

    def __init__(self, delay: float = 0.002) -> None:
        self.delay = delay
        self.count = 0
        self.waiting = 0  # renders held at the gate now
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def __call__(self, spec: RenderSpec, dest: Path) -> Path:
        with self._lock:
            self.waiting += 1
        self.gate.wait(60)
        with self._lock:
            self.waiting -= 1
        time.sleep(self.delay)
        part = dest.with_name(f".{dest.name}.part")
        part.write_bytes(fake_bytes(spec))
        os.replace(part, dest)
        with self._lock:
            self.count += 1
        return dest
