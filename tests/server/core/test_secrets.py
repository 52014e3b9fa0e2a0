"""Secrets: no API key is kept in any spelling of any body; fingerprints are keyed;
result files are never read through a link.

The hostile bodies carry a generated key in every shape a client (or an
attacker) could send: valid JSON with the key nested anywhere, the key name in
every escape spelling, unquoted, single-quoted, truncated, not JSON at all,
UTF-16, as a REST body and as a WebSocket frame. The key's text must then be
nowhere: not in the journal API, not in the bytes of the SQLite files (WAL
included), not in the logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sqlite3
import string
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.receiver import Receiver
from support.server import API_KEY, FakeClock, MockClient, auth_element, video_task
from websockets.sync.client import connect

from ltxmock.server import MockConfig, MockService, create_app
from ltxmock.server.core.auth import fingerprint
from ltxmock.server.core.journal import REDACTED, UNREAD, redact, redact_text
from ltxmock.server.core.records import MediaRow
from ltxmock.server.core.renders import Renders
from ltxmock.server.http.app import service_of
from ltxmock.server.store import SqliteStore
from ltxmock.testing import MockServer

# -- the hostile bodies ------------------------------------------------------------
# A key's own text: what must be found nowhere. Its "sk-" prefix is spelled in
# some shapes with escapes; this part always appears as it is in the body.
# A digit and a letter in each: Hypothesis also draws the code's own string constants,
# and a "key" that is a word the mock writes itself (an error code) is no leak.
SECRET = st.text(string.ascii_letters + string.digits, min_size=16, max_size=40).filter(
    lambda key: any(c.isdigit() for c in key) and any(c.isalpha() for c in key)
)


def _spellings(letter: str, *, raw: bool) -> list[str]:
    """Every way a JSON text (``raw``: any text) may spell one letter of the name."""
    lower, upper = letter.lower(), letter.upper()
    forms = [lower, upper]
    for char in (lower, upper):
        forms += [f"\\u{ord(char):04x}", f"\\u{ord(char):04X}"]
    if raw:  # not JSON escapes, but what a lenient reader takes for the letter
        forms += [f"\\{lower}", f"\\x{ord(upper):02x}", f"\\\\u{ord(lower):04x}"]
    if lower == "k":
        forms += ["\u212a", "\\u212a"]  # KELVIN SIGN: lower-cases to k
    return forms


def name(*, raw: bool) -> st.SearchStrategy[str]:
    """The name apiKey, spelled in any case with any escape for each letter."""
    letters = [st.sampled_from(_spellings(letter, raw=raw)) for letter in "apiKey"]
    return st.tuples(*letters).map("".join)


SPACE = st.text(" \t\r\n", max_size=3)


@dataclass(frozen=True)
class Body:
    shape: str
    text: str
    encoding: str = "utf-8"

    def data(self) -> bytes:
        return self.text.encode(self.encoding)


def _json_shapes(n: str, key: str, ws: str) -> dict[str, str]:
    """Valid JSON: the mock parses these (and validates, and may quote them back)."""
    escaped = f"\\u0073k-{key}"  # the value's first letter escaped
    task = json.dumps(video_task())[:-1]
    auth, ping = '{"taskType":"authentication",', ',{"taskType":"ping"}'
    return {
        "authentication": f'[{auth}"{n}":"sk-{key}"}}{ping}]',
        "spaced": f'[{ws}{auth}{ws}"{n}"{ws}:{ws}"sk-{key}"{ws}}}]',
        "escaped value": f'[{auth}"{n}":"{escaped}"}}{ping}]',
        "list value": f'[{auth}"{n}":["sk-{key}"]}}{ping}]',
        "object value": f'[{auth}"{n}":{{"a":["x","sk-{key}"]}}}}]',
        "nested": f'{task},"extra":{{"a":[1,{{"b":[{{"{n}":"sk-{key}"}}]}}]}}}}]',
        "no list": f'{{"{n}":"sk-{key}"}}',
        "in a string": json.dumps([{"taskType": "ping", "ping": f'{{"{n}":"sk-{key}"}}'}]),
        # Refused ("x"): an accepted task keeps its prompt as sent, as the caller's text.
        "in a prompt": json.dumps([{**video_task(), "positivePrompt": f"{n}={key}", "x": 1}]),
        "in a member name": json.dumps([{"taskType": "ping", f'{{"{n}":"{key}"}}': 1}]),
    }


def _raw_shapes(n: str, key: str, ws: str) -> dict[str, str]:
    """Not JSON: refused, and journaled as the text that came."""
    return {
        "truncated": f'[{{"taskType":"authentication","{n}":"sk-{key}',
        "truncated after": f'[{{"taskType":"authentication","{n}":"sk-{key}"',
        "unquoted": f"[{{taskType: authentication,{ws}{n}{ws}:{ws}sk-{key}}}]",
        "unquoted string": f'{{{n}: "sk-{key}"}}',
        "single-quoted": f"[{{'taskType':'authentication',{ws}'{n}'{ws}:{ws}'sk-{key}'}}]",
        "bare list": f'{{"{n}":{ws}[sk-{key}, 1]}}',
        "form": f"taskType=ping&{n}={ws}sk-{key}&x=1",
        "trailing garbage": f'[{{"{n}":"sk-{key}"}}] and more',
        "NaN": f'[{{"taskType":"authentication","{n}":"sk-{key}","x":NaN}}]',
        "escaped in a string": f'"{{\\"{n}\\":\\"sk-{key}\\"}}',
        "escaped twice": f'"{{\\\\\\"{n}\\\\\\":\\\\\\"sk-{key}\\\\\\"}}"',
        "unicode quotes": f"{{\\u0022{n}\\u0022:\\u0022sk-{key}\\u0022}}",
    }


@st.composite
def bodies(draw: st.DrawFn, key: str) -> Body:
    ws = draw(SPACE)
    shapes = {
        **_json_shapes(draw(name(raw=False)), key, ws),
        **_raw_shapes(draw(name(raw=True)), key, ws),
    }
    shape = draw(st.sampled_from(sorted(shapes)))
    encoding = draw(st.sampled_from(["utf-8"] * 4 + ["utf-16-le", "utf-16", "utf-32-be"]))
    return Body(shape, shapes[shape], encoding)


def traces(key: str) -> list[bytes]:
    """How the key's text would look if it were kept: UTF-8, or UTF-16 read as UTF-8."""
    return [key.encode(), key.encode("utf-16-le"), key.encode("utf-16-be")]


def assert_nowhere(key: str, where: str, text: str | bytes) -> None:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    found = [trace for trace in traces(key) if trace in data]
    assert not found, f"the key {key!r} is in {where}"


# -- redaction on its own --------------------------------------------------------------
@given(key=SECRET, data=st.data())
def test_no_spelling_of_a_key_survives_redaction(key: str, data: st.DataObject) -> None:
    body = data.draw(bodies(key))
    text = body.data().decode("utf-8", errors="replace")  # what a refused body is journaled as
    assert_nowhere(key, "a redacted raw body", json.dumps(redact(text), ensure_ascii=False))
    try:
        parsed = json.loads(body.text)
    except ValueError:
        return
    assert_nowhere(key, "a redacted parsed body", json.dumps(redact(parsed), ensure_ascii=False))


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('{"apiKey":"sk-1"}', '{"apiKey":"[redacted]"}'),
        ('{"api\\u004bey":"sk-1"}', '{"api\\u004bey":"[redacted]"}'),
        ('{"\\u0061piKey" : "sk-1", "b": 2}', '{"\\u0061piKey" : "[redacted]", "b": 2}'),
        ('{"api\\Key":"sk\\/1"}', '{"api\\Key":"[redacted]"}'),
        ("{apiKey: sk-1, b: 2}", "{apiKey: [redacted], b: 2}"),
        ("{'APIKEY'\n=\t'sk-1'}", "{'APIKEY'\n=\t'[redacted]'}"),
        ('{"apiKey":"sk-1', '{"apiKey":"[redacted]'),
        ('{"apiKey":"sk\\"1","b":"c"}', '{"apiKey":"[redacted]","b":"c"}'),
        ('{"apiKey": 12345, "b": 2}', '{"apiKey": [redacted], "b": 2}'),
        ('{"apiKey": {"x": ["}", "sk"]}, "b": 2}', '{"apiKey": [redacted], "b": 2}'),
        ('"{\\"apiKey\\":\\"sk-1\\"}"', '"{\\"apiKey\\":\\"[redacted]\\"}"'),
        ('{"apiKeys":"public","apiKey":"sk-1"}', '{"apiKeys":"public","apiKey":"[redacted]"}'),
        (
            '{"\x00a\x00p\x00i\x00K\x00e\x00y\x00"\x00:\x00"\x00s\x00k\x00"}',
            '{"apiKey":"[redacted]"}',
        ),
        ("no key here: apiKeys are secret", "no key here: apiKeys are secret"),
    ],
)
def test_raw_text_keeps_its_shape_and_loses_the_value(text: str, kept: str) -> None:
    assert redact_text(text) == kept


def test_a_cut_long_string_reads_as_unterminated() -> None:
    key = "K" * 40
    text = " " * 230 + f'{{"apiKey": "{key}' + "x" * 3000  # cut at 256 characters, in the value
    [kept] = redact([text])
    assert key[:10] not in kept
    assert kept.endswith(f'"apiKey": "{REDACTED}...[{len(text)} characters]')


def test_past_a_budget_texts_that_may_hold_a_key_are_hidden_whole() -> None:
    # Each costs a token-by-token read: a body of thousands must not hold the server.
    texts = [f'{{"apiKey":["sk-{n:04d}-0123456789",' + '"a",' * 400 for n in range(200)]
    kept = json.dumps(redact(texts))
    assert "sk-0000-0123456789" not in kept
    assert all(f"sk-{n:04d}-0123456789" not in kept for n in range(200))
    assert UNREAD in kept
    assert 0 < kept.count(REDACTED) < 200  # the first few were read, not hidden whole


# -- through the real server: REST bodies and WebSocket frames ----------------------
def test_hostile_bodies_leave_no_key_in_journal_store_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="ltxmock")
    data_dir = tmp_path / "data"
    keys: list[str] = []
    shapes: set[str] = set()
    with MockServer(latency=0, data_dir=data_dir) as mock:
        journal = f"{mock.base_url}/__ltxmock/requests"

        @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(key=SECRET, bearer=SECRET, data=st.data())
        @example(key="Z" * 20, bearer="B" * 20, data=None).via("a long key in a list value")
        def exchange(key: str, bearer: str, data: st.DataObject | None) -> None:
            body = (
                Body("list", f'[{{"taskType":"authentication","apiKey":["sk-{key}"]}}]')
                if data is None
                else data.draw(bodies(key))
            )
            keys.extend((key, bearer))
            shapes.add(body.shape)
            newest = entries(journal, limit=1)
            since = newest[0]["id"] if newest else 0
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {bearer}"}
            answer = requests.post(mock.url, data=body.data(), headers=headers, timeout=10)
            assert answer.status_code < 500
            with connect(mock.ws_url, proxy=None, open_timeout=10) as ws:
                ws.send(json.dumps([{"taskType": "authentication", "apiKey": bearer}]))
                assert "data" in json.loads(ws.recv(timeout=10))
                ws.send(body.data() if body.encoding != "utf-8" else body.text)
                ws.recv(timeout=10)  # the journal entry is written before the answer
            new = entries(journal, since)
            assert "rest" in {entry["transport"] for entry in new}  # a frame may be answered
            # by the socket alone (an authentication): only what reached the service is kept
            for secret in (key, bearer):
                assert_nowhere(secret, f"the journal ({body.shape})", json.dumps(new))

        exchange()
        kept = entries(journal)
        assert {entry["transport"] for entry in kept} == {"rest", "ws"}
        everything = json.dumps(kept)
        assert REDACTED in everything  # keys were there to hide
        for key in keys:
            assert_nowhere(key, "the journal", everything)
        # Read while the server runs: the WAL still holds the last writes.
        files = [path for path in data_dir.rglob("*") if path.is_file()]
        assert any(path.name.endswith("-wal") for path in files)
        stored = b"".join(path.read_bytes() for path in files)
        for key in keys:
            assert_nowhere(key, "the data dir", stored)
    for key in keys:
        assert_nowhere(key, "the log", caplog.text)
    assert len(shapes) > 10  # most shapes were tried


def entries(journal: str, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    query = {"since": since} if limit is None else {"since": since, "limit": limit}
    answer = requests.get(journal, params=query, timeout=10)
    assert answer.status_code == 200
    found: list[dict[str, Any]] = answer.json()["requests"]
    return found


def test_a_reply_quoting_the_key_is_journaled_without_it(
    client: MockClient, service: MockService
) -> None:
    key = "sk-" + "q" * 80  # longer than a validation message quotes: it is cut there
    answer = client.post([{"taskType": "authentication", "apiKey": [key]}, {"taskType": "ping"}])
    assert answer.codes == ["invalidApiKey"]
    assert key[:40] in answer.errors[0]["message"]  # the caller sees what it sent
    [entry] = service.journal.entries()
    assert key[:8] not in json.dumps([entry.request, entry.response])
    assert entry.response["errors"][0]["message"].endswith(f'(got ["{REDACTED}...).')


def test_the_mocks_own_words_about_apikey_stay_readable(
    client: MockClient, service: MockService
) -> None:
    answer = client.post([{"taskType": "ping", "apiKey": "sk-not-here-0123456789"}])
    [entry] = service.journal.entries()
    assert entry.request == [{"taskType": "ping", "apiKey": REDACTED}]
    assert entry.response == answer.body  # "Unsupported parameter apiKey: the ping task ..."
    assert "apiKey: the ping task" in entry.response["errors"][0]["message"]


# -- fingerprints --------------------------------------------------------------------
def test_a_fingerprint_is_an_hmac_keyed_with_the_stores_secret() -> None:
    store = SqliteStore()
    try:
        secret = store.secret
        assert len(secret) >= 32
        expected = hmac.new(secret, API_KEY.encode(), hashlib.sha256).hexdigest()[:16]
        assert fingerprint(API_KEY, secret) == expected
        assert fingerprint(API_KEY, secret) != hashlib.sha256(API_KEY.encode()).hexdigest()[:16]
    finally:
        store.close()


def test_one_key_has_another_fingerprint_in_another_store(tmp_path: Path) -> None:
    stores = [SqliteStore(), SqliteStore(), SqliteStore(tmp_path / "a" / "ltxmock.sqlite3")]
    try:
        prints = {fingerprint(API_KEY, store.secret) for store in stores}
        assert len(prints) == len(stores)
    finally:
        for store in stores:
            store.close()


def test_every_process_of_a_data_dir_reads_one_secret(tmp_path: Path) -> None:
    database = tmp_path / "ltxmock.sqlite3"
    code = (
        "import sys; from pathlib import Path; from ltxmock.server.store import SqliteStore;"
        "s = SqliteStore(Path(sys.argv[1])); print(s.secret.hex()); s.close()"
    )
    starting = [  # all at once, on a data dir nobody made yet
        subprocess.Popen(
            [sys.executable, "-c", code, str(database)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    secrets = {process.communicate(timeout=60)[0].strip() for process in starting}
    assert all(process.returncode == 0 for process in starting)
    assert len(secrets) == 1
    assert "" not in secrets
    again = SqliteStore(database)  # a later worker, and a restart
    try:
        assert again.secret.hex() in secrets
        again.reset()
        assert again.secret.hex() in secrets
    finally:
        again.close()


def test_a_data_dir_made_before_secrets_gets_one(tmp_path: Path) -> None:
    database = tmp_path / "ltxmock.sqlite3"
    SqliteStore(database).close()
    with sqlite3.connect(database) as raw:
        raw.execute("DELETE FROM meta WHERE key = 'secret'")
    raw.close()
    first = SqliteStore(database)
    second = SqliteStore(database)
    try:
        assert first.secret == second.secret
    finally:
        first.close()
        second.close()


def test_tasks_are_stored_with_the_keyed_fingerprint_and_keep_it_over_restarts(
    tmp_path: Path,
) -> None:
    task = video_task()
    first = MockClient(create_app(MockConfig(latency=0, data_dir=tmp_path, render_mode="lazy")))
    assert first.submit(task).status == 200
    store = first.service.store
    record = store.tasks.get(task["taskUUID"], now=first.service.now())
    assert record is not None
    assert record.key_fingerprint == fingerprint(API_KEY, store.secret)
    first.service.close()
    again = MockClient(create_app(MockConfig(latency=0, data_dir=tmp_path, render_mode="lazy")))
    try:
        assert again.poll(task["taskUUID"]).statuses == ["success"]
        assert again.poll(task["taskUUID"], key="another-key-42").codes == ["taskNotFound"]
    finally:
        again.service.close()


def test_websocket_sessions_resume_only_for_their_own_key() -> None:
    with MockServer(latency=0) as mock:
        with connect(mock.ws_url, proxy=None, open_timeout=10) as ws:
            ws.send(json.dumps([auth_element()]))
            session = json.loads(ws.recv(timeout=10))["data"][0]["connectionSessionUUID"]
        for key, resumed in (("someone-else-1", False), (API_KEY, True)):
            with connect(mock.ws_url, proxy=None, open_timeout=10) as ws:
                ws.send(json.dumps([{**auth_element(key), "connectionSessionUUID": session}]))
                again = json.loads(ws.recv(timeout=10))["data"][0]["connectionSessionUUID"]
                assert (again == session) is resumed


# -- result files: never through a link -------------------------------------------
OUTSIDE = b"the host's private file, not a video\n" * 50


@pytest.fixture
def lazy(tmp_path: Path, clock: FakeClock) -> MockClient:
    config = MockConfig(
        latency=3,
        clock=clock,
        data_dir=tmp_path / "data",
        render_mode="lazy",
        render_executor="thread",
        delivery_backoff=0.02,
        delivery_backoff_cap=0.1,
        delivery_poll_interval=0.02,
    )
    return MockClient(create_app(config))


def planted(client: MockClient, task_uuid: str, tmp_path: Path) -> tuple[MediaRow, Path, Path]:
    """A link at the cache name of the task's first result, to a file outside the data dir."""
    service = client.service
    record = service.store.tasks.get(task_uuid, now=service.now())
    assert record is not None
    row = service.results.rows(record)[0]
    path = service.results.path(row)
    outside = tmp_path / "outside.bin"
    outside.write_bytes(OUTSIDE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(outside)
    return row, path, outside


def fetch(client: MockClient, url: str) -> Any:
    return client.app.test_client().get(url.removeprefix("http://localhost"))


def test_a_link_at_a_cache_name_is_never_served(
    lazy: MockClient, clock: FakeClock, tmp_path: Path
) -> None:
    task = video_task()
    lazy.submit(task)
    row, path, outside = planted(lazy, task["taskUUID"], tmp_path)
    clock.advance(3)
    [done] = lazy.poll(task["taskUUID"]).data
    response = fetch(lazy, done["videoURL"])
    # The link was not taken for the render: the video was rendered in its place.
    assert OUTSIDE[:20] not in response.get_data()
    assert response.status_code == 200
    assert not path.is_symlink()
    assert response.get_data() == path.read_bytes()
    assert outside.read_bytes() == OUTSIDE  # unlinking a link leaves its target
    assert lazy.service.results.open_file(row) is not None
    lazy.service.close()


def test_a_link_swapped_in_after_the_check_answers_404(
    lazy: MockClient, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = video_task()
    lazy.submit(task)
    clock.advance(3)
    [done] = lazy.poll(task["taskUUID"]).data
    assert fetch(lazy, done["videoURL"]).status_code == 200  # rendered
    outside = tmp_path / "outside.bin"
    outside.write_bytes(OUTSIDE)
    opening = Renders.open_file

    def swap_then_open(self: Renders, row: MediaRow) -> Any:
        path = self.path(row)
        path.unlink()
        path.symlink_to(outside)
        return opening(self, row)

    monkeypatch.setattr(Renders, "open_file", swap_then_open)
    response = fetch(lazy, done["videoURL"])
    assert response.status_code == 404
    assert response.get_json()["errors"][0]["code"] == "notFound"
    assert OUTSIDE[:20] not in response.get_data()
    lazy.service.close()


def test_an_upload_never_sends_a_linked_file(
    lazy: MockClient, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(OUTSIDE)
    opening = Renders.open_file
    swaps: list[Path] = []

    def swap_once_then_open(self: Renders, row: MediaRow) -> Any:
        if not swaps:  # the first upload attempt finds a link where the video was
            path = self.path(row)
            path.unlink()
            path.symlink_to(outside)
            swaps.append(path)
        return opening(self, row)

    monkeypatch.setattr(Renders, "open_file", swap_once_then_open)
    with Receiver() as bucket:
        task = video_task(uploadEndpoint=f"{bucket.base}/bucket/v.mp4")
        lazy.submit(task)
        clock.advance(3)
        put = bucket.wait(1)[0].body
        lazy.service.close()
    [path] = swaps
    assert OUTSIDE[:20] not in put
    assert len(bucket.requests) == 1
    assert put == path.read_bytes()
    assert not path.is_symlink()
    assert outside.read_bytes() == OUTSIDE


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo", "directory"])
def test_only_a_regular_file_of_its_own_is_opened(tmp_path: Path, kind: str) -> None:
    service = service_of(create_app(MockConfig(data_dir=tmp_path / "data")))
    try:
        row = MediaRow("v", "t", 0, "a" * 64 + ".mp4", "video/mp4", expires_at=1e12)
        path = service.results.path(row)
        outside = tmp_path / "outside.bin"
        outside.write_bytes(OUTSIDE)
        makers: dict[str, Callable[[], None]] = {
            "symlink": lambda: path.symlink_to(outside),
            "hardlink": lambda: os.link(outside, path),
            "fifo": lambda: os.mkfifo(path),
            "directory": path.mkdir,
        }
        makers[kind]()
        assert service.results.open_file(row) is None  # and a FIFO did not block the open
        if kind != "directory":
            path.unlink()
        else:
            path.rmdir()
        path.write_bytes(b"rendered")
        opened = service.results.open_file(row)
        assert opened is not None
        assert opened.size == len(b"rendered")
        with opened.file as file:
            assert file.read() == b"rendered"
    finally:
        service.close()
