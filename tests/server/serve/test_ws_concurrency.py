"""bench/ws_concurrency.py, smaller: 50 WebSocket clients against a real ``ltxmock serve``.

Every client is connected at the same time (each open socket holds a server
thread), then each submits a task and polls it to success. No task
may be lost, no socket may hang, and the server must hold no connection
once the clients are gone.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[3] / "bench" / "ws_concurrency.py"
CLIENTS = 50


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ws_concurrency_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_50_concurrent_clients_on_ltxmock_serve() -> None:
    bench = load_bench()
    with bench.serve(latency=0.5) as port:
        result = bench.run_bench(
            f"ws://127.0.0.1:{port}/v1", CLIENTS, server_port=port, time_limit=30
        )
    assert result.ok, result.table()
    assert result.succeeded == result.peak_open == CLIENTS
    assert result.lingering == 0
