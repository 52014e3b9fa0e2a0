"""bench/crash_load.py, CI size: 8 clients submit 400 tasks (one in 10 with a webhook to
a local sink; a webhook waits for its task's 2 s and its video's render) against
``ltxmock serve --workers 4`` on a data dir; the whole server gets SIGKILL when half
are acked and restarts on the same data dir. Every acked task is there and succeeds;
every webhook arrives at least once, those still pending at the kill too; no
traceback in the server log."""

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
        latency=2.0,  # the webhooks of the tasks acked in the last 2 s are pending at the kill
        webhook_every=10,
        kill=True,
        time_limit=120,
        data_root=tmp_path,
    )
    print(bench.table([result]))  # the figures, with pytest -s
    assert result.ok, bench.table([result]) + f"\nlost {result.lost[:5]}"
    assert 0 < result.acked_before_kill < result.tasks  # the kill came in the middle
    assert result.acked == result.tasks
    assert result.webhooks == 40
    assert result.webhooks_pending_at_kill > 0  # the kill caught some undelivered
