"""The local mock of the Runware REST API for LTX-2 Fast (``ltxmock serve``).

    from ltxmock.server import create_app
    app = create_app(latency=0)
    service = app.extensions["ltxmock"]     # MockService: .handle, .faults, .journal

Layers, each a folder, imports pointing one way (``serve -> http -> core <- store``):
``core`` the protocol, ``store`` the SQLite adapters of its ports, ``http`` the
request parser and the Flask app, ``serve`` the runtimes. Names are imported on
first use, so ``ltxmock serve --help`` (and every other command) starts without
loading Flask.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.config import MockConfig
    from .core.fault_book import FaultBook
    from .core.faults import Fault
    from .core.journal import Journal
    from .core.ports import StoreError
    from .core.records import JournalEntry, TaskRecord
    from .core.reply import Reply
    from .core.request import ApiRequest
    from .core.service import MockService
    from .http.app import create_app, create_service

_WHERE = {
    "ApiRequest": "core.request",
    "create_app": "http.app",
    "create_service": "http.app",
    "MockConfig": "core.config",
    "Fault": "core.faults",
    "FaultBook": "core.fault_book",
    "Journal": "core.journal",
    "JournalEntry": "core.records",
    "MockService": "core.service",
    "Reply": "core.reply",
    "StoreError": "core.ports",
    "TaskRecord": "core.records",
}
__all__ = [
    "ApiRequest",
    "Fault",
    "FaultBook",
    "Journal",
    "JournalEntry",
    "MockConfig",
    "MockService",
    "Reply",
    "StoreError",
    "TaskRecord",
    "create_app",
    "create_service",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
