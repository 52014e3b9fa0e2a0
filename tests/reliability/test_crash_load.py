"""bench/crash_load.py, CI size: 8 clients submit 400 tasks (one in 50 with a webhook to
a local sink; a webhook waits for its video's render) against ``ltxmock serve
--workers 4`` on a data dir; the whole server gets SIGKILL when half are acked and
restarts on the same data dir. Every acked task is there and succeeds; every webhook
arrives at least once; no traceback in the server log."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "crash_load.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_load_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_kill_9_in_the_middle_loses_no_acked_task_and_no_webhook(tmp_path: Path) -> None:
    bench = load_bench()
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
