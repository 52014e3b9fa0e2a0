"""The admin guard and the delivery targets on a real ``ltxmock serve`` (gunicorn, uvicorn
workers, admin routes bridged to Flask), the banner's exposure warning and the CLI flags."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import requests
from support.server import LiveServer, get_response, video_task, wait_for

from ltxmock.server import MockConfig
from ltxmock.server.serve import cli, workers

EVIL = "http://evil.example"
TOKEN = "live-t0ken-5f2a"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer("--workers", "2", latency=0.2) as live:
        yield live


def pollable(server: LiveServer, task_uuid: str) -> bool:
    answer = server.post([get_response(task_uuid)]).json()
    return bool(answer.get("data")) and answer["data"][0]["taskUUID"] == task_uuid


def error_code(answer: requests.Response) -> str:
    assert answer.headers["Content-Type"] == "application/json"
    code: str = answer.json()["errors"][0]["code"]
    return code


@pytest.mark.slow
def test_a_web_page_cannot_reset_a_live_mock(server: LiveServer) -> None:
    task = video_task()
    assert server.post([task]).status_code == 200
    reset = f"{server.base}/__ltxmock/reset"
    # What any page's fetch() or form can send, then the same with the JSON type.
    plain = requests.post(
        reset, data="{}", headers={"Content-Type": "text/plain", "Origin": EVIL}, timeout=10
    )
    assert (plain.status_code, error_code(plain)) == (415, "unsupportedContentType")
    foreign = requests.post(reset, json={}, headers={"Origin": EVIL}, timeout=10)
    assert (foreign.status_code, error_code(foreign)) == (403, "crossOriginRequest")
    # A rebound name: the socket reaches 127.0.0.1, the Host says evil.example.
    rebound = requests.post(reset, json={}, headers={"Host": "evil.example:80"}, timeout=10)
    assert (rebound.status_code, error_code(rebound)) == (403, "forbiddenHost")
    journal = requests.get(
        f"{server.base}/__ltxmock/requests", headers={"Host": "evil.example"}, timeout=10
    )
    assert journal.status_code == 403
    assert pollable(server, task["taskUUID"])
    assert server.admin("GET", "/requests").json()["requests"]


@pytest.mark.slow
def test_a_webhook_at_the_mocks_own_reset_does_not_reset_it(server: LiveServer) -> None:
    port = server.base.rsplit(":", 1)[1]
    kept = video_task()
    assert server.post([kept]).status_code == 200
    targets = [
        f"{server.base}/__ltxmock/reset",
        f"http://localhost:{port}/__ltxmock/reset",
        f"http://[::1]:{port}/__ltxmock/reset",
    ]
    tasks = [video_task(webhookURL=url) for url in targets]
    for task in tasks:
        assert server.post([task]).status_code == 200

    def deliveries() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = server.admin("GET", "/deliveries").json()["deliveries"]
        return [d for d in rows if d["task_uuid"] in {t["taskUUID"] for t in tasks}]

    wait_for(
        lambda: len(deliveries()) == 3 and all(d["state"] != "pending" for d in deliveries()),
        timeout=30,
    )
    for delivery in deliveries():
        assert (delivery["state"], delivery["attempts"]) == ("failed", 0)
        assert "is the mock itself" in delivery["last_error"]
    assert pollable(server, kept["taskUUID"])
    assert all(pollable(server, task["taskUUID"]) for task in tasks)


@pytest.mark.slow
def test_an_admin_token_guards_a_live_mock_and_is_never_shown() -> None:
    with LiveServer("--workers", "1", "--admin-token", TOKEN, latency=0.2) as live:
        banner = "".join(live.banner)
        assert "token required" in banner
        assert "WARNING" not in banner
        url = f"{live.base}/__ltxmock/requests"
        bare = requests.get(url, timeout=10)
        assert (bare.status_code, error_code(bare)) == (401, "invalidAdminToken")
        bearer = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert bearer.status_code == 200
        named = requests.get(url, headers={"X-Ltxmock-Admin-Token": TOKEN}, timeout=10)
        assert named.status_code == 200
        assert requests.get(f"{live.base}/__ltxmock/health", timeout=10).status_code == 200
    assert TOKEN not in banner
    assert TOKEN not in live.log


# -- the banner and the flags, without a server -------------------------------------------
class _Arbiter:
    LISTENERS: ClassVar[tuple[Any, ...]] = ()


def _banner(capsys: pytest.CaptureFixture[str], config: MockConfig) -> str:
    workers.announce(_Arbiter(), config, 1, None)
    out: str = capsys.readouterr().out
    return out


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "mock.team.example"])
def test_binding_beyond_loopback_without_a_token_warns(
    capsys: pytest.CaptureFixture[str], host: str
) -> None:
    banner = _banner(capsys, MockConfig(host=host))
    assert f"WARNING: listening on {host}, beyond this machine, without --admin-token" in banner
    for exposed in ("reset the mock", "add faults", "request journal", "delivery log"):
        assert exposed in banner
    assert banner.rstrip().endswith("Press Ctrl-C to stop.")  # the test kit waits for it


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_or_a_token_needs_no_warning(
    capsys: pytest.CaptureFixture[str], host: str
) -> None:
    assert "WARNING" not in _banner(capsys, MockConfig(host=host))
    banner = _banner(capsys, MockConfig(host="0.0.0.0", admin_token=TOKEN))
    assert "WARNING" not in banner
    assert "token required" in banner
    assert TOKEN not in banner


def test_the_cli_flags_reach_the_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[MockConfig] = []

    def fake_serve(config: MockConfig, **options: Any) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr(workers, "serve", fake_serve)
    monkeypatch.delenv("LTXMOCK_ADMIN_TOKEN", raising=False)
    argv = ["--callback-allow", "hooks.example.com", "--callback-allow", "127.0.0.1:9000"]
    assert cli.main([*argv, "--admin-token", TOKEN]) == 0
    assert cli.main([]) == 0
    monkeypatch.setenv("LTXMOCK_ADMIN_TOKEN", TOKEN)  # keeps it out of `ps`
    assert cli.main([]) == 0
    flagged, plain, from_env = seen
    assert flagged.admin_token == TOKEN
    assert flagged.callback_allow == ("hooks.example.com", "127.0.0.1:9000")
    assert (plain.admin_token, plain.callback_allow) == (None, ())
    assert from_env.admin_token == TOKEN


def test_a_bad_callback_allow_entry_stops_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--callback-allow", "http://hooks.example.com"]) == 2
    assert "callback_allow" in capsys.readouterr().err
    parser = argparse.ArgumentParser()
    cli.add_serve_command(parser.add_subparsers())
    assert parser.parse_args(["serve", "--admin-token", "x"]).admin_token == "x"
