"""Schemathesis, an outside tool, against a live ``ltxmock serve``: every check, positive
and negative cases, a fixed seed, more than 1,000 cases.

The run must find nothing but the two failures RELIABILITY.md documents as the OpenAPI
document's own faults: an empty task array and one longer than ``--max-tasks-per-request``
(both schema-valid, both refused with 400; ``is_documented_fault``). The replayed
taskUUIDs Schemathesis draws, answered ``conflictTaskUUID`` as the real API does, are
kept out by a hook (``schemathesis_hooks.py``). Webhook and
upload targets are held to a closed loopback port (``--callback-allow``), so the
``https://…`` URLs Schemathesis generates are refused at once, never contacted.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.server import LiveServer

from ltxmock.server import MockConfig

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
SPEC = Path(__file__).parents[2] / "spec" / "lightricks-ltx-2-fast.openapi.json"
KEY = "schemathesis-key-4c1d"
SEED = 1
TASK_CAP = MockConfig().max_tasks_per_request  # what `serve` runs with by default
MAX_EXAMPLES = 800  # per phase and mode; with the coverage phase about 1,150 cases


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("schemathesis-data")
    args = ("--api-key", KEY, "--callback-allow", "127.0.0.1:9", "--workers", "2")
    with LiveServer(*args, latency=0.2, data_dir=data) as live:
        yield live


def run_schemathesis(url: str, reports: Path) -> dict[str, Any]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        str(SPEC),
        "--url",
        url,
        "--header",
        f"Authorization: Bearer {KEY}",
        "--checks",
        "all",
        "--mode",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-database",
        "none",
        "--continue-on-failure",
        "--request-timeout",
        "10",
        "--no-color",
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(reports / "run.json"),
        "--report-ndjson-path",
        str(reports / "events.ndjson"),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    done = subprocess.run(
        command, cwd=reports, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode in (0, 1), done.stdout[-4000:] + done.stderr[-4000:]
    summary: dict[str, Any] = json.loads((reports / "run.json").read_text())
    summary["stdout"] = done.stdout
    return summary


def failed_interactions(events: Path) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(check name, request, response) of every check that did not pass."""
    for line in events.read_text().splitlines():
        event = json.loads(line) if line.strip() else {}
        recorder = event.get("ScenarioFinished", {}).get("recorder", {})
        for case_id, checks in recorder.get("checks", {}).items():
            interaction = recorder.get("interactions", {}).get(case_id, {})
            for check in checks:
                if check.get("status") != "success":
                    yield (
                        check["name"],
                        interaction.get("request", {}),
                        interaction.get("response") or {},
                    )


def decoded(part: dict[str, Any], key: str) -> Any:
    raw = part.get(key)
    if isinstance(raw, dict) and "$base64" in raw:
        try:
            return json.loads(base64.b64decode(raw["$base64"]))
        except ValueError:
            return None
    return raw


def is_documented_fault(check: str, request: dict[str, Any], response: dict[str, Any]) -> bool:
    """The document's own faults (RELIABILITY.md says why): ``RequestBody`` is an array
    with neither ``minItems`` nor ``maxItems``, so Schemathesis takes ``[]`` and arrays of
    any length for valid requests. A request of no task has nothing to run and gets 400
    ``invalidRequestBody``; one of more tasks than ``--max-tasks-per-request`` (issue 13's
    bounded cost per request) gets 400 ``tooManyTasks`` before any is validated."""
    if check != "positive_data_acceptance" or response.get("status_code") != 400:
        return False
    body = decoded(request, "body")
    codes = [e.get("code") for e in (decoded(response, "content") or {}).get("errors", [])]
    if body == []:
        return codes == ["invalidRequestBody"]
    return isinstance(body, list) and len(body) > TASK_CAP and codes == ["tooManyTasks"]


def test_schemathesis_finds_only_the_documents_own_faults(
    server: LiveServer, tmp_path: Path
) -> None:
    summary = run_schemathesis(server.url, tmp_path)
    generated = summary["test_cases"]["generated"]
    assert generated >= 1000, summary["test_cases"]
    assert summary["complete"], summary["stop_reason"]
    assert not summary["errors"], summary["errors"]
    undocumented = [
        (check, decoded(request, "body"), response.get("status_code"), decoded(response, "content"))
        for check, request, response in failed_interactions(tmp_path / "events.ndjson")
        if not is_documented_fault(check, request, response)
    ]
    assert not undocumented, json.dumps(undocumented[:5], indent=1)[:6000]
    # The server stayed healthy (LiveServer also asserts no traceback in its log).
    assert server.get("/__ltxmock/health").status_code == 200
