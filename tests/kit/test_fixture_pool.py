"""The plugin's fixtures as another project's suite uses them: one server per
session, each test isolated, marker settings at run time, Hypothesis-safe."""

from __future__ import annotations

import pytest

CLIENT = """
import json, uuid, urllib.request

TASK = {
    "taskType": "videoInference", "model": "lightricks:2@1", "positivePrompt": "a red fox",
    "width": 1920, "height": 1080, "duration": 6, "deliveryMethod": "async",
}

def post(server, body, key="k"):
    request = urllib.request.Request(
        server.url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())

def submit(server, key="k", **extra):
    task = dict(TASK, taskUUID=str(uuid.uuid4()), **extra)
    return task, post(server, [task], key)

def poll(server, task_uuid, key="k"):
    return post(server, [{"taskType": "getResponse", "taskUUID": task_uuid}], key)
"""

ISOLATION = """
import pytest
from client import submit, poll

SEEN = []

def test_first(ltxmock_server):
    SEEN.append(id(ltxmock_server))
    submit(ltxmock_server)
    ltxmock_server.respond_with(503, times=None)
    assert len(ltxmock_server.requests) == 1

@pytest.mark.ltxmock(latency=60, api_keys=["only-key"])
def test_marker_at_run_time(ltxmock_server):
    SEEN.append(id(ltxmock_server))
    _, (status, _) = submit(ltxmock_server, key="other")
    assert status == 401
    task, (status, _) = submit(ltxmock_server, key="only-key")
    assert status == 200
    _, answer = poll(ltxmock_server, task["taskUUID"], "only-key")
    assert answer["data"][0]["status"] == "processing"

def test_second_sees_nothing_of_the_others(ltxmock_server):
    SEEN.append(id(ltxmock_server))
    assert ltxmock_server.requests == []
    task, (status, _) = submit(ltxmock_server, key="any")
    assert status == 200  # no fault rule, no key list, latency 0 again
    assert poll(ltxmock_server, task["taskUUID"], "any")[1]["data"][0]["status"] == "success"

@pytest.mark.ltxmock(max_body_bytes=4096)
def test_a_setting_needing_its_own_server(ltxmock_server):
    SEEN.append(id(ltxmock_server))
    _, (status, _) = submit(ltxmock_server, positivePrompt="x" * 5000)
    assert status == 413

@pytest.mark.ltxmock(max_body_bytes=4096)
def test_the_same_setting_again(ltxmock_server):
    SEEN.append(id(ltxmock_server))
    assert ltxmock_server.requests == []

def test_one_server_per_distinct_configuration():
    assert SEEN[0] == SEEN[1] == SEEN[2]
    assert SEEN[3] == SEEN[4] != SEEN[0]

@pytest.mark.ltxmock(latency=60)
def test_a_reset_in_the_test_keeps_its_settings(ltxmock_server):
    submit(ltxmock_server)
    ltxmock_server.reset()
    assert ltxmock_server.requests == []
    task, _ = submit(ltxmock_server)
    assert poll(ltxmock_server, task["taskUUID"])[1]["data"][0]["status"] == "processing"

def test_and_the_next_test_has_the_defaults_again(ltxmock_server):
    task, _ = submit(ltxmock_server)
    assert poll(ltxmock_server, task["taskUUID"])[1]["data"][0]["status"] == "success"
"""


def test_one_server_for_the_session_each_test_as_new(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(client=CLIENT, test_isolation=ISOLATION)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=8)


def test_a_marker_typo_names_the_valid_settings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ltxmock(latnecy=1)
        def test_typo(ltxmock_server):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*unknown ltxmock setting 'latnecy' (did you mean 'latency'?); valid settings: *"]
    )
    result.stdout.no_fnmatch_line("*TypeError*")
    assert "api_keys" in result.stdout.str()
    assert "fail_on_rejected" in result.stdout.str()


def test_a_bad_value_is_reported_not_raised_as_a_traceback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ltxmock(latency=-1)
        def test_bad(ltxmock_server):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*latency must be >= 0 seconds*"])


HYPOTHESIS = """
from hypothesis import given, settings
from ltxmock.strategies import submittable_tasks
from client import post

@settings(max_examples=25, deadline=None)
@given(task=submittable_tasks())
def test_every_generated_task_is_accepted(ltxmock_session, task):
    status, body = post(ltxmock_session, [task])
    assert status == 200, body
    ltxmock_session.assert_submitted(taskUUID=task["taskUUID"], times=1)

def test_next_test_starts_empty(ltxmock_session):
    assert ltxmock_session.requests == []
"""


def test_the_session_fixture_passes_hypothesis_health_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(client=CLIENT, test_given=HYPOTHESIS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*FailedHealthCheck*")


FAIL_ON_REJECTED = """
import pytest
from client import submit

@pytest.mark.ltxmock(fail_on_rejected=True)
def test_a_refused_request_fails_the_test(ltxmock_server):
    submit(ltxmock_server, duration=7)  # 400 unsupportedDuration: the client never checks

@pytest.mark.ltxmock(fail_on_rejected=True)
def test_an_injected_fault_is_expected(ltxmock_server):
    ltxmock_server.respond_with(429)
    _, (status, _) = submit(ltxmock_server)
    assert status == 429

def test_off_by_default(ltxmock_server):
    submit(ltxmock_server, duration=7)
"""


def test_fail_on_rejected_fails_the_test_naming_the_refusal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(client=CLIENT, test_rejected=FAIL_ON_REJECTED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*the mock rejected 1 request(s) it was not told to*", "*unsupportedDuration*"]
    )


def test_the_ini_option_turns_the_check_on(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nltxmock_fail_on_rejected = true\n")
    pytester.makepyfile(client=CLIENT, test_rejected=FAIL_ON_REJECTED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1, failed=2)


QUIET = """
import logging
from client import submit

def test_fails_to_show_the_captured_output(ltxmock_server):
    for _ in range(3):
        submit(ltxmock_server)
    ltxmock_server.app.test_client().get("/no/such/page")
    assert False
"""


def test_quiet_no_access_lines_nor_colour_codes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(client=CLIENT, test_quiet=QUIET)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "--log-level=INFO")
    result.assert_outcomes(failed=1)
    text = result.stdout.str() + result.stderr.str()
    assert "\x1b[" not in text
    assert "POST /v1" not in text
    assert "HTTP/1.1" not in text
