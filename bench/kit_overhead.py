"""Per-test cost of the pytest fixture: ltxmock_server beside pytest-httpserver.

A generated pytest project holds N tests per variant; each variant runs in a
pytest subprocess of its own, whose conftest adds up each test's setup, call
and teardown times (pytest's own report durations: the interpreter's start and
collection, equal for every variant and noisy on a busy machine, are left
out). A variant's overhead per test is its mean minus the empty variant's;
the first test's setup, which starts a server, is part of the mean, so the
session's one-time cost is spread over the N tests. The median of several
rounds, all in one run:

* ``empty``: ``def test_i(): pass`` (the baseline: pytest's own cost);
* ``ltxmock_server``: the plugin's fixture, a submit and a poll per test;
* ``one MockServer per test``: what the fixture did before (a server built,
  started and stopped for each test), the same submit and poll;
* ``pytest-httpserver``: its ``httpserver`` fixture, two ordered expectations
  (the ack and the poll answer) and the same two requests.

Every request goes to 127.0.0.1 through one ``requests.Session``.
Run from the repository root:  python bench/kit_overhead.py [--tests 100] [--rounds 3]
(needs pytest-httpserver: pip install pytest-httpserver).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Target, log, report

TARGET_MS = 30.0

PRELUDE = """
import uuid
import pytest
import requests

SESSION = requests.Session()
HEADERS = {"Authorization": "Bearer bench-key"}
TASK = {
    "taskType": "videoInference", "model": "lightricks:2@1",
    "positivePrompt": "A lighthouse on a basalt cliff at dusk", "width": 1920,
    "height": 1080, "duration": 6, "deliveryMethod": "async",
}

def submit_and_poll(url):
    uid = str(uuid.uuid4())
    ack = SESSION.post(url, json=[dict(TASK, taskUUID=uid)], headers=HEADERS)
    assert ack.status_code == 200, ack.text
    poll = [{"taskType": "getResponse", "taskUUID": uid}]
    done = SESSION.post(url, json=poll, headers=HEADERS)
    assert done.json()["data"][0]["status"] == "success", done.text
    return uid
"""

BODIES = {
    "empty": "def test_{i}():\n    pass\n",
    "ltxmock_server": "def test_{i}(ltxmock_server):\n    submit_and_poll(ltxmock_server.url)\n",
    "one MockServer per test": (
        "def test_{i}(server_per_test):\n    submit_and_poll(server_per_test.url)\n"
    ),
    "pytest-httpserver": """def test_{i}(httpserver):
    uid = str(uuid.uuid4())
    ack = {{"data": [{{"taskType": "videoInference", "taskUUID": uid}}]}}
    done = {{"data": [{{"taskType": "videoInference", "taskUUID": uid, "status": "success"}}]}}
    httpserver.expect_ordered_request("/v1", method="POST").respond_with_json(ack)
    httpserver.expect_ordered_request("/v1", method="POST").respond_with_json(done)
    url = httpserver.url_for("/v1")
    got = SESSION.post(url, json=[dict(TASK, taskUUID=uid)], headers=HEADERS)
    assert got.status_code == 200
    got = SESSION.post(url, json=[{{"taskType": "getResponse", "taskUUID": uid}}], headers=HEADERS)
    assert got.json()["data"][0]["status"] == "success"
""",
}

# What ltxmock_server did before the server pool: a server per test, renders in
# a process pool.
PER_TEST_FIXTURE = """
@pytest.fixture
def server_per_test():
    from ltxmock.testing import MockServer
    with MockServer(latency=0, render_executor="process") as server:
        yield server
"""


def write_project(root: Path, tests: int) -> dict[str, Path]:
    files = {}
    for n, (variant, body) in enumerate(BODIES.items()):
        path = root / f"test_variant_{n}.py"
        source = PRELUDE + (PER_TEST_FIXTURE if "per test" in variant else "")
        source += "\n" + "\n".join(body.format(i=i) for i in range(tests))
        path.write_text(source)
        files[variant] = path
    (root / "conftest.py").write_text(CONFTEST)
    return files


# Sums each test's setup + call + teardown into the file named by the variable.
CONFTEST = """
import json, os

TOTAL = {"seconds": 0.0, "tests": 0, "first": 0.0}

def pytest_runtest_logreport(report):
    TOTAL["seconds"] += report.duration
    if TOTAL["tests"] == 0:
        TOTAL["first"] += report.duration
    if report.when == "teardown":
        TOTAL["tests"] += 1

def pytest_sessionfinish(session):
    with open(os.environ["KIT_BENCH_OUT"], "w") as out:
        json.dump(TOTAL, out)
"""


def run(path: Path) -> tuple[float, float, float]:
    """(seconds in tests, in the tests after the first, wall seconds) of one pytest run."""
    out = path.with_suffix(".json")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", str(path)],
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KIT_BENCH_OUT": str(out)},
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{path.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    totals = json.loads(out.read_text())
    return float(totals["seconds"]), float(totals["seconds"] - totals["first"]), wall


def measure(tests: int, rounds: int) -> dict[str, tuple[float, float, float]]:
    """Median (seconds in tests, after the first, wall seconds) of each variant's runs."""
    times: dict[str, list[tuple[float, float, float]]] = {variant: [] for variant in BODIES}
    with tempfile.TemporaryDirectory(prefix="ltxmock-kit-bench-") as tmp:
        files = write_project(Path(tmp), tests)
        for r in range(rounds):
            for variant, path in files.items():  # interleaved: drift hits every variant
                times[variant].append(run(path))
                inside, _, wall = times[variant][-1]
                log(f"round {r + 1}: {variant}: {inside:.2f} s in tests, {wall:.2f} s wall")
    return {
        variant: (
            statistics.median(t for t, _, _ in samples),
            statistics.median(a for _, a, _ in samples),
            statistics.median(w for _, _, w in samples),
        )
        for variant, samples in times.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=100, help="tests per variant (>= 2)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    medians = measure(args.tests, args.rounds)
    n = args.tests
    base, base_after, _ = medians["empty"]
    per_test = {v: max(0.0, (t - base) / n * 1000) for v, (t, _, _) in medians.items()}
    steady = {v: max(0.0, (a - base_after) / (n - 1) * 1000) for v, (_, a, _) in medians.items()}
    reference = per_test["pytest-httpserver"] or 1e-9
    print(f"\n{n} tests per variant, median of {args.rounds} rounds; overhead per test in ms")
    print(
        f"{'variant':<26}{'wall (s)':>10}{'in tests (s)':>14}{'overhead':>10}"
        f"{'x httpserver':>14}{'after the 1st':>15}"
    )
    for variant in BODIES:
        inside, _, wall = medians[variant]
        if variant == "empty":
            print(f"{variant:<26}{wall:>10.2f}{inside:>14.2f}{'-':>10}{'-':>14}{'-':>15}")
            continue
        ratio = per_test[variant] / reference
        print(
            f"{variant:<26}{wall:>10.2f}{inside:>14.2f}{per_test[variant]:>10.1f}"
            f"{ratio:>14.2f}{steady[variant]:>15.1f}"
        )
    return report(
        [Target("ltxmock_server overhead per test", per_test["ltxmock_server"], TARGET_MS, "ms")]
    )


if __name__ == "__main__":
    sys.exit(main())
