"""The store tests' fixture: ``stores``, the stores a test opened, closed after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ltxmock.server.store import SqliteStore


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list[SqliteStore]]:
    """Opens stores on ``tmp_path`` (``stores.append(...)``) and closes them after."""
    opened: list[SqliteStore] = []
    yield opened
    for store in opened:
        store.close()
