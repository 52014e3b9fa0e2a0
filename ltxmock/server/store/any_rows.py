"""Whether a table has any row, cached against the change marker (``marker.py``)."""

from __future__ import annotations

from .engine import Engine
from .marker import ChangeMarker


class AnyRows:
    """Whether a table has any row, asked on every request: cached per process
    against the marker's version, so usually answered without a query."""

    def __init__(self, engine: Engine, marker: ChangeMarker, table: str) -> None:
        self._engine = engine
        self._marker = marker
        self._query = f"SELECT 1 FROM {table} LIMIT 1"
        self._cache: tuple[int, bool] | None = None  # (marker version, answer)

    def __call__(self) -> bool:
        version = self._marker.version()
        cached = self._cache
        if version is not None and cached is not None and cached[0] == version:
            return cached[1]
        with self._engine.reading() as conn:
            found = conn.execute(self._query).fetchone() is not None
        if version is not None:
            self._cache = (version, found)  # read before the query: never newer
        return found
