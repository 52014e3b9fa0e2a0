"""Faults, credits and the capture sink against a real ``ltxmock serve`` over plain HTTP
(gunicorn, two uvicorn workers sharing one store), and transport faults over sockets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support.server import LiveServer, get_response, video_task

from ltxmock.server import MockConfig
from ltxmock.server.serve.asgi import create_asgi_app
from ltxmock.server.serve.threaded import ThreadedServer

pytestmark = pytest.mark.slow

RESET_KEY = "reset-key-0123456789"
LATENCY = 0.5


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(
        "--workers", "2", "--balance", "0.5", "--fault-key", f"{RESET_KEY}=reset", latency=LATENCY
    ) as live:
        yield live


def fresh_key() -> str:
    return f"key-{time.monotonic_ns()}"


def test_an_error_directive_fails_the_task_when_polled(server: LiveServer) -> None:
    key = fresh_key()
    task = video_task(positivePrompt="a red fox [[ltxmock:error=timeoutProvider]]")
    ack = server.post([task], key=key)
    assert ack.json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    time.sleep(LATENCY + 0.1)
    failed = server.post([get_response(task["taskUUID"])], key=key)
    assert failed.status_code == 200
    (error,) = failed.json()["errors"]
    assert (error["code"], error["status"], error["taskUUID"]) == (
        "timeoutProvider",
        "error",
        task["taskUUID"],
    )
    assert "ltxmock" not in failed.text


def test_a_status_directive_answers_the_submit_with_retry_after(server: LiveServer) -> None:
    task = video_task(positivePrompt="a red fox [[ltxmock:status=429;retry-after=3]]")
    answer = server.post([task], key=fresh_key())
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "3")
    assert answer.json()["errors"][0]["code"] == "rateLimitExceeded"


def test_credits_run_out_with_402_insufficient_credits(server: LiveServer) -> None:
    key = fresh_key()
    statuses = [server.post([video_task()], key=key).status_code for _ in range(3)]
    assert statuses == [200, 200, 402]  # $0.24 each from $0.50, whichever worker answers
    refused = server.post([video_task()], key=key)
    assert refused.json()["errors"][0]["code"] == "insufficientCredits"
    account = server.admin("POST", "/credits/query", {"apiKey": key}).json()
    assert (account["balance"], account["spent"]) == (0.02, 0.48)
    assert server.admin("PUT", "/credits", {"apiKey": key, "balance": 1}).status_code == 200
    assert server.post([video_task()], key=key).status_code == 200


def test_concurrent_submits_on_two_workers_never_overspend(server: LiveServer) -> None:
    key = fresh_key()
    server.admin("PUT", "/credits", {"apiKey": key, "balance": 2.4})  # ten 1080p/6 s tasks

    def submit(_: int) -> int:
        with requests.Session() as http:  # a connection each: spread over both workers
            answer = http.post(
                server.url,
                json=[video_task()],
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            return answer.status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(submit, range(24)))
    assert sorted(statuses) == [200] * 10 + [402] * 14
    account = server.admin("POST", "/credits/query", {"apiKey": key}).json()
    assert (account["balance"], account["spent"]) == (0.0, 2.4)


def test_a_webhook_to_a_reserved_name_is_captured(server: LiveServer) -> None:
    task = video_task(webhookURL="https://hooks.example.com/done?token=t0k3n")
    assert server.post([task], key=fresh_key()).status_code == 200
    deadline = time.monotonic() + 30
    while True:
        shown = server.get(f"/__ltxmock/deliveries?task={task['taskUUID']}&kind=webhook").json()
        if shown["deliveries"] and shown["deliveries"][0]["state"] != "pending":
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.05)
    (delivery,) = shown["deliveries"]
    assert delivery["state"] == "captured"
    assert delivery["captured"]["body"]["status"] == "success"
    assert delivery["captured"]["body"]["taskUUID"] == task["taskUUID"]


def test_a_fault_key_resets_the_connection_after_handling_the_request(server: LiveServer) -> None:
    task = video_task()
    with pytest.raises(requests.ConnectionError):
        server.post([task], key=RESET_KEY)
    # The submit was accepted before the connection was reset: the journal says so
    # (every request of this key is reset, so it cannot ask itself).
    entries = server.admin("GET", "/requests").json()["requests"]
    (entry,) = [e for e in entries if task["taskUUID"] in str(e["request"])]
    assert (entry["status"], entry["fault"]) == (200, "transport:reset")
    assert entry["response"] == {
        "data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]
    }


@pytest.mark.parametrize("header", ["reset", "truncate"])
def test_reset_and_truncate_break_the_answer_on_the_wire(server: LiveServer, header: str) -> None:
    key = fresh_key()
    task = video_task()
    with pytest.raises(requests.exceptions.RequestException):
        server.post([task], key=key, headers={"X-Ltxmock-Fault": header})
    assert server.post([task], key=key).status_code == 200  # the retry is acked


@pytest.mark.parametrize("selector", ["directive", "rule"])
def test_a_truncated_answer_by_directive_or_rule(server: LiveServer, selector: str) -> None:
    key = fresh_key()
    task = video_task()
    if selector == "directive":
        task["positivePrompt"] += " [[ltxmock:transport=truncate]]"
    else:
        rule = {"transport": "truncate", "match": {"taskUUID": task["taskUUID"]}}
        assert server.admin("POST", "/faults", rule).status_code == 201
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        server.post([task], key=key)
    # The submit was accepted before its answer was cut: the task can be polled.
    polled = server.post([get_response(task["taskUUID"])], key=key)
    assert polled.json()["data"][0]["taskUUID"] == task["taskUUID"]


def test_a_delay_holds_the_answer_back(server: LiveServer) -> None:
    started = time.monotonic()
    answer = server.post([{"taskType": "ping"}], headers={"X-Ltxmock-Fault": "delay:0.6-0.8"})
    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.6


def test_a_hang_lasts_until_the_client_gives_up(server: LiveServer) -> None:
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        server.http.post(
            server.url,
            json=[{"taskType": "ping"}],
            headers={"Authorization": "Bearer k", "X-Ltxmock-Fault": "hang"},
            timeout=(5, 1.0),
        )
    assert time.monotonic() - started >= 1.0
    assert server.post([{"taskType": "ping"}]).status_code == 200  # the server is fine


def test_transport_rules_work_in_the_test_kit_runtime_too() -> None:
    app = create_asgi_app(MockConfig(latency=0, render_mode="lazy"))
    runtime = ThreadedServer(app)
    runtime.start()
    try:
        url = f"http://127.0.0.1:{runtime.port}/v1"
        app.service.faults.add_transport("reset", times=1, task_type="ping")
        headers = {"Authorization": "Bearer k", "Content-Type": "application/json"}
        with pytest.raises(requests.ConnectionError):
            requests.post(url, data='[{"taskType":"ping"}]', headers=headers, timeout=5)
        after = requests.post(url, data='[{"taskType":"ping"}]', headers=headers, timeout=5)
        assert after.json() == {"data": [{"taskType": "ping", "pong": True}]}
    finally:
        runtime.stop()
        app.service.close()
