"""The pytest plugin, as another project's test suite would use it."""

from __future__ import annotations

import pytest

USING_THE_FIXTURE = """
import uuid, requests, pytest

TASK = {
    "taskType": "videoInference", "model": "lightricks:2@1", "positivePrompt": "a red fox",
    "width": 1920, "height": 1080, "duration": 6, "deliveryMethod": "async",
}

def submit(server, **extra):
    task = dict(TASK, taskUUID=str(uuid.uuid4()), **extra)
    r = requests.post(server.url, json=[task], headers={"Authorization": "Bearer k"})
    return task, r

def test_success_on_first_poll(ltxmock_server):
    task, r = submit(ltxmock_server)
    assert r.status_code == 200
    poll = [{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]
    r = requests.post(ltxmock_server.url, json=poll, headers={"Authorization": "Bearer k"})
    assert r.json()["data"][0]["status"] == "success"
    ltxmock_server.assert_submitted(times=1, positivePrompt="a red fox")
    ltxmock_server.assert_polled(task["taskUUID"], times=1)
    ltxmock_server.assert_no_unexpected_errors()

@pytest.mark.ltxmock(latency=60)
def test_marker_sets_latency(ltxmock_server):
    task, _ = submit(ltxmock_server)
    poll = [{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]
    r = requests.post(ltxmock_server.url, json=poll, headers={"Authorization": "Bearer k"})
    assert r.json()["data"][0]["status"] == "processing"

def test_injected_fault(ltxmock_server):
    ltxmock_server.respond_with(429)
    _, first = submit(ltxmock_server)
    _, second = submit(ltxmock_server)
    assert first.status_code == 429 and first.json()["errors"][0]["code"] == "rateLimitExceeded"
    assert second.status_code == 200
    ltxmock_server.assert_no_unexpected_errors()

def test_expectation_that_fails(ltxmock_server):
    submit(ltxmock_server, duration=8)
    ltxmock_server.assert_submitted(duration=10)
"""


def test_the_fixture_marker_faults_and_assertions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_client=USING_THE_FIXTURE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3, failed=1)
    # The failed expectation shows what was expected and what came instead.
    result.stdout.fnmatch_lines(
        [
            '*expected at least one task submitted with {"duration": 10}, found 0.*',
            '*"duration": 8*',
        ]
    )
