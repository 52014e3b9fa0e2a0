"""The admin API's guard (http/admin_guard.py): no cross-site change, no rebound Host,
the admin token when one is set; POST /v1 stays unguarded."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.server import FakeClock, MockClient, assert_runware_shaped, video_task

from ltxmock.server import MockConfig, create_app
from ltxmock.server.http.app import service_of

JSON = {"Content-Type": "application/json"}
EVIL = "http://evil.example"
TOKEN = "s3cret-Admin_t0ken"
# (method, path) of every route that changes the mock, plus an unknown one: the guard
# runs before routing.
CHANGES = [
    ("POST", "/__ltxmock/reset"),
    ("POST", "/__ltxmock/faults"),
    ("DELETE", "/__ltxmock/faults"),
    ("DELETE", "/__ltxmock/faults/1"),
    ("DELETE", "/__ltxmock/requests"),
    ("POST", "/__ltxmock/no-such-route"),
]
READS = ["/__ltxmock/faults", "/__ltxmock/requests", "/__ltxmock/deliveries"]
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def refused(answer: Any, status: int, code: str, parameter: str) -> str:
    assert answer.status == status, answer.body
    assert_runware_shaped(answer.status, answer.body)
    [error] = answer.body["errors"]
    assert (error["code"], error["parameter"]) == (code, parameter)
    message: str = error["message"]
    return message


def submitted(client: MockClient) -> str:
    task = video_task()
    assert client.submit(task).status == 200
    uuid: str = task["taskUUID"]
    return uuid


def still_there(client: MockClient, task_uuid: str) -> None:
    assert client.poll(task_uuid).data[0]["taskUUID"] == task_uuid
    assert client.service.journal.entries()


# -- cross-site requests ------------------------------------------------------------
def test_a_cross_site_text_plain_reset_is_refused_and_forgets_nothing(client: MockClient) -> None:
    # What a form or fetch() of any web page can send without a preflight.
    task_uuid = submitted(client)
    answer = client.request(
        "POST",
        "/__ltxmock/reset",
        data="{}",
        headers={"Content-Type": "text/plain", "Origin": EVIL},
    )
    message = refused(answer, 415, "unsupportedContentType", "Content-Type")
    assert "'Content-Type: application/json'" in message
    assert "got 'text/plain'" in message
    still_there(client, task_uuid)


@pytest.mark.parametrize(("method", "path"), CHANGES)
def test_every_change_needs_the_json_content_type_even_without_a_body(
    client: MockClient, method: str, path: str
) -> None:
    message = refused(client.request(method, path), 415, "unsupportedContentType", "Content-Type")
    assert "no Content-Type was sent" in message
    assert f"curl -X {method} -H 'Content-Type: application/json'" in message
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = client.request(method, path, headers={"Content-Type": content_type})
        refused(answer, 415, "unsupportedContentType", "Content-Type")


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("Application/JSON; charset=utf-8", 200),
        ("application/merge-patch+json", 200),
        ("text/json", 415),
        ("text/plain; application/json", 415),
    ],
)
def test_json_and_json_suffix_types_pass(
    client: MockClient, content_type: str, status: int
) -> None:
    headers = {"Content-Type": content_type}
    assert client.request("DELETE", "/__ltxmock/requests", headers=headers).status == status


def test_a_foreign_origin_is_refused_even_with_json(client: MockClient) -> None:
    task_uuid = submitted(client)
    answer = client.request("POST", "/__ltxmock/reset", headers={**JSON, "Origin": EVIL})
    message = refused(answer, 403, "crossOriginRequest", "Origin")
    assert "'http://evil.example'" in message
    assert "http://localhost" in message
    assert "without an Origin header" in message
    refused(
        client.request("POST", "/__ltxmock/reset", headers={**JSON, "Origin": "null"}),
        403,
        "crossOriginRequest",
        "Origin",
    )
    still_there(client, task_uuid)
    same = client.request(
        "POST", "/__ltxmock/reset", headers={**JSON, "Origin": "http://localhost"}
    )
    assert (same.status, same.body) == (200, {"reset": True})
    assert client.poll(task_uuid).codes == ["taskNotFound"]


def _origins() -> st.SearchStrategy[str]:
    scheme = st.sampled_from(["http", "https", "HTTP", "ws", "ftp"])
    host = st.sampled_from(
        ["localhost", "LocalHost", "127.0.0.1", "evil.example", "localhost.evil"]
    )
    port = st.sampled_from(["", ":80", ":443", ":8080", ":0080"]) | st.integers(1, 65535).map(
        lambda p: f":{p}"
    )
    built = st.builds(lambda s, h, p: f"{s}://{h}{p}", scheme, host, port)
    return (
        built
        | st.sampled_from(["null", "", "localhost", "http://", "http://[::1"])
        | st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=40)
    )


@fixture_ok
@given(origin=_origins())
def test_only_the_mocks_own_origin_passes(client: MockClient, origin: str) -> None:
    answer = client.request("DELETE", "/__ltxmock/requests", headers={**JSON, "Origin": origin})
    scheme, sep, rest = origin.partition("://")
    host, _, port = rest.partition(":")
    own = (
        sep == "://"
        and scheme.lower() == "http"
        and host.lower() == "localhost"
        and (port == "" or (port.isdigit() and int(port) == 80))
    )
    assert answer.status == (200 if own else 403), (origin, answer.body)


def test_reads_need_no_content_type_and_grant_no_cross_origin_reading(
    client: MockClient,
) -> None:
    for path in READS:
        answer = client.request("GET", path, headers={"Origin": EVIL})
        assert answer.status == 200
        assert not any(name.lower().startswith("access-control-") for name in answer.headers)


def test_the_test_helper_sends_what_the_guard_wants(client: MockClient) -> None:
    assert client.admin("POST", "/faults", {"status": 503, "times": 1}).status == 201
    assert client.admin("DELETE", "/faults").status == 200
    assert client.admin("POST", "/reset").body == {"reset": True}


# -- DNS rebinding --------------------------------------------------------------------
def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _names() -> st.SearchStrategy[str]:
    label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
    names = st.lists(label, min_size=1, max_size=4).map(".".join)
    lookalikes = st.sampled_from(
        ["localhost.evil.example", "a.localhost", "localhos", "127.0.0.1.nip.io"]
    )
    return (names | lookalikes).filter(lambda h: h != "localhost" and not _is_ip(h))


def _port() -> st.SearchStrategy[str]:
    return st.just("") | st.integers(1, 65535).map(lambda p: f":{p}")


@fixture_ok
@given(name=_names(), port=_port(), path=st.sampled_from([*READS, "/__ltxmock/x"]))
def test_a_name_other_than_localhost_is_refused(
    client: MockClient, name: str, port: str, path: str
) -> None:
    # A page of evil.example whose name now resolves to 127.0.0.1 still sends its own Host.
    answer = client.request("GET", path, headers={"Host": f"{name}{port}"})
    message = refused(answer, 403, "forbiddenHost", "Host")
    assert "DNS rebinding" in message
    assert "127.0.0.1" in message
    assert "--admin-token" in message


@fixture_ok
@given(
    address=st.ip_addresses(v=4).filter(lambda a: not a.is_loopback) | st.ip_addresses(v=6),
    port=_port(),
)
def test_a_foreign_ip_address_is_refused(
    client: MockClient, address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: str
) -> None:
    loopback = address.is_loopback or (
        isinstance(address, ipaddress.IPv6Address)
        and address.ipv4_mapped is not None
        and address.ipv4_mapped.is_loopback
    )
    host = f"[{address}]" if address.version == 6 else str(address)
    answer = client.request("GET", "/__ltxmock/requests", headers={"Host": f"{host}{port}"})
    assert answer.status == (200 if loopback else 403), (host, answer.body)


@fixture_ok
@given(
    host=st.ip_addresses(network="127.0.0.0/8").map(str)
    | st.sampled_from(["localhost", "LOCALHOST", "localhost.", "[::1]", "[0:0:0:0:0:0:0:1]"]),
    port=_port(),
)
def test_loopback_hosts_pass(client: MockClient, host: str, port: str) -> None:
    answer = client.request("GET", "/__ltxmock/requests", headers={"Host": f"{host}{port}"})
    assert answer.status == 200, (host, answer.body)


def test_garbage_hosts_are_refused(client: MockClient) -> None:
    for host in ("", "localhost:", "localhost:x", "localhost:99999", "[::1", "a b", "évil"):
        answer = client.request("GET", "/__ltxmock/requests", headers={"Host": host})
        refused(answer, 403, "forbiddenHost", "Host")


@pytest.fixture
def shared_app(clock: FakeClock) -> Iterator[Flask]:
    config = MockConfig(
        latency=3.0,
        clock=clock,
        render_mode="lazy",
        host="mock.internal",
        public_base_url="https://videos.example.com",
    )
    app = create_app(config)
    yield app
    service_of(app).close()


def test_the_configured_host_and_public_base_url_pass(shared_app: Flask) -> None:
    client = MockClient(shared_app)
    for host in ("mock.internal:8080", "MOCK.internal", "videos.example.com", "127.0.0.1:8080"):
        assert client.request("GET", "/__ltxmock/faults", headers={"Host": host}).status == 200
    assert (
        client.request("GET", "/__ltxmock/faults", headers={"Host": "evil.example"}).status == 403
    )
    # Behind the public URL's TLS proxy, its page's origin is the mock's own too.
    for origin in ("https://videos.example.com", "http://videos.example.com"):
        answer = client.request(
            "DELETE",
            "/__ltxmock/requests",
            headers={**JSON, "Host": "videos.example.com", "Origin": origin},
        )
        assert answer.status == 200, origin
    answer = client.request(
        "DELETE",
        "/__ltxmock/requests",
        headers={**JSON, "Host": "videos.example.com", "Origin": "https://example.com"},
    )
    assert answer.status == 403


def test_health_is_open_to_probes(client: MockClient) -> None:
    answer = client.request("GET", "/__ltxmock/health", headers={"Host": "10.1.2.3:8080"})
    assert answer.status == 200
    head = client.app.test_client().head("/__ltxmock/health", headers={"Host": "pod"})
    assert head.status_code == 200


def test_post_v1_is_not_guarded(client: MockClient) -> None:
    # The real API checks neither Host nor Origin; SDKs behind proxies send any Host.
    answer = client.submit(video_task(), headers={"Host": "evil.example", "Origin": EVIL})
    assert answer.status == 200


# -- the admin token ------------------------------------------------------------------
@pytest.fixture
def token_client(clock: FakeClock) -> Iterator[MockClient]:
    config = MockConfig(latency=3.0, clock=clock, render_mode="lazy", admin_token=TOKEN)
    client = MockClient(create_app(config))
    yield client
    client.service.close()


@pytest.mark.parametrize("path", [*READS, "/__ltxmock/x"])
def test_with_a_token_every_route_but_health_requires_it(
    token_client: MockClient, path: str
) -> None:
    answer = token_client.request("GET", path)
    message = refused(answer, 401, "invalidAdminToken", "Authorization")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer <token>" in message
    assert "X-Ltxmock-Admin-Token" in message
    assert TOKEN not in str(answer.body)
    assert token_client.request("GET", "/__ltxmock/health").status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"X-Ltxmock-Admin-Token": TOKEN.lower()},
        {"X-Ltxmock-Admin-Token": ""},
    ],
)
def test_a_wrong_token_is_refused(token_client: MockClient, headers: dict[str, str]) -> None:
    answer = token_client.request("POST", "/__ltxmock/reset", headers={**JSON, **headers})
    refused(answer, 401, "invalidAdminToken", "Authorization")
    assert TOKEN not in str(answer.body)


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {TOKEN}"}, {"X-Ltxmock-Admin-Token": TOKEN}]
)
def test_the_token_admits_and_replaces_the_host_check(
    token_client: MockClient, headers: dict[str, str]
) -> None:
    task_uuid = submitted(token_client)
    # A shared mock is reached by any name; the token, which no page knows, is the guard.
    shared = {**headers, "Host": "mock.team.example:8080"}
    assert token_client.request("GET", "/__ltxmock/requests", headers=shared).status == 200
    cross_site = {**shared, "Content-Type": "text/plain", "Origin": EVIL}
    answer = token_client.request("POST", "/__ltxmock/reset", headers=cross_site)
    refused(answer, 415, "unsupportedContentType", "Content-Type")
    answer = token_client.request("POST", "/__ltxmock/reset", headers={**shared, **JSON})
    assert answer.body == {"reset": True}
    assert token_client.poll(task_uuid).codes == ["taskNotFound"]


def test_the_token_stays_out_of_the_config_repr_and_comes_from_the_environment() -> None:
    config = MockConfig.from_env({"LTXMOCK_ADMIN_TOKEN": TOKEN})
    assert config.admin_token == TOKEN
    assert TOKEN not in repr(config)
    assert MockConfig.from_env({"LTXMOCK_ADMIN_TOKEN": ""}).admin_token is None
    for bad in ("", "two words", "tab\there", "ünïcode", "line\nbreak"):
        with pytest.raises(ValueError, match="admin_token must be") as raised:
            MockConfig(admin_token=bad)
        assert bad not in str(raised.value) or not bad
