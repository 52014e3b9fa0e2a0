"""The local mock of the Runware REST API for LTX-2 Fast (``ltxmock serve``).

    from ltxmock.server import create_app
    app = create_app(latency=0)
    service = app.extensions["ltxmock"]     # MockService: .handle, .faults, .journal

Names are imported on first use, so ``ltxmock serve --help`` (and every other
``ltxmock`` command) starts without loading Flask.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .config import MockConfig
    from .faults import Fault, FaultBook
    from .journal import Journal, JournalEntry
    from .service import MockService, Reply
    from .store import StoreError, TaskRecord, TaskStore

_WHERE = {
    "create_app": "app",
    "MockConfig": "config",
    "Fault": "faults",
    "FaultBook": "faults",
    "Journal": "journal",
    "JournalEntry": "journal",
    "MockService": "service",
    "Reply": "service",
    "StoreError": "store",
    "TaskRecord": "store",
    "TaskStore": "store",
}
__all__ = [
    "Fault",
    "FaultBook",
    "Journal",
    "JournalEntry",
    "MockConfig",
    "MockService",
    "Reply",
    "StoreError",
    "TaskRecord",
    "TaskStore",
    "create_app",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
