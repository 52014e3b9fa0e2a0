"""Fault injection: every documented error status, task failures, rules, the admin API."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.server import FakeClock, MockClient, get_response, video_task

from ltxmock.server import Fault, MockConfig, MockService, create_app
from ltxmock.server.core.faults import FAULT_HEADER
from ltxmock.server.http.app import service_of

DOCUMENTED = [
    (402, "insufficientCredits"),
    (403, "insufficientPermissions"),
    (429, "rateLimitExceeded"),
    (500, "internalServerError"),
    (503, "serviceUnavailable"),
    (504, "timeout"),
]


@pytest.mark.parametrize(("status", "code"), DOCUMENTED)
def test_the_fault_header_produces_each_documented_error_status(
    client: MockClient, service: MockService, status: int, code: str
) -> None:
    task = video_task()
    answer = client.submit(task, headers={FAULT_HEADER: str(status)})
    assert answer.status == status
    (error,) = answer.body["errors"]
    assert set(answer.body) == {"errors"}
    assert error["code"] == code
    assert error["message"]
    assert error["taskUUID"] == task["taskUUID"]
    assert error["taskType"] == "videoInference"
    assert error["documentation"].startswith("https://runware.ai/docs/")
    assert "Retry-After" not in answer.headers
    assert service.journal.last().fault == f"{status}:{code}"  # type: ignore[union-attr]
    assert client.poll(task["taskUUID"]).codes == ["taskNotFound"]  # nothing was accepted


def test_a_fault_header_can_name_its_own_code(client: MockClient) -> None:
    answer = client.post(
        [{"taskType": "ping"}], headers={FAULT_HEADER: "429:providerRateLimitExceeded"}
    )
    assert (answer.status, answer.codes) == (429, ["providerRateLimitExceeded"])


def test_an_injected_401_has_the_invalid_api_key_body(client: MockClient) -> None:
    answer = client.post([{"taskType": "ping"}], headers={FAULT_HEADER: "401"})
    assert (answer.status, answer.errors[0]["parameter"]) == (401, "apiKey")


@pytest.mark.parametrize("value", ["teapot", "200", "418", "5o3", "-429"])
def test_an_unreadable_fault_header_is_400_invalid_fault(client: MockClient, value: str) -> None:
    answer = client.post([{"taskType": "ping"}], headers={FAULT_HEADER: value})
    assert (answer.status, answer.codes) == (400, ["invalidFault"])
    assert answer.errors[0]["parameter"] == FAULT_HEADER


def test_a_task_fault_makes_the_task_fail_when_polled_after_its_latency(
    client: MockClient, clock: FakeClock
) -> None:
    task = video_task()
    ack = client.submit(task, headers={FAULT_HEADER: "task:timeoutProvider"})
    assert ack.body == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    assert client.poll(task["taskUUID"]).statuses == ["processing"]
    clock.advance(3.0)
    failed = client.poll(task["taskUUID"])
    assert failed.status == 200
    assert failed.body == {
        "errors": [
            {
                "code": "timeoutProvider",
                "message": "The external provider did not respond within the timeout window. "
                "The request was automatically terminated.",
                "documentation": "https://runware.ai/docs/en/video-inference/api-reference",
                "taskUUID": task["taskUUID"],
                "taskType": "videoInference",
                "status": "error",
            }
        ]
    }
    assert client.poll(task["taskUUID"]).body == failed.body  # stays failed


def test_fault_rules_fire_the_given_number_of_times(
    client: MockClient, service: MockService
) -> None:
    rule = service.faults.respond_with(429, times=2)
    assert rule.id is not None
    ping = [{"taskType": "ping"}]
    assert [client.post(ping).status for _ in range(3)] == [429, 429, 200]
    assert service.faults.all() == []


def test_a_rule_for_a_task_type_spares_other_requests(
    client: MockClient, service: MockService
) -> None:
    service.faults.respond_with(503, times=None, task_type="videoInference")
    task = video_task()
    assert client.submit(task).status == 503
    assert client.poll(task["taskUUID"]).status == 404  # polls pass through
    assert client.submit(task).status == 503  # until removed
    service.faults.clear()
    assert client.submit(task).status == 200


def test_task_failure_rules_fail_the_next_tasks_only(
    client: MockClient, service: MockService, clock: FakeClock
) -> None:
    service.faults.fail_tasks("providerError", times=1)
    doomed, fine = video_task(), video_task()
    client.submit(doomed)
    client.submit(fine)
    clock.advance(3.0)
    assert client.poll(doomed["taskUUID"]).codes == ["providerError"]
    assert client.poll(fine["taskUUID"]).statuses == ["success"]


def test_a_header_fault_takes_precedence_over_rules(
    client: MockClient, service: MockService
) -> None:
    service.faults.respond_with(402)
    assert client.post([{"taskType": "ping"}], headers={FAULT_HEADER: "403"}).status == 403
    assert client.post([{"taskType": "ping"}]).status == 402  # the rule is still there


def test_faults_come_after_authentication(client: MockClient, service: MockService) -> None:
    service.faults.respond_with(429)
    assert client.post([{"taskType": "ping"}], key=None).status == 401
    assert client.post([{"taskType": "ping"}]).status == 429


def test_the_admin_api_manages_fault_rules(client: MockClient) -> None:
    created = client.admin("POST", "/faults", {"status": 504, "times": 1})
    assert created.status == 201
    rule = created.body["fault"]
    assert (rule["status"], rule["code"], rule["times"]) == (504, "timeout", 1)
    task_rule = client.admin("POST", "/faults", {"task": "timeoutProvider", "times": 3})
    listed = client.admin("GET", "/faults").body["faults"]
    assert [f["id"] for f in listed] == [rule["id"], task_rule.body["fault"]["id"]]
    assert client.admin("DELETE", f"/faults/{rule['id']}").status == 200
    assert client.admin("DELETE", f"/faults/{rule['id']}").status == 404
    assert client.admin("DELETE", "/faults").body == {"faults": []}
    assert client.admin("GET", "/faults").body == {"faults": []}


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"status": "429"},
        {"status": 200},
        {"status": 418},
        {"status": 429, "times": 0},
        {"status": 429, "times": True},
        {"status": 429, "task": "timeoutProvider"},
        {"status": 429, "colour": "red"},
    ],
    ids=repr,
)
def test_the_admin_api_refuses_unreadable_faults(client: MockClient, body: object) -> None:
    answer = client.admin("POST", "/faults", body)
    assert (answer.status, answer.codes) == (400, ["invalidFault"])


def test_rules_are_shared_by_every_server_on_a_data_dir(tmp_path: Path) -> None:
    one = create_app(MockConfig(data_dir=tmp_path, latency=0))
    two = create_app(MockConfig(data_dir=tmp_path, latency=0))
    service_of(one).faults.respond_with(429, times=2)
    ping = [{"taskType": "ping"}]
    statuses = [MockClient(app).post(ping).status for app in (two, one, two)]
    assert statuses == [429, 429, 200]


def test_faults_parse_from_header_syntax() -> None:
    assert Fault.parse("503").label == "503:serviceUnavailable"
    assert Fault.parse(" task : providerError ").label == "task:providerError"
    assert Fault.parse("task").code == "timeoutProvider"
    with pytest.raises(ValueError, match="explicit code"):
        Fault.parse("418")


def test_an_injected_5xx_is_not_counted_as_a_server_bug(
    client: MockClient, service: MockService
) -> None:
    client.post([get_response(video_task()["taskUUID"])], headers={FAULT_HEADER: "500"})
    assert service.journal.unexpected_errors() == []


def test_an_injected_error_without_task_uuids_is_still_runware_shaped(clock: FakeClock) -> None:
    client = MockClient(create_app(latency=0, clock=clock))
    answer = client.post([{"taskType": "ping"}], headers={FAULT_HEADER: "503"})
    assert answer.body == {
        "errors": [
            {
                "code": "serviceUnavailable",
                "message": answer.errors[0]["message"],
                "documentation": "https://runware.ai/docs/platform/errors",
            }
        ]
    }
