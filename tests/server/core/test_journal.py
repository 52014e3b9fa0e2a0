"""The request journal: what users' contract tests assert on; never holds a key."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from support.server import API_KEY, FakeClock, MockClient, auth_element, video_task

from ltxmock.server import MockConfig, MockService, create_app
from ltxmock.server.core.faults import FAULT_HEADER
from ltxmock.server.core.journal import REDACTED, redact
from ltxmock.server.http.app import service_of


def test_every_exchange_is_recorded_in_order(
    client: MockClient, service: MockService, clock: FakeClock
) -> None:
    task = video_task()
    client.submit(task)
    clock.advance(1)
    client.poll(task["taskUUID"], path="/v1/")
    client.post(raw=b"{nope")
    client.request("GET", "/nowhere")
    entries = service.journal.entries()
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("POST", "/v1", 200),
        ("POST", "/v1/", 200),
        ("POST", "/v1", 400),
        ("GET", "/nowhere", 404),
    ]
    submit, poll, malformed, _ = entries
    assert submit.transport == "rest"
    assert submit.at == clock() - 1
    assert submit.request == [task]
    assert submit.response == {
        "data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]
    }
    assert poll.response["data"][0]["status"] == "processing"
    assert malformed.request == "{nope"
    assert service.journal.for_task(task["taskUUID"]) == [submit, poll]
    assert [e.id for e in entries] == sorted(e.id for e in entries)  # type: ignore[type-var]


def test_api_keys_never_reach_the_journal(client: MockClient, service: MockService) -> None:
    client.post([auth_element(), video_task()], key=None)
    client.post([auth_element("wrong-key-xyz"), video_task()], key=None, headers={})
    client.post(raw=b'[{"taskType":"authentication","apiKey":"raw-secret-1"},', key=None)
    client.submit(video_task())  # the Bearer header
    journal = json.dumps([e.to_dict() for e in service.journal])
    for secret in (API_KEY, "raw-secret-1"):
        assert secret not in journal
    first = service.journal.entries()[0]
    assert first.request[0] == {"taskType": "authentication", "apiKey": REDACTED}
    assert '"apiKey":"[redacted]"' in service.journal.entries()[2].request


def test_the_store_file_holds_neither_the_key_nor_the_header(tmp_path: Path) -> None:
    app = create_app(MockConfig(data_dir=tmp_path, latency=0))
    client = MockClient(app, key="sk-very-secret-key-000")
    task = video_task()
    client.submit(task)
    client.poll(task["taskUUID"])
    client.post([auth_element("sk-very-secret-key-000"), {"taskType": "ping"}], key=None)
    service_of(app).close()
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"sk-very-secret-key-000" not in stored
    assert task["taskUUID"].encode() in stored


def test_injected_faults_are_named_in_the_journal(client: MockClient, service: MockService) -> None:
    client.submit(video_task(), headers={FAULT_HEADER: "503"})
    client.submit(video_task(), headers={FAULT_HEADER: "task:providerError"})
    client.submit(video_task())
    assert [e.fault for e in service.journal] == [
        "503:serviceUnavailable",
        "task:providerError",
        None,
    ]


def test_the_journal_keeps_only_the_newest_entries(clock: FakeClock) -> None:
    client = MockClient(create_app(latency=0, clock=clock, journal_limit=5))
    for number in range(12):
        client.post([{"taskType": "ping", "taskUUID": str(uuid.UUID(int=number))}])
    entries = client.service.journal.entries()
    assert [e.request[0]["taskUUID"] for e in entries] == [
        str(uuid.UUID(int=n)) for n in range(7, 12)
    ]
    assert [e.id for e in entries] == sorted({e.id for e in entries})  # unique, increasing


def test_the_admin_api_reads_and_clears_the_journal(client: MockClient) -> None:
    for _ in range(4):
        client.post([{"taskType": "ping"}])
    everything = client.admin("GET", "/requests").body["requests"]
    assert len(everything) == 4
    assert set(everything[0]) == {
        "id",
        "at",
        "transport",
        "method",
        "path",
        "status",
        "fault",
        "request",
        "response",
        "headers",
    }
    newest = client.admin("GET", "/requests?limit=2").body["requests"]
    assert newest == everything[2:]
    since = client.admin("GET", f"/requests?since={everything[0]['id']}").body["requests"]
    assert since == everything[1:]
    assert client.admin("GET", "/requests?limit=-1").status == 400
    assert client.admin("DELETE", "/requests").body == {"requests": []}
    assert client.admin("GET", "/requests").body == {"requests": []}


def test_admin_calls_are_not_journaled(client: MockClient, service: MockService) -> None:
    client.admin("GET", "/health")
    client.admin("GET", "/nope")
    assert service.journal.entries() == []


def test_reset_forgets_tasks_faults_and_journal(client: MockClient, service: MockService) -> None:
    task = video_task()
    client.submit(task)
    service.faults.respond_with(429, task_type="videoInference")
    assert client.admin("POST", "/reset").body == {"reset": True}
    assert service.faults.all() == []
    assert client.poll(task["taskUUID"]).codes == ["taskNotFound"]
    assert len(service.journal) == 1  # just that poll


def test_health_reports_the_store_and_task_count(client: MockClient) -> None:
    client.submit(video_task())
    health = client.admin("GET", "/health")
    assert health.status == 200
    assert health.body["status"] == "ok"
    assert health.body["tasks"] == 1
    assert health.body["store"] == "in-memory"


def test_redaction_shortens_huge_strings_and_hides_keys() -> None:
    body = [{"taskType": "x", "image": "A" * 10_000, "nested": {"APIKEY": "k"}}]
    safe = redact(body)
    assert len(safe[0]["image"]) < 300
    assert safe[0]["nested"]["APIKEY"] == REDACTED
    assert body[0]["nested"]["APIKEY"] == "k"  # a copy; the request is untouched


# -- bounded entries --------------------------------------------------------------------
def test_a_huge_request_is_journaled_as_an_excerpt(client: MockClient) -> None:
    from ltxmock.server.core.journal import MAX_KEPT

    tasks = [video_task(positivePrompt="x" * 1000) for _ in range(400)]  # ~500 KB
    answer = client.submit(*tasks)
    assert answer.status == 400  # over the task cap
    entry = client.service.journal.last()
    assert entry is not None
    kept = entry.request
    assert isinstance(kept, list)
    assert 0 < len(kept) < len(tasks)
    assert kept[:-1] == tasks[: len(kept) - 1]
    assert kept[-1]["ltxmockJournal"].startswith(f"[{len(tasks) - len(kept) + 1} more items")
    assert len(json.dumps(kept, separators=(",", ":"))) < MAX_KEPT + 200


def test_a_huge_raw_body_is_journaled_as_its_start(client: MockClient) -> None:
    from ltxmock.server.core.journal import MAX_KEPT

    raw = '[{"taskType": "ping", "apiKey": "sk-hidden-0123456789"}' + " " * (300 * 1024)
    assert client.post(raw=raw).status == 400  # not JSON: the raw text is journaled
    entry = client.service.journal.last()
    assert entry is not None
    assert isinstance(entry.request, str)
    assert len(entry.request) < MAX_KEPT  # long strings keep their start only
    assert entry.request.startswith('[{"taskType": "ping", "apiKey": "[redacted]"}')
    assert "sk-hidden" not in entry.request
