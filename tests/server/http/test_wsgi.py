"""create_app() under an external WSGI server, configured by the environment."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from support.server import get_response, video_task

from ltxmock.server import MockConfig


def test_settings_come_from_ltxmock_variables() -> None:
    config = MockConfig.from_env(
        {
            "LTXMOCK_DATA_DIR": "/tmp/ltx",
            "LTXMOCK_LATENCY": "0.5",
            "LTXMOCK_API_KEYS": "k1,k2",
            "LTXMOCK_RENDER_MODE": "lazy",
            "LTXMOCK_SPEC_DIR": "/elsewhere",  # another tool's variable: ignored
            "HOME": "/root",
        }
    )
    assert config.data_dir == Path("/tmp/ltx")
    assert config.latency == 0.5
    assert config.api_keys == ("k1", "k2")
    assert config.render_mode == "lazy"
    assert MockConfig.from_env({}) == MockConfig()


def test_a_bad_variable_says_which_and_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"LTXMOCK_LATENCY='soon': expected a float"):
        MockConfig.from_env({"LTXMOCK_LATENCY": "soon"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_gunicorn_workers_share_tasks_through_ltxmock_data_dir(tmp_path: Path) -> None:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if gunicorn is None:
        pytest.skip("gunicorn is not installed next to this Python")
    port = _free_port()
    env = {
        **os.environ,
        "LTXMOCK_DATA_DIR": str(tmp_path),
        "LTXMOCK_LATENCY": "0",
        "LTXMOCK_RENDER_MODE": "lazy",
    }
    server = subprocess.Popen(
        [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "ltxmock.server:create_app()"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": "Bearer k"}
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/__ltxmock/health", timeout=1)
                break
            except (requests.ConnectionError, requests.Timeout):  # still booting
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("gunicorn did not start:\n" + server.stderr.read().decode())
                time.sleep(0.05)
        task = video_task()
        assert requests.post(url, json=[task], headers=headers).status_code == 200
        # Fresh connections spread over both workers; every one must know the task.
        statuses = {
            requests.post(
                url,
                json=[get_response(task["taskUUID"])],
                headers={**headers, "Connection": "close"},
            ).json()["data"][0]["status"]
            for _ in range(20)
        }
        assert statuses == {"success"}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        assert server.stderr is not None
        assert b"Traceback" not in server.stderr.read()
