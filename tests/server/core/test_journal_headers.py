"""Request headers in the journal: kept for users' tests, credentials redacted, bounded.

As in test_secrets.py, generated keys are planted where a client (or an
attacker) could put them, here in the headers: the Bearer header, headers named
like a credential (``X-Api-Key``, ``Cookie``, ``X-Ltxmock-Admin-Token``, ...), and
echoed in any other header, next to hostile names and values. The key's text
must then be nowhere: not in the journal API, not in the bytes of the SQLite
files (WAL included), over REST and the WebSocket alike.
"""

from __future__ import annotations

import json
import string
import uuid
from pathlib import Path
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.server import API_KEY, MockClient, WsgiServer, auth_element, get_response
from websockets.sync.client import connect

from ltxmock.server import MockConfig, MockService, create_app
from ltxmock.server.core.journal import (
    CUT,
    MAX_HEADER_CHARS,
    MAX_HEADERS,
    REDACTED,
    SECRET_HEADER,
    Journal,
    redact_text,
)
from ltxmock.server.core.reply import Reply
from ltxmock.server.http.app import service_of
from ltxmock.server.store import SqliteStore
from ltxmock.testing import MockServer

# A digit and a letter in each: Hypothesis also draws the code's own string constants,
# and a "key" that is a word the mock writes itself (an error code) is no leak.
SECRET = st.text(string.ascii_letters + string.digits, min_size=16, max_size=40).filter(
    lambda key: any(c.isdigit() for c in key) and any(c.isalpha() for c in key)
)
# Header names and values as HTTP allows them (tokens; visible text and inner spaces).
TOKEN = st.text(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~", min_size=1, max_size=30)
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
VALUE = st.text(PRINTABLE, max_size=60).map(str.strip)
# Transport headers the clients set themselves, or that would change the exchange.
OWN = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "upgrade",
     "expect", "te", "trailer", "keep-alive", "accept-encoding", "x-ltxmock-fault"}
)  # fmt: skip
NAMES = TOKEN.filter(lambda name: name.lower() not in OWN and not name.lower().startswith("sec-"))
CREDENTIAL_HEADERS = [
    "X-Api-Key", "Api-Key", "X-Runware-Api-Key", "X-Auth-Token", "X-Ltxmock-Admin-Token",
    "Proxy-Authorization", "X-Secret", "X-Access-Token",
]  # fmt: skip
PING = [{"taskType": "ping", "ping": True}]


def traces(key: str) -> list[bytes]:
    return [key.encode(), key.encode("utf-16-le"), key.encode("utf-16-be")]


def assert_nowhere(key: str, where: str, text: str | bytes) -> None:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    assert not [t for t in traces(key) if t in data], f"the key {key!r} is in {where}"


@st.composite
def planted(draw: st.DrawFn) -> tuple[dict[str, str], list[str]]:
    """Headers with keys planted in them, and the keys."""
    bearer, other, member = draw(SECRET), draw(SECRET), draw(SECRET)
    headers = {name: value for name, value in draw(st.lists(st.tuples(NAMES, VALUE), max_size=8))}
    credential = draw(st.sampled_from(CREDENTIAL_HEADERS))
    scheme = draw(st.sampled_from(["", "Bearer ", "Basic ", "token ", "sk-"]))
    headers[credential] = f"{scheme}{other}"
    headers["Cookie"] = draw(st.sampled_from([f"session={other}", f"a=1; t={bearer}", other]))
    for key in (bearer, other):  # echoed in headers that are not credentials
        name = draw(NAMES.filter(lambda n: not SECRET_HEADER.search(n)))
        before = draw(st.sampled_from(["", "client ", "x=", "a b/"]))
        headers[name] = f"{before}{key}{draw(st.sampled_from(['', ' z', ';x', '/1']))}"
    spelled = draw(st.sampled_from(["apiKey={}", '{{"apiKey":"{}"}}', "APIKEY: {}", "api_key={}"]))
    headers[draw(NAMES.filter(lambda n: not SECRET_HEADER.search(n)))] = spelled.format(member)
    headers["Authorization"] = f"Bearer {bearer}"
    secrets = [bearer, other] + ([member] if "_" not in spelled else [])
    return headers, secrets


def entries(base_url: str, since: int = 0) -> list[dict[str, Any]]:
    answer = requests.get(f"{base_url}/__ltxmock/requests", params={"since": since}, timeout=10)
    assert answer.status_code == 200
    found: list[dict[str, Any]] = answer.json()["requests"]
    return found


def size(headers: list[list[str]]) -> int:
    return sum(len(name) + len(value) for name, value in headers)


# -- through the real server -----------------------------------------------------------
def test_no_key_in_any_header_reaches_the_journal_or_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    keys: list[str] = []
    plain: list[str] = []  # header texts sent with no key in them: kept as they are
    with MockServer(latency=0, data_dir=data_dir) as mock:

        @settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
        @given(planted())
        def exchange(plant: tuple[dict[str, str], list[str]]) -> None:
            headers, secrets = plant
            keys.extend(secrets)
            plain.extend(
                text
                for pair in headers.items()
                for text in pair
                if not any(secret in text for secret in secrets)
            )
            newest = entries(mock.base_url)
            since = newest[-1]["id"] if newest else 0
            sent = {**headers, "Content-Type": "application/json"}
            answer = requests.post(mock.url, data=json.dumps(PING), headers=sent, timeout=10)
            assert answer.status_code == 200
            with connect(
                mock.ws_url, proxy=None, open_timeout=10, additional_headers=headers
            ) as ws:
                ws.send(json.dumps([auth_element(secrets[0])]))
                assert "data" in json.loads(ws.recv(timeout=10))
                ws.send(json.dumps([get_response(str(uuid.uuid4()))]))
                ws.recv(timeout=10)  # journaled before it is answered
            new = entries(mock.base_url, since)
            assert [e["transport"] for e in new] == ["rest", "ws"]
            for entry in new:
                shown = dict(map(tuple, entry["headers"]))
                assert shown["authorization"] == f"Bearer {REDACTED}"
                assert len(entry["headers"]) <= MAX_HEADERS
                assert size(entry["headers"]) <= MAX_HEADER_CHARS
            for secret in secrets:
                assert_nowhere(secret, "the journal", json.dumps(new))

        exchange()
        everything = json.dumps(entries(mock.base_url))
        assert REDACTED in everything
        files = [path for path in data_dir.rglob("*") if path.is_file()]
        assert any(path.name.endswith("-wal") for path in files)
        stored = b"".join(path.read_bytes() for path in files)
    for key in keys:
        if any(key in text for text in plain):
            continue  # another example sent it as plain text (Hypothesis reuses values)
        assert_nowhere(key, "the journal", everything)
        assert_nowhere(key, "the data dir", stored)


def test_headers_are_shown_by_the_admin_api_and_the_test_kit() -> None:
    with MockServer(latency=0) as mock:
        sent = {"Authorization": f"Bearer {API_KEY}", "X-Request-Id": "r-1", "X-Api-Key": "k"}
        answer = requests.post(mock.url, json=PING, headers=sent, timeout=10)
        assert answer.status_code == 200
        [entry] = mock.requests
        assert ["x-request-id", "r-1"] in entry.headers
        assert ["authorization", f"Bearer {REDACTED}"] in entry.headers
        assert ["x-api-key", REDACTED] in entry.headers
        assert ["content-type", "application/json"] in entry.headers
        [shown] = entries(mock.base_url)
        assert shown["headers"] == entry.headers
        assert API_KEY not in json.dumps(shown)


def test_a_websocket_frame_is_journaled_with_its_upgrade_requests_headers() -> None:
    upgrade = {"User-Agent": "sdk/1.0", "X-Ltxmock-Admin-Token": "tok-1234567890"}
    for server in (MockServer(latency=0), WsgiServer(latency=0)):  # ASGI and flask-sock
        with server:
            with connect(
                server.ws_url, proxy=None, open_timeout=10, additional_headers=upgrade
            ) as ws:
                ws.send(json.dumps([auth_element()]))
                ws.recv(timeout=10)
                ws.send(json.dumps([get_response(str(uuid.uuid4()))]))
                ws.recv(timeout=10)
                ws.send(b"\xff not json")  # refused by the channel, journaled all the same
                ws.recv(timeout=10)
            journal = server.service.journal.entries()
            assert [e.transport for e in journal] == ["ws", "ws"], type(server).__name__
            for entry in journal:
                assert ["user-agent", "sdk/1.0"] in entry.headers
                assert ["x-ltxmock-admin-token", REDACTED] in entry.headers
                assert "upgrade" in dict(map(tuple, entry.headers))
                assert "1234567890" not in json.dumps(entry.to_dict())
                assert API_KEY not in json.dumps(entry.to_dict())  # the session's key


def test_routes_outside_the_api_are_journaled_with_their_headers(
    client: MockClient, service: MockService
) -> None:
    client.request("GET", "/nowhere", headers={"X-Trace": "t-9", "X-Auth-Token": "abcdefgh1234"})
    [entry] = service.journal.entries()
    assert entry.status == 404
    assert ["x-trace", "t-9"] in entry.headers
    assert ["x-auth-token", REDACTED] in entry.headers


def test_a_refused_body_keeps_its_headers_and_a_key_echoed_in_the_body_is_hidden(
    client: MockClient, service: MockService
) -> None:
    client.post(raw=b"{nope " + API_KEY.encode(), headers={"X-Trace": "t-1"})
    [entry] = service.journal.entries()
    assert entry.status == 400
    assert ["x-trace", "t-1"] in entry.headers
    assert API_KEY not in json.dumps(entry.to_dict())  # known from the Bearer header


LATE_KEY = "late-key-7f3a9c2e1b"


def test_a_key_met_after_a_text_that_echoes_it_is_hidden_there_too(
    client: MockClient, service: MockService
) -> None:
    # Headers, then the body, are read in order: in each, the echo comes before the
    # member that says it is a key.
    client.post(PING, key=None, headers={"X-Echo": LATE_KEY, "X-Note": f"apiKey={LATE_KEY}"})
    body = [
        {"taskType": "ping", "ping": True, "note": LATE_KEY},
        {"taskType": "authentication", "apiKey": LATE_KEY},
    ]
    client.post(body, key=None)
    in_headers, in_body = service.journal.entries()
    assert ["x-echo", REDACTED] in in_headers.headers
    for entry in (in_headers, in_body):
        assert LATE_KEY not in json.dumps(entry.to_dict())


def test_a_member_name_spelled_with_escapes_hides_its_value(
    client: MockClient, service: MockService
) -> None:
    client.post([{"taskType": "authentication", "apik\\u0065y": LATE_KEY}], key=None)
    [entry] = service.journal.entries()
    assert LATE_KEY not in json.dumps(entry.to_dict())


# -- the bounds --------------------------------------------------------------------------
def test_many_headers_are_cut_with_a_marker(client: MockClient, service: MockService) -> None:
    many = {f"X-H{n:03d}": "v" for n in range(100)}
    client.post(PING, headers=many)
    [entry] = service.journal.entries()
    assert len(entry.headers) == MAX_HEADERS
    assert entry.headers[-1][0] == CUT
    assert entry.headers[-1][1].startswith(f"{MAX_HEADERS - 1} of ")
    ours = [name for name, _ in entry.headers if name.startswith("x-h")]
    assert ours == [f"x-h{n:03d}" for n in range(len(ours))]  # the first ones, in order


def test_large_headers_are_cut_at_the_character_bound(
    client: MockClient, service: MockService
) -> None:
    client.post(PING, headers={f"X-Big-{n}": "b" * 1500 for n in range(12)})
    [entry] = service.journal.entries()
    assert size(entry.headers) <= MAX_HEADER_CHARS
    assert entry.headers[-1][0] == CUT
    assert 4 <= len(entry.headers) - 1 < 12


@settings(max_examples=150, deadline=None)
@given(
    headers=st.lists(
        st.tuples(TOKEN.map(str.lower), st.text(max_size=3000)), max_size=2 * MAX_HEADERS
    ),
    key=SECRET,
)
def test_any_headers_are_kept_within_the_bounds_and_without_the_key(
    headers: list[tuple[str, str]], key: str
) -> None:
    store = SqliteStore()
    try:
        journal = Journal(store.journal)
        sent = [("authorization", f"Bearer {key}"), *headers, ("x-echo", f"({key})")]
        journal.record(
            at=0.0, transport="rest", path="/v1", status=200, request=[], response={},
            headers=sent,
        )  # fmt: skip
        [entry] = journal.entries()
    finally:
        store.close()
    kept = entry.headers
    assert len(kept) <= MAX_HEADERS
    assert size(kept) <= MAX_HEADER_CHARS
    if kept[-1][0] == CUT:
        kept = kept[:-1]
    else:
        assert len(kept) == len(sent)  # nothing left out, or it says so
    pairs = list(zip(sent, kept, strict=False))
    assert [name for name, _ in kept] == [
        name if key[:8] not in name else shown for (name, _), (shown, _) in pairs
    ]
    for (name, value), (_, shown) in pairs:
        if SECRET_HEADER.search(name):
            assert shown in (REDACTED, f"Bearer {REDACTED}")
        elif len(value) <= 2048 and redact_text(value) == value and key[:8] not in value:
            assert shown == value  # anything else is kept as it came
    assert_nowhere(key, "the journal", json.dumps(entry.to_dict()))


def test_an_entry_recorded_without_headers_has_none(service: MockService) -> None:
    reply = Reply.envelope([], [], status=200)
    service.record(at=0.0, transport="rest", path="/v1", body=None, reply=reply)
    [entry] = service.journal.entries()
    assert entry.headers == []
    assert entry.to_dict()["headers"] == []


def test_a_data_dir_keeps_the_headers_over_a_restart(tmp_path: Path) -> None:
    """A data dir written with headers opens again, and its entries keep them."""
    client = MockClient(create_app(MockConfig(data_dir=tmp_path, latency=0)))
    client.post(PING, headers={"X-Trace": "t-2"})
    client.service.close()
    service = service_of(create_app(MockConfig(data_dir=tmp_path, latency=0)))
    try:
        [entry] = service.journal.entries()
        assert ["x-trace", "t-2"] in entry.headers
    finally:
        service.close()


def test_a_key_known_only_from_the_body_or_session_is_kept_out_of_cached_headers() -> None:
    # The same headers twice: the second entry reuses what was prepared for the first,
    # and must still lose keys that only this exchange's body or session names.
    body_key, session_key = "body-key-0123456789", "session-key-9876543210"
    headers = (("user-agent", f"app {body_key}"), ("x-client", f"s={session_key}"))
    store = SqliteStore()
    try:
        journal = Journal(store.journal)
        for request, api_key in (([], None), ([{"apiKey": body_key}], session_key)):
            journal.record(
                at=0.0, transport="ws", path="/v1", status=200, request=request, response={},
                headers=headers, api_key=api_key,
            )  # fmt: skip
        first, second = journal.entries()
    finally:
        store.close()
    assert first.headers == [list(pair) for pair in headers]  # no key known: kept as sent
    text = json.dumps(second.to_dict())
    assert body_key not in text
    assert session_key not in text
    assert ["x-client", f"s={REDACTED}"] in second.headers


def test_each_entry_shows_its_own_content_length() -> None:
    # Prepared headers are shared by requests that differ only in their length.
    store = SqliteStore()
    try:
        journal = Journal(store.journal)
        for length in ("120", "121", "9", "x1"):
            sent = (("content-length", length), ("authorization", f"Bearer {API_KEY}"))
            journal.record(
                at=0.0, transport="rest", path="/v1", status=200, request=[], response={},
                headers=sent,
            )  # fmt: skip
        shown = [entry.headers for entry in journal.entries()]
    finally:
        store.close()
    assert shown == [
        [["content-length", length], ["authorization", f"Bearer {REDACTED}"]]
        for length in ("120", "121", "9", "x1")
    ]
