"""``ltxmock serve`` stops cleanly however it is asked: one goodbye line, exit 0,
and no false "Worker was sent SIGKILL! Perhaps out of memory?"."""

from __future__ import annotations

import signal
import time

import pytest
from support.server import LiveServer, video_task


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["kill-INT", "ctrl-c", "sigterm"],
)
def test_two_workers_stop_with_one_goodbye_and_no_false_error(sig: int, group: bool) -> None:
    live = LiveServer("--workers", "2", latency=0).start()
    assert live.post([{"taskType": "ping"}]).status_code == 200
    assert live.stop(sig, group=group) == 0
    assert live.later_stdout() == ["ltxmock: stopped.\n"]
    assert "SIGKILL" not in live.log
    assert "Error" not in live.log
    assert "Traceback" not in live.log


@pytest.mark.slow
def test_ctrl_c_while_videos_render_prints_no_traceback() -> None:
    # Ctrl-C reaches the render processes too (the terminal signals the whole group):
    # started with it ignored, none prints a KeyboardInterrupt or an EOFError; and
    # the quick exit's "leaked semaphore" false alarm stays out of the log.
    for pause in (0.0, 0.1, 0.3):
        live = LiveServer("--workers", "2", latency=0, render_mode="eager").start()
        for _ in range(4):
            assert live.post([video_task()]).status_code == 200
        time.sleep(pause)
        assert live.stop(signal.SIGINT, group=True) == 0
        for trace in ("Traceback", "KeyboardInterrupt", "EOFError", "SIGKILL", "leaked"):
            assert trace not in live.log, live.log
