"""bench/ws_concurrency.py, smaller: 50 WebSocket clients against a real ``ltxmock serve``.

Every client is connected at the same time (each open socket holds a server
thread), then each submits a task and polls it to success. No task
may be lost, no socket may hang, and the server must hold no connection
once the clients are gone.
"""

from __future__ import annotations

import pytest
from support.bench import load_bench

CLIENTS = 50


@pytest.mark.slow
def test_50_concurrent_clients_on_ltxmock_serve() -> None:
    bench = load_bench("ws_concurrency.py")
    with bench.serve(latency=0.5) as port:
        result = bench.run_bench(
            f"ws://127.0.0.1:{port}/v1", CLIENTS, server_port=port, time_limit=30
        )
    assert result.ok, result.table()
    assert result.succeeded == result.peak_open == CLIENTS
    assert result.lingering == 0
