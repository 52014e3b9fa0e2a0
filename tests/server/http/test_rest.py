"""POST /v1 through the Flask app (test client): statuses, envelopes, auth, bodies.

The ASGI app of ``ltxmock serve`` answers the same bytes: test_parity.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from support.server import (
    API_KEY,
    MockClient,
    assert_runware_shaped,
    auth_element,
    get_response,
    new_uuid,
    video_task,
)

from ltxmock.server import MockConfig, MockService, create_app

INVALID_API_KEY = {
    "code": "invalidApiKey",
    "message": "Invalid API key. Get one at https://my.runware.ai/signup",
    "parameter": "apiKey",
    "taskType": "authentication",
}


def test_an_async_submit_is_acknowledged_with_exactly_task_type_and_uuid(
    client: MockClient,
) -> None:
    task = video_task(includeCost=True, webhookURL="https://example.com/hook")
    answer = client.submit(task)
    assert answer.status == 200
    assert answer.body == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}


@pytest.mark.parametrize("path", ["/v1", "/v1/"])
def test_both_endpoint_spellings_serve_the_api(client: MockClient, path: str) -> None:
    assert client.post([{"taskType": "ping", "ping": True}], path=path).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="not-bearer"),
    ],
)
def test_a_request_without_a_key_is_401_invalid_api_key(
    client: MockClient, headers: dict[str, str]
) -> None:
    answer = client.submit(video_task(), key=None, headers=headers)
    assert (answer.status, answer.body) == (401, {"errors": [INVALID_API_KEY]})


@pytest.mark.parametrize("value", ["", None, 42])
def test_an_authentication_element_without_a_usable_key_is_401(
    client: MockClient, value: Any
) -> None:
    answer = client.post([{"taskType": "authentication", "apiKey": value}, video_task()], key=None)
    assert (answer.status, answer.body) == (401, {"errors": [INVALID_API_KEY]})


def test_a_leading_authentication_element_authenticates_and_is_not_echoed(
    client: MockClient,
) -> None:
    task = video_task()
    answer = client.post([auth_element(), task], key=None)
    assert answer.status == 200
    assert answer.data == [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]


def test_configured_keys_restrict_who_gets_in(clock: object) -> None:
    client = MockClient(create_app(api_keys=("k1", "k2"), latency=0), key="k2")
    assert client.post([{"taskType": "ping"}]).status == 200
    assert client.post([{"taskType": "ping"}], key="intruder").status == 401
    assert client.post([auth_element("k1"), {"taskType": "ping"}], key=None).status == 200


def test_every_invalid_task_gets_its_own_scoped_error(client: MockClient) -> None:
    bad_duration = video_task(duration=7)
    bad_prompt = video_task(positivePrompt="x")
    answer = client.submit(bad_duration, bad_prompt)
    assert answer.status == 400
    assert "data" not in answer.body
    by_uuid = {error["taskUUID"]: error for error in answer.errors}
    assert by_uuid[bad_duration["taskUUID"]]["code"] == "unsupportedDuration"
    assert by_uuid[bad_duration["taskUUID"]]["parameter"] == "duration"
    assert by_uuid[bad_duration["taskUUID"]]["allowedValues"] == [6, 8, 10]
    assert by_uuid[bad_prompt["taskUUID"]]["parameter"] == "positivePrompt"
    assert all(error["taskType"] == "videoInference" for error in answer.errors)


def test_a_request_with_an_invalid_task_accepts_none_of_its_tasks(client: MockClient) -> None:
    valid, invalid = video_task(), video_task(fps=30)
    answer = client.submit(valid, invalid)
    assert answer.status == 400
    assert [e["taskUUID"] for e in answer.errors] == [invalid["taskUUID"]]
    assert client.poll(valid["taskUUID"]).codes == ["taskNotFound"]
    # Resending only the valid task then works: nothing was half-accepted.
    assert client.submit(valid).status == 200


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"[{", "Expecting"),
        (b"", "Expecting value"),
        (b'[{"taskType": "ping", "x": NaN}]', "NaN"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b"[" * 100 + b"]" * 100, "deeper than"),
        (b'[{"taskType": "ping"}] trailing', "Extra data"),
    ],
)
def test_malformed_json_is_400_invalid_json(client: MockClient, raw: bytes, detail: str) -> None:
    answer = client.post(raw=raw)
    assert answer.status == 400
    assert answer.codes == ["invalidJson"]
    assert detail in answer.errors[0]["message"]


@pytest.mark.parametrize("body", [{}, {"taskType": "ping"}, "ping", 3, None, True, []], ids=repr)
def test_a_body_that_is_not_a_non_empty_array_is_400_invalid_request_body(
    client: MockClient, body: Any
) -> None:
    answer = client.post(body)
    assert answer.status == 400
    assert answer.codes == ["invalidRequestBody"]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_wrong_content_type_is_400_unsupported_content_type(
    client: MockClient, content_type: str | None
) -> None:
    answer = client.post([{"taskType": "ping"}], content_type=content_type)
    assert answer.status == 400
    assert answer.codes == ["unsupportedContentType"]
    assert answer.errors[0]["parameter"] == "Content-Type"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd+json"]
)
def test_json_content_types_with_parameters_are_accepted(
    client: MockClient, content_type: str
) -> None:
    assert client.post([{"taskType": "ping"}], content_type=content_type).status == 200


def test_an_oversized_body_is_413_payload_too_large(clock: object) -> None:
    app = create_app(max_body_bytes=1000, latency=0)
    client = MockClient(app)
    big = video_task(positivePrompt="x" * 2000)
    answer = client.submit(big)
    assert answer.status == 413
    assert answer.codes == ["payloadTooLarge"]
    assert "1000 bytes" in answer.errors[0]["message"]
    assert client.submit(video_task()).status == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1", 405, "methodNotAllowed"),
        ("PUT", "/v1/", 405, "methodNotAllowed"),
        ("OPTIONS", "/v1", 405, "methodNotAllowed"),
        ("DELETE", "/v1", 405, "methodNotAllowed"),
        ("GET", "/", 404, "notFound"),
        ("POST", "/v2", 404, "notFound"),
        ("POST", "/v1/tasks", 404, "notFound"),
    ],
)
def test_other_paths_and_methods_answer_json_404_and_405(
    client: MockClient, method: str, path: str, status: int, code: str
) -> None:
    answer = client.request(method, path)
    assert (answer.status, answer.codes) == (status, [code])
    if status == 405:
        assert "POST" in answer.headers["Allow"]


def test_ping_answers_pong_with_the_task_uuid_when_one_was_sent(client: MockClient) -> None:
    task_uuid = new_uuid()
    answer = client.post(
        [{"taskType": "ping", "ping": True}, {"taskType": "ping", "taskUUID": task_uuid}]
    )
    assert answer.body == {
        "data": [
            {"taskType": "ping", "pong": True},
            {"taskType": "ping", "pong": True, "taskUUID": task_uuid},
        ]
    }


def test_unknown_tasks_are_reported_not_run(client: MockClient) -> None:
    answer = client.post([{"taskType": "imageInference", "taskUUID": new_uuid()}])
    assert answer.status == 400
    assert answer.codes == ["unsupportedTaskType"]


def test_an_unexpected_exception_is_a_runware_shaped_500_logged_with_its_traceback(
    client: MockClient, service: MockService, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def explode(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "_run", explode)
    answer = client.submit(video_task())
    assert answer.status == 500
    assert answer.codes == ["internalServerError"]
    assert "boom" not in json.dumps(answer.body)  # details go to the log only
    assert "RuntimeError: boom" in caplog.text
    assert [e.status for e in service.journal.unexpected_errors()] == [500]
    service.journal.clear()  # this test's 500 was on purpose


def test_a_crash_outside_the_service_is_still_a_json_500(clock: object, caplog: Any) -> None:
    app: Flask = create_app(MockConfig(latency=0))

    @app.get("/explode")
    def explode() -> str:
        raise RuntimeError("kaboom")

    answer = MockClient(app).request("GET", "/explode")
    assert (answer.status, answer.codes) == (500, ["internalServerError"])
    assert "kaboom" in caplog.text


def test_successful_answers_never_carry_an_errors_key(client: MockClient) -> None:
    task = video_task()
    for answer in (
        client.submit(task),
        client.poll(task["taskUUID"]),
        client.post([{"taskType": "ping"}]),
        client.post([auth_element()], key=None),
    ):
        assert answer.status == 200
        assert "errors" not in answer.body
        assert_runware_shaped(answer.status, answer.body)
    assert client.post([auth_element()], key=None).body == {"data": []}


def test_the_bearer_header_wins_over_an_authentication_element(clock: object) -> None:
    client = MockClient(create_app(api_keys=("good",), latency=0), key="good")
    answer = client.post([auth_element("bad"), {"taskType": "ping"}])
    assert answer.status == 200


def test_poll_uses_the_getresponse_helper(client: MockClient) -> None:
    task_uuid = new_uuid()
    assert client.post([get_response(task_uuid)]).codes == ["taskNotFound"]
    assert API_KEY not in json.dumps(client.service.journal.last().to_dict())  # type: ignore[union-attr]
