"""The kit outside pytest: a plain script, the console script's --version."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

# No ``if __name__ == "__main__"`` guard, on purpose: a render process started
# by spawn would import this script again (the banner twice) and lose the work.
PLAIN_SCRIPT = """
import json, sys, urllib.request, uuid
from ltxmock.testing import MockServer

print("script body runs", flush=True)
task = {"taskType": "videoInference", "taskUUID": str(uuid.uuid4()), "model": "lightricks:2@1",
        "positivePrompt": "a red fox", "width": 1920, "height": 1080, "duration": 6,
        "deliveryMethod": "async"}

def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        return json.loads(reply.read())

with MockServer(latency=0, render_mode="eager") as mock:
    post(mock.url, [task])
    for _ in range(600):
        item = post(mock.url, [{"taskType": "getResponse", "taskUUID": task["taskUUID"]}])
        if item["data"][0]["status"] == "success":
            break
        import time; time.sleep(0.05)
    url = item["data"][0]["videoURL"]
    with urllib.request.urlopen(url) as reply:
        print("video bytes", len(reply.read()), flush=True)
"""

MANY_STOPS = """
from ltxmock.testing import MockServer

for _ in range(12):
    with MockServer(latency=0) as mock:
        mock.service.results.load()
print("stopped cleanly", flush=True)
"""


def _run(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, "-W", "default", str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )


@pytest.mark.slow
def test_a_plain_script_without_a_main_guard_runs_once_and_gets_its_video(
    tmp_path: Path,
) -> None:
    done = _run(tmp_path, PLAIN_SCRIPT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("script body runs") == 1
    size = int(done.stdout.split("video bytes")[1])
    assert size > 1000


def test_many_stops_leave_no_leaked_semaphores_nor_warnings(tmp_path: Path) -> None:
    done = _run(tmp_path, MANY_STOPS)
    assert done.returncode == 0, done.stderr
    assert "stopped cleanly" in done.stdout
    assert "leaked" not in done.stderr
    assert "Warning" not in done.stderr, done.stderr


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ltxmock", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"ltxmock {importlib.metadata.version('ltxmock')}"
