"""The legacy ``runware`` 0.5.24 SDK (WebSocket only), unmodified.

It installs the import name ``runware`` just like ``runware-sdk``, so the two
cannot share an environment: this module builds a private venv with
``runware==0.5.24`` (once, cached per SDK and Python version under
``$LTXMOCK_SDK_CACHE`` or ``~/.cache/ltxmock``, guarded by a file lock for
parallel workers) and runs a small driver in it as a subprocess. The SDK is
pointed at the mock with ``Runware(api_key=..., url="ws://127.0.0.1:P/v1")``
and sped up only through its own timing environment variables.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.server import API_KEY, video_task

from ltxmock.testing import MockServer

pytestmark = pytest.mark.sdk

LEGACY = "runware==0.5.24"
# Read by the SDK at import time, in ms. It drops "processing" poll answers and
# waits VIDEO_INITIAL_TIMEOUT for a result before polling again after
# VIDEO_POLLING_DELAY: 30 s + 3 s by default, so make both short.
SPEED_KNOBS = {"RUNWARE_VIDEO_INITIAL_TIMEOUT": "1000", "RUNWARE_VIDEO_POLLING_DELAY": "100"}
DRIVER = """
import asyncio, json, sys
from dataclasses import asdict
from runware import IVideoInference, Runware, RunwareAPIError

async def main():
    job = json.loads(sys.argv[1])
    runware = Runware(api_key=job["apiKey"], url=job["url"])
    try:
        await runware.connect()
        ack = await runware.videoInference(requestVideo=IVideoInference(**job["params"]))
        videos = await runware.getResponse(taskUUID=ack.taskUUID, numberResults=1)
        out = {"ok": True, "ack": asdict(ack), "result": [asdict(v) for v in videos]}
    except RunwareAPIError as exc:
        out = {"ok": False, "error": exc.error_data}
    except Exception as exc:
        out = {"ok": False, "error": {"exception": type(exc).__name__, "message": str(exc)}}
    finally:
        await runware.disconnect()
    print(json.dumps(out))

asyncio.run(main())
"""


def cache_root() -> Path:
    configured = os.environ.get("LTXMOCK_SDK_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ltxmock"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def _build(venv: Path) -> str | None:
    """Create ``venv`` with the legacy SDK; the error output if that fails."""
    # Fast path: a venv without pip, filled by this interpreter's pip (--python).
    steps = [
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        [sys.executable, "-m", "pip", "--python", str(venv_python(venv)), "install",
         "--quiet", "--disable-pip-version-check", LEGACY],
    ]  # fmt: skip
    for step in steps:
        done = _run(step)
        if done.returncode != 0:
            if "--python" not in done.stderr:
                return (done.stderr or done.stdout)[-2000:]
            break
    else:
        return None
    # Slow path, for a pip older than --python (22.3): a venv with its own pip.
    shutil.rmtree(venv, ignore_errors=True)
    for step in (
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv_python(venv)), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", LEGACY],
    ):  # fmt: skip
        done = _run(step)
        if done.returncode != 0:
            return (done.stderr or done.stdout)[-2000:]
    return None


def legacy_venv() -> Path:
    """The cached venv holding the legacy SDK (built on first use); skips if impossible."""
    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    root = cache_root()
    venv = root / f"{LEGACY.replace('==', '-')}-{version}"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        pytest.skip(f"cannot create the SDK cache {root}: {exc}")
    with (root / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; other workers wait, then reuse
        complete = venv / ".ltxmock-complete"  # written last: a half-built venv is redone
        if complete.exists() and venv_python(venv).exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        problem = _build(venv)
        if problem is not None:
            shutil.rmtree(venv, ignore_errors=True)
            pytest.skip(f"could not install {LEGACY} into a private venv (offline?):\n{problem}")
        complete.touch()
    return venv


@pytest.fixture(scope="session")
def legacy_python() -> Path:
    return venv_python(legacy_venv())


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(latency=1.0, api_keys=[API_KEY]) as running:
        yield running


def drive(legacy_python: Path, tmp_path: Path, job: dict[str, Any]) -> dict[str, Any]:
    script = tmp_path / "legacy_driver.py"
    script.write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(SPEED_KNOBS, PYTHONNOUSERSITE="1")
    done = subprocess.run(
        [str(legacy_python), str(script), json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def legacy_params(**changes: Any) -> dict[str, Any]:
    """IVideoInference fields (the SDK adds taskType itself)."""
    params = video_task(includeCost=True, **changes)
    del params["taskType"]
    return params


def test_a_1080p_6s_video_with_cost(
    legacy_python: Path, tmp_path: Path, server: MockServer
) -> None:
    params = legacy_params()
    outcome = drive(
        legacy_python, tmp_path, {"url": server.ws_url, "apiKey": API_KEY, "params": params}
    )
    assert outcome["ok"], outcome
    assert outcome["ack"] == {"taskType": "videoInference", "taskUUID": params["taskUUID"]}
    (video,) = outcome["result"]
    assert video["status"] == "success"
    assert video["taskUUID"] == params["taskUUID"]
    assert uuid.UUID(video["videoUUID"])
    assert video["videoURL"].startswith(f"http://127.0.0.1:{server.port}/")
    assert isinstance(video["cost"], float)
    server.assert_submitted(times=1, taskUUID=params["taskUUID"], duration=6, height=1080)
    server.assert_polled(params["taskUUID"])


def test_an_unsupported_duration_is_an_api_error(
    legacy_python: Path, tmp_path: Path, server: MockServer
) -> None:
    params = legacy_params(duration=7)
    outcome = drive(
        legacy_python, tmp_path, {"url": server.ws_url, "apiKey": API_KEY, "params": params}
    )
    assert not outcome["ok"]
    error = outcome["error"]
    assert error["code"] == "unsupportedDuration"
    assert error["parameter"] == "duration"
    assert error["taskUUID"] == params["taskUUID"]
