"""bench/crash_load.py, CI size: 8 clients submit 400 tasks (one in 50 with a webhook to
a local sink; a webhook waits for its video's render) against ``ltxmock serve
--workers 4`` on a data dir; the whole server gets SIGKILL when half are acked and
restarts on the same data dir. Every acked task is there and succeeds; every webhook
arrives at least once; no traceback in the server log."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.bench import load_bench


@pytest.mark.slow
def test_kill_9_in_the_middle_loses_no_acked_task_and_no_webhook(tmp_path: Path) -> None:
    bench = load_bench("crash_load.py")
    result = bench.run(
        clients=8,
        tasks=400,
        workers=4,
        latency=0.5,
        webhook_every=50,
        kill=True,
        time_limit=120,
        data_root=tmp_path,
    )
    print(bench.table([result]))  # the figures, with pytest -s
    assert result.ok, bench.table([result]) + f"\nlost {result.lost[:5]}"
    assert 0 < result.acked_before_kill < result.tasks  # the kill came in the middle
    assert result.acked == result.tasks
    assert result.webhooks == 8
