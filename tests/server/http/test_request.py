"""``parse_request``: the one reading of a ``POST /v1`` (bytes and headers in, ``ApiRequest`` out).

Both servers call it (the Flask view, the ASGI app); what they answer for the
same input is compared in test_parity.py. Checks in order: size (413), content
type, JSON (400), then the fault header; a refused request carries its
``refusal`` and the raw text, to be journaled by the service.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.server import API_KEY, video_task
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from ltxmock.server import ApiRequest, Fault
from ltxmock.server.core.faults import FAULT_HEADER
from ltxmock.server.http.request import host_url, is_json_content_type, parse_request

LIMIT = 1000
JSON_HEADERS = {"content-type": "application/json", "authorization": f"Bearer {API_KEY}"}


def parse(body: bytes, limit: int = LIMIT, path: str = "/v1", **headers: str) -> ApiRequest:
    sent = {**JSON_HEADERS, **{name.replace("_", "-"): value for name, value in headers.items()}}
    return parse_request(
        path=path, headers=sent, body=body, limit=limit, base_url="http://mock.test:8080"
    )


def refusal(request: ApiRequest) -> tuple[int, list[str]]:
    assert request.refusal is not None, request
    return request.refusal.status, [error["code"] for error in request.refusal.errors]


def test_a_valid_post_is_read_whole() -> None:
    task = video_task()
    request = parse(json.dumps([task]).encode(), path="/v1/")
    assert request == ApiRequest(
        [task],
        api_key=API_KEY,
        transport="rest",
        base_url="http://mock.test:8080",
        path="/v1/",
        fault=None,
        refusal=None,
        headers=tuple(JSON_HEADERS.items()),  # for the journal, which redacts them
    )


@pytest.mark.parametrize(
    ("authorization", "key"),
    [(f"Bearer {API_KEY}", API_KEY), ("Bearer ", None), ("Basic dXNlcjpwYXNz", None)],
)
def test_the_api_key_is_the_bearer_headers(authorization: str, key: str | None) -> None:
    assert parse(b"[]", authorization=authorization).api_key == key


def test_without_an_authorization_header_there_is_no_key() -> None:
    request = parse_request(
        path="/v1",
        headers={"content-type": "application/json"},
        body=b"[]",
        limit=LIMIT,
        base_url="http://mock.test",
    )
    assert (request.refusal, request.api_key) == (None, None)


def test_too_large_by_the_declared_length_alone() -> None:
    # The servers do not read such a body at all: they hand over nothing.
    request = parse(b"", content_length=str(LIMIT + 1))
    assert refusal(request) == (413, ["payloadTooLarge"])
    assert f"{LIMIT} bytes" in request.refusal.errors[0]["message"]  # type: ignore[union-attr]
    assert request.body == ""


def test_too_large_by_what_was_read() -> None:
    # A chunked body declares no length: limit + 1 bytes read are enough to refuse it.
    assert refusal(parse(b"[" + b" " * LIMIT)) == (413, ["payloadTooLarge"])
    at_limit = b"[" + b" " * (LIMIT - 2) + b"]"
    assert parse(at_limit, content_length=str(LIMIT)).refusal is None


@pytest.mark.parametrize("content_type", ["text/plain", "", "multipart/form-data; boundary=x"])
def test_a_wrong_content_type_is_refused(content_type: str) -> None:
    request = parse(b'[{"taskType": "ping"}]', content_type=content_type)
    assert refusal(request) == (400, ["unsupportedContentType"])
    assert request.refusal.errors[0]["parameter"] == "Content-Type"  # type: ignore[union-attr]


def test_no_content_type_is_refused() -> None:
    request = parse_request(
        path="/v1", headers={}, body=b"[]", limit=LIMIT, base_url="http://mock.test"
    )
    assert refusal(request) == (400, ["unsupportedContentType"])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("APPLICATION/JSON", True),
        ("application/vnd+json", True),
        ("application/problem+json; charset=utf-8", True),
        ("text/json", False),
        ("application/jsonp", False),
        ("application/x-www-form-urlencoded", False),
        ("", False),
    ],
)
def test_json_content_types(header: str, expected: bool) -> None:
    assert is_json_content_type(header) is expected


def test_malformed_json_is_refused_and_kept_as_text() -> None:
    request = parse(b'[{"taskType": "ping",')
    assert refusal(request) == (400, ["invalidJson"])
    assert request.body == '[{"taskType": "ping",'  # what the journal shows
    undecodable = parse(b"\xff\xfe[]")
    assert refusal(undecodable) == (400, ["invalidJson"])
    assert undecodable.body == "\ufffd\ufffd[]"


def test_the_fault_header_is_read() -> None:
    request = parse(b'[{"taskType": "ping"}]', **{FAULT_HEADER.lower(): "task:providerError"})
    assert request.refusal is None
    assert request.fault == Fault.parse("task:providerError")


@pytest.mark.parametrize("value", ["teapot", "200", "418", "5o3", "-429"])
def test_an_unreadable_fault_header_is_refused(value: str) -> None:
    request = parse(b'[{"taskType": "ping"}]', **{FAULT_HEADER.lower(): value})
    assert refusal(request) == (400, ["invalidFault"])
    assert request.refusal.errors[0]["parameter"] == FAULT_HEADER  # type: ignore[union-attr]


def test_the_checks_come_in_order_size_type_json_fault() -> None:
    bad_fault = {FAULT_HEADER.lower(): "teapot"}
    everything_wrong = parse(b"{" * (LIMIT + 1), content_type="text/plain", **bad_fault)
    assert refusal(everything_wrong) == (413, ["payloadTooLarge"])
    assert refusal(parse(b"{", content_type="text/plain", **bad_fault)) == (
        400,
        ["unsupportedContentType"],
    )
    assert refusal(parse(b"{", **bad_fault)) == (400, ["invalidJson"])
    assert refusal(parse(b"[]", **bad_fault)) == (400, ["invalidFault"])


def test_a_refused_request_carries_nothing_of_the_client() -> None:
    # No key, no fault: the service journals it and answers the refusal, nothing else.
    request = parse(b"{", **{FAULT_HEADER.lower(): "503"})
    assert (request.api_key, request.fault, request.path) == (None, None, "/v1")


hosts = st.sampled_from(
    ["localhost", "127.0.0.1:8080", "[::1]:9000", "mock.test", "xn--n3h.test:81", "MOCK.Test"]
)


@given(scheme=st.sampled_from(["http", "https"]), host=hosts)
def test_host_url_is_werkzeugs_request_host_url(scheme: str, host: str) -> None:
    # The ASGI app builds videoURL prefixes with host_url; the Flask view's
    # request.host_url must give the same text.
    environ = EnvironBuilder(path="/v1", base_url=f"{scheme}://{host}/").get_environ()
    flask_side: Any = Request(environ)
    assert host_url(scheme, host) == flask_side.host_url.rstrip("/")
