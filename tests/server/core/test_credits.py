"""Credits: ``balance`` per API key, spent by accepted tasks; 402 ``insufficientCredits``
once spent; readable and settable through the admin API; one balance for every
worker process sharing a data dir."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.server import API_KEY, FakeClock, MockClient, video_task

from ltxmock.server import MockConfig, create_app
from ltxmock.server.core.credits import task_cost
from ltxmock.server.core.request import ApiRequest
from ltxmock.server.http.app import service_of

OTHER_KEY = "other-key-0123456789"


@pytest.fixture
def mock_config(clock: FakeClock) -> MockConfig:
    return MockConfig(latency=3.0, clock=clock, render_mode="lazy", balance=1.0)


def test_accepted_tasks_spend_until_a_submit_is_refused_with_402(client: MockClient) -> None:
    statuses = [client.submit(video_task()).status for _ in range(5)]  # $0.24 each
    assert statuses == [200, 200, 200, 200, 402]
    refused = client.submit(video_task())
    assert refused.status == 402
    (error,) = refused.errors
    assert error["code"] == "insufficientCredits"
    assert error["message"].startswith("Insufficient credits")
    assert error["taskType"] == "videoInference"
    account = client.admin("POST", "/credits/query", {"apiKey": API_KEY}).body
    assert (account["balance"], account["spent"]) == (0.04, 0.96)
    assert API_KEY not in str(client.admin("GET", "/credits").body)


def test_a_refused_request_stores_none_of_its_tasks(client: MockClient) -> None:
    client.admin("PUT", "/credits", {"apiKey": API_KEY, "balance": 0.3})
    first, second = video_task(), video_task()
    assert client.submit(first, second).status == 402  # $0.48 > $0.30
    assert client.poll(first["taskUUID"]).codes == ["taskNotFound"]
    assert client.submit(first).status == 200  # $0.24 fits
    assert client.admin("POST", "/credits/query", {"apiKey": API_KEY}).body["balance"] == 0.06


def test_a_retry_of_a_known_task_is_free(client: MockClient) -> None:
    task = video_task()
    for _ in range(6):
        assert client.submit(task).status == 200
    assert client.admin("POST", "/credits/query", {"apiKey": API_KEY}).body["spent"] == 0.24


def test_each_key_has_its_own_balance_and_the_default_applies_to_new_ones(
    client: MockClient,
) -> None:
    assert client.admin("PUT", "/credits", {"apiKey": OTHER_KEY, "balance": 0}).status == 200
    assert client.submit(video_task(), key=OTHER_KEY).status == 402
    assert client.submit(video_task()).status == 200
    client.admin("PUT", "/credits", {"balance": 0.5})
    assert client.admin("GET", "/credits").body["default"] == 0.5
    third = "third-key-0123456789"
    assert [client.submit(video_task(), key=third).status for _ in range(3)] == [200, 200, 402]
    client.admin("PUT", "/credits", {"apiKey": third, "balance": None})  # unlimited
    assert client.submit(video_task(), key=third).status == 200


def test_polls_and_pings_cost_nothing(client: MockClient) -> None:
    client.admin("PUT", "/credits", {"apiKey": API_KEY, "balance": 0})
    assert client.post([{"taskType": "ping"}]).status == 200
    assert client.poll(video_task()["taskUUID"]).codes == ["taskNotFound"]


def test_without_a_balance_nothing_is_counted(clock: FakeClock) -> None:
    client = MockClient(create_app(MockConfig(latency=0, clock=clock, render_mode="lazy")))
    try:
        assert [client.submit(video_task(duration=10, width=3840, height=2160)).status
                for _ in range(20)] == [200] * 20  # fmt: skip
        assert client.admin("GET", "/credits").body == {"default": None, "accounts": []}
    finally:
        client.service.close()


@pytest.mark.parametrize(
    "body",
    [{}, {"balance": -1}, {"balance": "5"}, {"balance": True}, {"apiKey": "", "balance": 1},
     {"apiKey": "k", "balance": 1, "extra": 2}],
)  # fmt: skip
def test_a_bad_credits_request_is_a_clear_400(client: MockClient, body: dict[str, object]) -> None:
    answer = client.admin("PUT", "/credits", body)
    assert (answer.status, answer.codes) == (400, ["invalidCredits"])


def test_reset_forgets_balances(client: MockClient) -> None:
    client.admin("PUT", "/credits", {"apiKey": API_KEY, "balance": 0})
    client.admin("POST", "/reset")
    assert client.submit(video_task()).status == 200  # back to the configured $1


@settings(max_examples=30, deadline=None)
@given(
    balance=st.integers(0, 400).map(lambda cents: cents / 100),
    durations=st.lists(st.sampled_from([6, 8, 10]), min_size=1, max_size=8),
)
def test_the_balance_is_never_overspent(balance: float, durations: list[int]) -> None:
    client = MockClient(create_app(MockConfig(latency=0, render_mode="lazy", balance=balance)))
    try:
        spent = 0.0
        for duration in durations:
            task = video_task(duration=duration)
            cost = task_cost(task)
            answer = client.submit(task)
            if round(spent + cost, 4) <= balance:
                assert answer.status == 200
                spent = round(spent + cost, 4)
            else:
                assert answer.codes == ["insufficientCredits"]
        account = client.admin("POST", "/credits/query", {"apiKey": API_KEY}).body
        assert account["spent"] == spent
        assert account["balance"] == round(balance - spent, 4)
    finally:
        client.service.close()


def test_workers_sharing_a_data_dir_spend_one_balance_exactly(tmp_path: Path) -> None:
    """Two services (as two worker processes would) on one data dir, submitting at once."""
    config = MockConfig(latency=0, render_mode="lazy", data_dir=tmp_path, balance=2.4)
    services = [service_of(create_app(config)) for _ in range(2)]
    accepted: list[int] = []
    lock = threading.Lock()

    def submit_many(index: int) -> None:
        service = services[index % 2]
        ok = sum(
            service.handle(ApiRequest([video_task()], api_key=API_KEY)).status == 200
            for _ in range(8)
        )
        with lock:
            accepted.append(ok)

    threads = [threading.Thread(target=submit_many, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sum(accepted) == 10  # $2.40 / $0.24, whichever worker took them
        assert services[1].credits.account(API_KEY).balance == 0
    finally:
        for service in services:
            service.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/__ltxmock/credits"), ("POST", "/__ltxmock/credits/query"),
     ("POST", "/__ltxmock/scripts"), ("DELETE", "/__ltxmock/scripts")],
)  # fmt: skip
def test_the_new_admin_routes_are_guarded_like_the_others(
    client: MockClient, method: str, path: str
) -> None:
    plain = client.request(method, path, data="{}", headers={"Content-Type": "text/plain"})
    assert plain.status == 415
    foreign = client.request(
        method,
        path,
        json={"balance": 0},
        headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
    )
    assert foreign.status == 403
    assert client.submit(video_task()).status == 200  # the balance was not touched
