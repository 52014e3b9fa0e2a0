"""The checker process: the proxy's answers never wait for it or depend on it."""

from __future__ import annotations

import os
import signal
import time

import pytest
from ltxmock.validators import default_validator
from support.proxy import RunningProxy, proxy_to
from support.server import get_response, video_task

from ltxmock.proxy import checker as checker_module
from ltxmock.proxy.checker import Checker
from ltxmock.proxy.checks import Answered
from ltxmock.proxy.drift import DriftLog
from ltxmock.testing import MockServer


def test_the_checks_run_in_a_process_of_their_own(proxy: RunningProxy) -> None:
    checker = proxy.app.checker
    assert checker.alive
    assert checker.pid not in (None, os.getpid())


def test_a_dead_checker_costs_the_checks_not_the_answers(upstream: MockServer) -> None:
    with proxy_to(upstream.url) as proxy:
        checker = proxy.app.checker
        assert checker.pid is not None
        os.kill(checker.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while checker.alive and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not checker.alive
        task = video_task()
        assert proxy.post([task]).status_code == 200  # still forwarded and answered
        assert proxy.post([get_response(task["taskUUID"])]).status_code == 200
        report = proxy.drift()  # join returns at once: nothing is left to wait for
        assert report["unchecked"] == 4  # two requests and two answers
        assert report["total"] == 0


def test_closing_the_proxy_ends_its_checker(upstream: MockServer) -> None:
    with proxy_to(upstream.url) as proxy:
        assert proxy.post([video_task()]).status_code == 200
        checker = proxy.app.checker
    assert not checker.alive


def test_the_queue_is_bounded_in_bytes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checker_module, "QUEUE_BYTES", 64)
    drift = DriftLog()
    checker = Checker(default_validator().documents, drift)
    try:
        checker.put(Answered("rest", None, 200, b'{"data": []}' * 8, time.time()))  # 96 bytes
        assert drift.unchecked == 1
        checker.put(Answered("rest", None, 200, b'{"data": [1]}', time.time()))  # checked
        assert checker.join(10)
        assert drift.unchecked == 1
        assert drift.snapshot()["byRule"]["response-schema"] == 1
    finally:
        checker.close()
