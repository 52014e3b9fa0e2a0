"""Downloads that must render never starve the admin API (issue 13, point 3).

The ASGI app of ``ltxmock serve`` on uvicorn in a thread, with two bridge
threads: more downloads than that wait for renders held at a gate, and
``/__ltxmock/health``, fault rules and a reset are still answered, while every
one of those downloads is still waiting. No timing is asserted: the order is.
"""

from __future__ import annotations

import concurrent.futures as futures
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.renders import FakeEncoder, fake_bytes
from support.server import API_KEY, LiveServer, get_response, video_task

from ltxmock.server import MockConfig
from ltxmock.server.serve import cli, workers
from ltxmock.server.serve.asgi import create_asgi_app
from ltxmock.server.serve.threaded import ThreadedServer

DOWNLOADS = 6  # more than the bridge's threads
THREADS = 2
JSON = {"Content-Type": "application/json"}


class Live:
    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        config = MockConfig(
            latency=0, render_executor="thread", data_dir=tmp_path / "data", **settings
        )
        self.asgi = create_asgi_app(config, threads=THREADS)
        self.encoder = FakeEncoder()
        self.asgi.service.results.renderer = self.encoder
        self.server = ThreadedServer(self.asgi)
        self.base = f"http://127.0.0.1:{self.server.port}"

    def post(self, body: Any) -> requests.Response:
        headers = {**JSON, "Authorization": f"Bearer {API_KEY}"}
        return requests.post(f"{self.base}/v1", json=body, headers=headers, timeout=30)

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        url = f"{self.base}/__ltxmock{path}"
        return requests.request(method, url, json=body, headers=JSON, timeout=30)


@pytest.fixture(params=["lazy", "eager"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    # Eager with a backlog of 1: every result but the first is deferred, so its
    # download renders it, like every download in lazy mode.
    server = Live(tmp_path, render_mode=request.param, render_backlog=1)
    server.server.start()
    try:
        yield server
    finally:
        server.encoder.gate.set()
        server.server.stop()
        server.asgi.service.close()


def test_the_admin_api_answers_while_downloads_wait_for_renders(live: Live) -> None:
    live.encoder.gate.clear()  # every render waits until the end of the test
    tasks = [video_task(positivePrompt=f"wait {n}") for n in range(DOWNLOADS + 1)]
    for task in tasks:
        assert live.post([task]).status_code == 200
    polled = live.post([get_response(t["taskUUID"]) for t in tasks[1:]]).json()["data"]
    urls = {i["taskUUID"]: i["videoURL"] for i in polled if i["status"] == "success"}
    assert len(urls) == DOWNLOADS  # reported done at the latency, files not made yet
    with futures.ThreadPoolExecutor(DOWNLOADS) as pool:
        downloads = {
            uuid: pool.submit(requests.get, url, timeout=120) for uuid, url in urls.items()
        }
        health = live.admin("GET", "/health")
        assert health.status_code == 200
        assert live.admin("POST", "/faults", {"status": 503, "times": 1}).status_code < 300
        assert live.admin("DELETE", "/faults").status_code < 300
        assert not any(d.done() for d in downloads.values()), "downloads did not wait"
        live.encoder.gate.set()
        store, now = live.asgi.service.store, live.asgi.service.now()
        for uuid, done in downloads.items():
            response = done.result(timeout=120)
            assert response.status_code == 200
            record = store.tasks.get(uuid, now=now)
            assert record is not None
            assert response.content == fake_bytes(live.asgi.service.results.spec(record, 0))


def test_a_reset_is_answered_while_downloads_wait_for_renders(live: Live) -> None:
    live.encoder.gate.clear()
    tasks = [video_task(positivePrompt=f"reset {n}") for n in range(DOWNLOADS + 1)]
    for task in tasks:
        assert live.post([task]).status_code == 200
    polled = live.post([get_response(t["taskUUID"]) for t in tasks[1:]]).json()["data"]
    with futures.ThreadPoolExecutor(DOWNLOADS) as pool:
        downloads = [pool.submit(requests.get, i["videoURL"], timeout=120) for i in polled]
        deadline = time.monotonic() + 60
        while not live.encoder.waiting:  # a download is in, waiting for its render
            assert time.monotonic() < deadline, "no download reached a render"
            time.sleep(0.01)
        reset = live.admin("POST", "/reset")
        assert reset.status_code == 200
        assert reset.json() == {"reset": True}
        assert live.encoder.waiting  # answered while a download still waits
        live.encoder.gate.set()
        # A download already under way finishes; one that starts after the reset
        # finds no task: either way a JSON answer, never a hang.
        for done in downloads:
            response = done.result(timeout=120)
            assert response.status_code in (200, 404)
    assert live.post([get_response(tasks[1]["taskUUID"])]).status_code == 404


# -- the flags and the render processes' priority -------------------------------------
def test_the_flags_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[MockConfig] = []
    monkeypatch.setattr(workers, "serve", lambda config, **_: started.append(config) or 0)
    assert cli.main([]) == 0
    flags = ["--render-backlog", "3", "--media-budget", "1.5GiB", "--render-niceness", "4"]
    assert cli.main(flags) == 0
    default, flagged = started
    assert (default.render_backlog, default.media_budget) == (8, 100_000_000)
    assert default.render_niceness == cli.SERVE_RENDER_NICENESS == 19
    assert (flagged.render_backlog, flagged.media_budget, flagged.render_niceness) == (
        3,
        int(1.5 * 2**30),
        4,
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--media-budget", "lots"], "not a size"),
        (["--media-budget", "0"], "media_budget must be positive"),
        (["--render-backlog", "0"], "render_backlog must be >= 1"),
        (["--render-niceness", "20"], "render_niceness must be 0-19"),
    ],
)
def test_bad_values_stop_the_cli_with_the_reason(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(flags) == 2
    assert message in capsys.readouterr().err


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except OSError:
                continue
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_serve_runs_its_renders_niced_below_its_workers(tmp_path: Path) -> None:
    with LiveServer(
        "--workers", "1", latency=0, render_mode="eager", render_niceness=10, data_dir=tmp_path
    ) as server:
        assert server.post([video_task()]).status_code == 200
        assert server.process is not None
        deadline = time.monotonic() + 60
        while True:  # the render pool starts with the first render
            tree = {pid: int(_stat(pid)[16]) for pid in _descendants(server.process.pid)}
            if len(set(tree.values())) > 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    server_nice = int(_stat(os.getpid())[16])  # serve inherits the test's niceness
    assert sorted(set(tree.values())) == [server_nice, min(19, server_nice + 10)]
