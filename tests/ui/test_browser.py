"""The dashboard in a real browser (headless Debian Chromium, driven by Playwright) over a
live mock on a loopback port: tasks submitted through the API appear with their status,
progress, cost and a playing video; a rejected request shows its errors on the payload;
the fault controls make the next request fail; the playground lints and sends; every
control has an accessible name and the keyboard reaches it; the lists stay bounded.

The last picture each test takes is saved under ``tests/ui/artifacts/`` (gitignored).
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect
from support.receiver import Receiver
from support.server import API_KEY, FAST_DELIVERIES, LiveServer, video_task
from websockets.sync.client import connect

from ltxmock.testing import MockServer

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).parent / "artifacts"
WAIT = 15_000  # ms: a poll a second, a 1.5 s latency, a render on a busy machine
INTERACTIVE = {"button", "textbox", "combobox", "spinbutton", "checkbox", "link", "slider"}
# Roles whose name is how a screen reader tells one box from the next: a region (the
# playground's lint and answer views), a figure (an opened request's payload and answer).
NAMED_BOXES = {"region", "figure"}
LAPTOPS = [(1280, 720), (1366, 768)]


def submit(server: MockServer, *tasks: dict[str, Any], **headers: str) -> requests.Response:
    return requests.post(
        server.url,
        json=list(tasks),
        headers={"Authorization": f"Bearer {API_KEY}", **headers},
        timeout=10,
    )


def open_dashboard(page: Any, server: MockServer) -> None:
    page.goto(f"{server.base_url}/__ltxmock/ui")
    expect(page.locator("#connection")).to_have_text(re.compile("^Live"), timeout=WAIT)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_task_submitted_a_moment_earlier_is_seen_with_its_status(
    page: Any, live: MockServer
) -> None:
    task = video_task(includeCost=True, positivePrompt="A heron lands on a frozen pond")
    assert submit(live, task).status_code == 200
    open_dashboard(page, live)
    row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
    expect(row).to_contain_text("A heron lands on a frozen pond", timeout=WAIT)
    expect(row).to_have_attribute("data-status", "success", timeout=WAIT)
    expect(row.locator("td").nth(1)).to_have_text("success")
    expect(row.locator("progress")).to_have_attribute("value", "100")
    expect(row.locator("td.cost")).to_have_text("$0.2400")  # 1080p x 6 s
    expect(page.locator("#spent")).to_have_text("$0.2400")
    # The video: in the row right below its task's, the table's whole width.
    video = page.locator(f'#task-rows tr[data-videos-of="{task["taskUUID"]}"] video')
    expect(video).to_have_count(1)
    assert row.evaluate("row => row.nextElementSibling.dataset.videosOf") == task["taskUUID"]
    src = video.get_attribute("src")
    assert src is not None
    assert src.startswith(f"{live.base_url}/video/")
    # The browser loaded the file's metadata: a real, playable video of 6 s.
    page.wait_for_function(
        "v => v.readyState >= 1 && Math.round(v.duration) === 6",
        arg=video.element_handle(),
        timeout=WAIT,
    )
    shot(page, "task")


# The page's width and, in the tasks panel, what a table wider than its panel
# would scroll sideways by (0 when everything fits).
SIDEWAYS = """
() => {
  const root = document.documentElement;
  const box = document.querySelector(".tasks .scroll");
  return [root.scrollWidth - root.clientWidth, box.scrollWidth - box.clientWidth];
}
"""


def test_videos_are_readable_on_a_laptop_screen_next_to_deliveries_and_errors(
    page: Any, live: MockServer
) -> None:
    """A video beside a delivery and an error is not squeezed to a thumbnail, and the
    page never scrolls sideways on a laptop's screen."""
    with Receiver() as sink:
        task = video_task(webhookURL=f"{sink.base}/hook", includeCost=True)
        failing = video_task()
        assert submit(live, task).status_code == 200
        fault = {"X-Ltxmock-Fault": "task:timeoutProvider"}
        assert submit(live, failing, **fault).status_code == 200
        page.set_viewport_size({"width": 1280, "height": 720})
        open_dashboard(page, live)
        row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
        expect(row).to_have_attribute("data-status", "success", timeout=WAIT)
        expect(row.locator(".deliveries .badge")).to_have_text("delivered", timeout=WAIT)
        failed = page.locator(f'#task-rows tr[data-task="{failing["taskUUID"]}"]')
        expect(failed).to_contain_text("timeoutProvider", timeout=WAIT)
        video = page.locator("#task-rows video")
        expect(video).to_have_count(1)
        page.wait_for_function("v => v.readyState >= 1", arg=video.element_handle(), timeout=WAIT)
        for width, height in LAPTOPS:
            page.set_viewport_size({"width": width, "height": height})
            box = video.bounding_box()
            assert box is not None
            assert box["width"] >= 240, f"a {box['width']:.0f} px wide video at {width}x{height}"
            assert box["height"] >= 135, box
            page_over, table_over = page.evaluate(SIDEWAYS)
            screen = f"{width}x{height}"
            assert page_over <= 0, f"the page scrolls sideways by {page_over} px at {screen}"
            assert table_over <= 0, f"the tasks table scrolls by {table_over} px at {screen}"
        shot(page, "laptop")


def test_videos_are_played_inline_by_hand_muted_and_looped(page: Any, live: MockServer) -> None:
    """What docs/dashboard.md promises: controls, muted, looped, inline; never started
    on its own (only its metadata is read until someone presses play)."""
    task = video_task()
    assert submit(live, task).status_code == 200
    open_dashboard(page, live)
    video = page.locator("#task-rows video")
    expect(video).to_have_count(1, timeout=WAIT)
    handle = video.element_handle()
    page.wait_for_function("v => v.readyState >= 1", arg=handle, timeout=WAIT)
    shown = video.evaluate(
        "v => ({controls: v.controls, muted: v.muted, loop: v.loop, playsInline: v.playsInline,"
        " autoplay: v.autoplay, paused: v.paused, preload: v.preload})"
    )
    assert shown == {
        "controls": True,
        "muted": True,
        "loop": True,
        "playsInline": True,
        "autoplay": False,
        "paused": True,
        "preload": "metadata",
    }
    name = re.compile(rf"^Video [0-9a-f]{{8}} of task {task['taskUUID'][:8]}$")
    expect(video).to_have_accessible_name(name)
    video.evaluate("v => v.play()")
    page.wait_for_function("v => !v.paused && v.currentTime > 0", arg=handle, timeout=WAIT)


def test_ltxmock_serve_shows_a_task_submitted_a_moment_earlier(page: Any) -> None:
    """The issue's "done when", on the real runtime: gunicorn, uvicorn workers, a data dir."""
    with LiveServer("--workers", "2", latency=1.0) as server:
        task = video_task(includeCost=True)
        assert server.post([task]).status_code == 200
        page.goto(f"{server.base}/__ltxmock/ui")
        row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
        expect(row.locator(".badge").first).to_have_text(
            re.compile("^(processing|success)$"), timeout=WAIT
        )
        expect(row).to_have_attribute("data-status", "success", timeout=WAIT)
        expect(row.locator("td.cost")).to_have_text("$0.2400")


def test_a_task_is_seen_processing_before_it_succeeds(page: Any, live: MockServer) -> None:
    open_dashboard(page, live)
    task = video_task()
    assert submit(live, task).status_code == 200
    row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
    expect(row).to_have_attribute("data-status", "processing", timeout=WAIT)
    expect(row).to_have_attribute("data-status", "success", timeout=WAIT)


def test_a_websocket_submit_and_its_webhook_are_shown(page: Any, live: MockServer) -> None:
    with Receiver() as sink:
        task = video_task(webhookURL=f"{sink.base}/hook")
        with connect(live.base_url.replace("http", "ws", 1) + "/v1") as ws:
            ws.send(json.dumps([{"taskType": "authentication", "apiKey": API_KEY}]))
            ws.recv(timeout=10)
            ws.send(json.dumps([task]))
            assert json.loads(ws.recv(timeout=10))["data"][0]["taskUUID"] == task["taskUUID"]
        open_dashboard(page, live)
        expect(page.locator("#request-list li .what").first).to_have_text("WebSocket /v1")
        row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
        expect(row).to_have_attribute("data-status", "success", timeout=WAIT)
        deliveries = row.locator(".deliveries > li")
        expect(deliveries).to_have_count(1, timeout=WAIT)
        expect(deliveries.first.locator(".badge")).to_have_text("delivered", timeout=WAIT)
        expect(deliveries.first).to_contain_text("webhook #0")
        expect(deliveries.first).to_contain_text("1 attempt")
        deliveries.first.locator("summary").click()
        expect(deliveries.first.locator("ol li")).to_contain_text("200: delivered")
        assert sink.requests
        body = json.loads(sink.requests[0].body or b"null")
        item = body.get("data", [body])[0] if isinstance(body, dict) else body
        assert item["taskUUID"] == task["taskUUID"]


def test_a_failed_delivery_is_shown_with_each_attempt(page: Any) -> None:
    """A webhook to a loopback port nothing listens on: refused twice (retried within
    tenths of a second), then given up; the page shows it failed, and why, each time."""
    hook = f"http://127.0.0.1:{closed_port()}/hook"
    with MockServer(latency=0.2, delivery_max_attempts=2, **FAST_DELIVERIES) as server:
        task = video_task(webhookURL=hook)
        assert submit(server, task).status_code == 200
        open_dashboard(page, server)
        row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
        expect(row).to_have_attribute("data-status", "success", timeout=WAIT)
        delivery = row.locator(".deliveries > li")
        expect(delivery).to_have_count(1, timeout=WAIT)
        badge = delivery.locator(".badge")
        expect(badge).to_have_text("failed", timeout=WAIT)
        expect(badge).to_have_class(re.compile(r"\bbad\b"))
        expect(delivery).to_contain_text("webhook #0")
        expect(delivery).to_contain_text("2 attempts")
        delivery.locator("summary").click()
        expect(delivery.locator("summary")).to_have_text(f"to {hook}")
        attempts = delivery.locator("ol li")
        expect(attempts).to_have_count(2)
        refused = re.compile(r"no answer \(ConnectionRefusedError: .*Connection refused\)")
        expect(attempts.nth(0)).to_contain_text(refused)
        expect(attempts.nth(0)).to_contain_text(re.compile(r": will retry$"))
        expect(attempts.nth(1)).to_contain_text(refused)
        expect(attempts.nth(1)).to_contain_text(re.compile(r": failed$"))
        assert [d["state"] for d in server.webhooks] == ["failed"]
        shot(page, "failed-delivery")


def test_a_balance_set_on_the_page_is_spent_down_to_zero_then_refused(
    page: Any, live: MockServer
) -> None:
    open_dashboard(page, live)
    expect(page.locator("#balance")).to_have_text("unlimited", timeout=WAIT)
    expect(page.locator("#no-accounts")).to_be_visible()
    page.get_by_label("USD (empty: unlimited)").fill("0.48")  # two 1080p x 6 s tasks
    page.get_by_role("button", name="Set balance").click()
    expect(page.locator("#control-status")).to_contain_text("Default balance set")
    expect(page.locator("#balance")).to_have_text("$0.4800", timeout=WAIT)
    assert live.service.credits.default() == 0.48

    answers = [submit(live, video_task()) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 402]
    assert [e["code"] for e in answers[2].json()["errors"]] == ["insufficientCredits"]
    [account] = live.service.credits.accounts()
    row = page.locator(f'#account-rows tr[data-account="{account.owner}"]')
    expect(row.locator("td.balance")).to_have_text("$0.0000", timeout=WAIT)
    expect(row.locator("td.spent")).to_have_text("$0.4800")
    assert API_KEY not in page.content()  # accounts are named by fingerprint only
    expect(page.locator("#request-list li .badge").first).to_have_text(
        re.compile("rejected"), timeout=WAIT
    )

    # A negative balance is stopped by the form (the field says why) and changes nothing.
    field = page.get_by_label("USD (empty: unlimited)")
    field.fill("-1")
    page.get_by_role("button", name="Set balance").click()
    assert field.evaluate("input => input.validity.rangeUnderflow")
    assert live.service.credits.default() == 0.48
    # Empty: unlimited again for keys that have not spent yet.
    page.get_by_label("USD (empty: unlimited)").fill("")
    page.get_by_role("button", name="Set balance").click()
    expect(page.locator("#balance")).to_have_text("unlimited", timeout=WAIT)
    assert live.service.credits.default() is None
    shot(page, "credits")


def test_a_captured_webhook_shows_its_body_read_with_the_admin_token(page: Any) -> None:
    """Through the token too: the body is read by the page's admin client, not a link."""
    with MockServer(latency=0.2, admin_token="dash-token-123") as server:
        task = video_task(webhookURL="https://hooks.example.com/x")
        assert submit(server, task).status_code == 200
        page.goto(f"{server.base_url}/__ltxmock/ui")
        page.get_by_label("Admin token").fill("dash-token-123")
        page.get_by_role("button", name="Use token").click()
        row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
        expect(row).to_have_attribute("data-status", "success", timeout=WAIT)
        delivery = row.locator(".deliveries > li").first
        expect(delivery.locator(".badge")).to_have_text("captured", timeout=WAIT)
        expect(delivery).to_contain_text("captured, not sent: application/json")
        [captured] = server.service.deliveries.to_json(task["taskUUID"], state="captured")
        stored = server.service.deliveries.captured(captured["id"])
        assert stored is not None
        assert stored.body is not None
        button = delivery.get_by_role("button", name="View the captured body of webhook #0")
        expect(button).to_have_attribute("aria-expanded", "false")
        button.click()
        body = delivery.locator("pre.capture-body")
        expect(body).to_have_text(json.dumps(json.loads(stored.body), indent=2), timeout=WAIT)
        expect(body).to_contain_text(task["taskUUID"])
        expect(button).to_have_attribute("aria-expanded", "true")
        shot(page, "captured")
        button.click()
        expect(body).to_be_hidden()


def test_a_captured_body_is_shown_as_text_never_markup(page: Any, live: MockServer) -> None:
    """The page shows what GET .../body returns as characters, whatever they are."""
    attack = '<img src=x onerror="document.title=1">'
    task = video_task(webhookURL="https://hooks.example.com/x", positivePrompt=attack)
    assert submit(live, task).status_code == 200
    open_dashboard(page, live)
    row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
    expect(row.locator(".deliveries .badge")).to_have_text("captured", timeout=2 * WAIT)
    # Whatever the capture holds (here: a body made to look like markup) stays text.
    page.route(
        re.compile(r".*/__ltxmock/deliveries/\d+/body$"),
        lambda route: route.fulfill(status=200, content_type="text/html", body=attack),
    )
    row.get_by_role("button", name=re.compile("View the captured body")).click()
    expect(row.locator("pre.capture-body")).to_have_text(attack)
    assert page.locator("img").count() == 0
    assert page.title() == "ltxmock dashboard"


def test_a_rejected_request_shows_its_errors_on_the_payload(page: Any, live: MockServer) -> None:
    bad = video_task(duration=7, seed=3)
    assert submit(live, bad).status_code == 400
    open_dashboard(page, live)
    item = page.locator("#request-list li").first
    expect(item.locator(".badge")).to_have_text("rejected · 2 errors")
    item.locator("summary").click()
    marked = item.locator(".line.bad")
    expect(marked).to_have_count(2)
    expect(marked.nth(0)).to_have_text('    "duration": 7,')
    expect(marked.nth(1)).to_have_text('    "seed": 3')
    notes = item.locator(".note")
    expect(notes.nth(0)).to_contain_text("unsupportedDuration duration")
    expect(notes.nth(1)).to_contain_text("unsupportedParameter seed")
    assert page.locator(f'#task-rows tr[data-task="{bad["taskUUID"]}"]').count() == 0
    shot(page, "rejected")


def test_the_fault_controls_make_the_next_request_fail(page: Any, live: MockServer) -> None:
    open_dashboard(page, live)
    page.get_by_label("HTTP status").select_option("503")
    page.get_by_label("Times (empty: until removed)").fill("1")
    page.get_by_role("button", name="Add fault").click()
    faults = page.locator("#fault-list li")
    expect(faults).to_have_count(1)
    expect(faults.first).to_contain_text("HTTP 503 serviceUnavailable")
    expect(faults.first).to_contain_text("1 more time")

    refused = submit(live, video_task())
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["code"] == "serviceUnavailable"
    expect(page.locator("#request-list li .badge").first).to_have_text(
        "fault 503:serviceUnavailable", timeout=WAIT
    )
    expect(faults).to_have_count(0, timeout=WAIT)  # used up
    assert submit(live, video_task()).status_code == 200

    # A task failure, until removed; then cleared from the page.
    page.get_by_label("Kind").select_option("task")
    page.get_by_label("Task failure").select_option("providerError")
    page.get_by_label("Times (empty: until removed)").fill("")
    page.get_by_role("button", name="Add fault").click()
    expect(faults.first).to_contain_text("task fails: providerError")
    expect(faults.first).to_contain_text("until removed")
    doomed = video_task()
    assert submit(live, doomed).status_code == 200
    row = page.locator(f'#task-rows tr[data-task="{doomed["taskUUID"]}"]')
    expect(row).to_have_attribute("data-status", "error", timeout=WAIT)
    expect(row).to_contain_text("providerError")
    page.get_by_role("button", name="Clear all faults").click()
    expect(faults).to_have_count(0)
    assert live.service.faults.all() == []


def test_a_fault_is_removed_by_its_own_button(page: Any, live: MockServer) -> None:
    open_dashboard(page, live)
    page.get_by_label("HTTP status").select_option("503")
    page.get_by_label("Times (empty: until removed)").fill("2")
    page.get_by_role("button", name="Add fault").click()
    page.get_by_label("Kind").select_option("task")
    page.get_by_label("Task failure").select_option("providerError")
    page.get_by_label("Times (empty: until removed)").fill("")
    page.get_by_role("button", name="Add fault").click()
    faults = page.locator("#fault-list li")
    expect(faults).to_have_count(2, timeout=WAIT)
    http_fault, task_fault = sorted(live.service.faults.all(), key=lambda f: f.kind)
    assert (http_fault.kind, http_fault.status, task_fault.kind) == ("http", 503, "task")

    remove = page.get_by_role("button", name=re.compile(r"^Remove fault \d+: "))
    expect(remove).to_have_count(2)
    page.get_by_role(
        "button", name=f"Remove fault {http_fault.id}: HTTP 503 serviceUnavailable"
    ).click()
    expect(page.locator("#control-status")).to_have_text("Fault removed.")
    expect(faults).to_have_count(1)
    expect(faults.first).to_contain_text("task fails: providerError")
    assert [f.id for f in live.service.faults.all()] == [task_fault.id]
    assert submit(live, video_task()).status_code == 200  # the 503 is no longer served

    page.get_by_role("button", name=re.compile(rf"^Remove fault {task_fault.id}: ")).click()
    expect(faults).to_have_count(0)
    expect(page.locator("#no-faults")).to_be_visible()
    assert live.service.faults.all() == []


def test_pause_stops_asking_the_mock_until_resumed(page: Any, live: MockServer) -> None:
    asked: list[str] = []
    page.on(
        "request",
        lambda request: asked.append(request.url) if "/__ltxmock/ui" not in request.url else None,
    )
    open_dashboard(page, live)
    pause = page.get_by_role("button", name="Pause updates")
    expect(pause).to_have_attribute("aria-pressed", "false")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "true")  # the same button, pressed
    connection = page.locator("#connection")
    expect(connection).to_have_text(re.compile("^Paused"))
    page.wait_for_timeout(1_000)  # a poll under way when the button was pressed ends
    before = len(asked)
    task = video_task()
    assert submit(live, task).status_code == 200
    page.wait_for_timeout(3_000)  # three polls' time
    assert asked[before:] == []
    expect(connection).to_have_text(re.compile("^Paused"))  # not overwritten by a late poll
    row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
    expect(row).to_have_count(0)

    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "false")
    expect(row).to_have_attribute("data-status", "success", timeout=WAIT)
    expect(connection).to_have_text(re.compile("^Live"))
    assert any("/__ltxmock/requests" in url for url in asked[before:])


# Starts counting the changes to a node's text (read back by TEXT_CHANGED).
WATCH_TEXT = """
(node) => {
  window.textChanges = 0;
  window.textWatch = new MutationObserver((records) => { window.textChanges += records.length; });
  window.textWatch.observe(node, { childList: true, characterData: true, subtree: true });
}
"""
TEXT_CHANGED = "() => { window.textWatch.disconnect(); return window.textChanges; }"


def test_the_live_region_speaks_of_state_changes_not_of_each_poll(
    page: Any, live: MockServer
) -> None:
    """A screen reader announces every change of a live region: the time of the last
    update, changed by every poll, is shown beside it, not in it."""
    polls: list[str] = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if "/__ltxmock/faults" in request.url else None,
    )
    open_dashboard(page, live)
    connection = page.locator("#connection")
    expect(connection).to_have_attribute("role", "status")
    expect(page.locator("#updated")).to_have_text(re.compile(r"\d"), timeout=WAIT)
    text = connection.text_content()
    updated = page.locator("#updated").text_content()
    connection.evaluate(WATCH_TEXT)
    before = len(polls)
    for _ in range(WAIT // 100):  # four polls, however slow the machine
        if len(polls) - before >= 4:
            break
        page.wait_for_timeout(100)
    assert len(polls) - before >= 4, polls
    changes = page.evaluate(TEXT_CHANGED)
    assert changes == 0, f"the live region changed {changes} times over four polls"
    assert connection.text_content() == text
    assert page.locator("#updated").text_content() != updated  # the time, beside it, did
    # Nothing that a poll changes is in a live region.
    live_parent = "node => node.closest('[aria-live], [role=status], [role=log], [role=alert]')"
    assert page.locator("#updated").evaluate(f"{live_parent} === null")
    # A change of state is announced.
    page.get_by_role("button", name="Pause updates").click()
    expect(connection).to_have_text(re.compile("^Paused"))
    page.get_by_role("button", name="Pause updates").click()
    expect(connection).to_have_text(text or "", timeout=WAIT)


def test_reset_forgets_everything_after_a_confirmation(page: Any, live: MockServer) -> None:
    submit(live, video_task())
    open_dashboard(page, live)
    expect(page.locator("#task-rows tr[data-task]")).to_have_count(1, timeout=WAIT)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Reset the mock…").click()
    assert len(live.service.journal) == 1  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reset the mock…").click()
    expect(page.locator("#control-status")).to_have_text("The mock was reset.")
    expect(page.locator("#task-rows tr")).to_have_count(0)  # the videos' rows too
    expect(page.locator("#request-list li")).to_have_count(0)
    assert len(live.service.journal) == 0


def test_the_playground_lints_inline_and_sends(page: Any, live: MockServer) -> None:
    open_dashboard(page, live)
    summary = page.locator("#lint-summary")
    expect(summary).to_have_text("No problems: the mock would accept it.", timeout=WAIT)
    task = video_task(duration=7, includeCost=True)
    page.get_by_label("Task or request body (JSON)").fill(json.dumps(task, indent=2))
    expect(summary).to_have_text("1 problem: marked below.", timeout=WAIT)
    bad = page.locator("#lint-view .line.bad")
    expect(bad).to_have_count(1)
    expect(bad).to_contain_text('"duration": 7,')
    expect(page.locator("#lint-view .note")).to_contain_text("unsupportedDuration duration")
    expect(page.get_by_label("Task or request body (JSON)")).to_have_attribute(
        "aria-invalid", "true"
    )

    task["duration"] = 6
    page.get_by_label("Task or request body (JSON)").fill(json.dumps(task, indent=2))
    expect(summary).to_have_text("No problems: the mock would accept it.", timeout=WAIT)
    page.get_by_label("API key for POST /v1").fill(API_KEY)
    page.get_by_role("button", name="Send to the mock").click()
    expect(page.locator("#send-status")).to_have_text("HTTP 200: accepted", timeout=WAIT)
    row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
    expect(row).to_have_attribute("data-status", "success", timeout=WAIT)
    assert [e.status for e in live.service.journal] == [200]

    page.get_by_role("button", name="Send to the mock").click()  # the same again: acked
    expect(page.locator("#request-list li")).to_have_count(2, timeout=WAIT)
    page.get_by_role("button", name="New taskUUID").click()
    sent = json.loads(page.get_by_label("Task or request body (JSON)").input_value())
    assert sent["taskUUID"] != task["taskUUID"]


def test_everything_shown_is_text_never_markup(page: Any, live: MockServer) -> None:
    attack = '<img src=x onerror="document.title=1"><script>document.title=2</script>'
    submit(live, video_task(positivePrompt=attack))
    submit(live, video_task(positivePrompt=attack, seed=1))  # rejected: shown as JSON
    open_dashboard(page, live)
    expect(page.locator("#task-rows")).to_contain_text(attack, timeout=WAIT)
    page.locator("#request-list li summary").first.click()
    expect(page.locator("#request-list li").first).to_contain_text('"positivePrompt": "<img')
    assert page.locator("img, script:not([src])").count() == 0
    assert page.title() == "ltxmock dashboard"


def test_every_control_and_box_has_an_accessible_name(page: Any, live: MockServer) -> None:
    submit(live, video_task())
    submit(live, video_task(duration=7))  # rejected
    open_dashboard(page, live)
    expect(page.locator("#task-rows video")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#request-list li")).to_have_count(2, timeout=WAIT)
    page.locator("#request-list li summary").first.click()
    # The playground's two views, filled: a lint problem marked, an answer shown.
    task = video_task(duration=7)
    page.get_by_label("Task or request body (JSON)").fill(json.dumps(task, indent=2))
    expect(page.locator("#lint-summary")).to_have_text("1 problem: marked below.", timeout=WAIT)
    page.get_by_role("button", name="Send to the mock").click()
    expect(page.locator("#send-status")).to_have_text("HTTP 400: 1 error(s)", timeout=WAIT)

    # The boxes a screen reader moves between, each named by what it holds.
    lint_view = page.get_by_role("region", name="Payload with lint problems marked")
    expect(lint_view).to_contain_text('"duration": 7,')
    expect(page.get_by_role("region", name="Answer of the mock")).to_contain_text(
        "unsupportedDuration"
    )
    opened = page.locator("#request-list details[open]")
    expect(opened).to_have_count(1)
    expect(opened.get_by_role("figure", name="Request (errors marked)")).to_contain_text(
        '"duration": 7,'
    )
    expect(opened.get_by_role("figure", name="Response 400")).to_contain_text("unsupportedDuration")

    session = page.context.new_cdp_session(page)
    nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    seen = [node for node in nodes if not node.get("ignored")]
    controls = [node for node in seen if node.get("role", {}).get("value") in INTERACTIVE]
    assert len(controls) >= 12  # the page's own controls were seen
    boxes = [node for node in seen if node.get("role", {}).get("value") in NAMED_BOXES]
    names = {str(node.get("name", {}).get("value", "")) for node in boxes}
    assert {
        "Payload with lint problems marked",
        "Answer of the mock",
        "Request (errors marked)",
        "Response 400",
    } <= names, names
    unnamed = [
        (node["role"]["value"], node.get("backendDOMNodeId"))
        for node in controls + boxes
        if not str(node.get("name", {}).get("value", "")).strip()
    ]
    assert not unnamed, f"controls or boxes without an accessible name: {unnamed}"


# What has the focus: its id, else what it is (a request's row by its place in the list).
FOCUSED = """
() => {
  const node = document.activeElement;
  if (node.id) return `#${node.id}`;
  if (node.tagName === "SUMMARY" && node.closest("#request-list")) {
    return `request ${[...document.querySelectorAll("#request-list summary")].indexOf(node)}`;
  }
  if (node.tagName === "SUMMARY" && node.closest(".deliveries")) return "delivery";
  return node.tagName.toLowerCase();
}
"""
# Every control of a page showing a task (its delivery, then its video: a few stops in
# the player's own controls, counted as one), two requests, no fault and no account,
# in the order Tab reaches them. The task failure list is disabled while the kind is
# "HTTP error": skipped (a second pass below shows it reached once enabled).
TAB_ORDER = [
    "#pause",
    "delivery",
    "video",
    "#fault-kind",
    "#fault-status",
    "#fault-times",
    "#fault-add",
    "#default-balance",
    "#balance-set",
    "#faults-clear",
    "#reset",
    "request 0",
    "request 1",
    "#payload",
    "#api-key",
    "#lint",
    "#new-uuid",
    "#send",
]


def tab(page: Any, key: str = "Tab") -> str:
    page.keyboard.press(key)
    return str(page.evaluate(FOCUSED))


def tab_to(page: Any, wanted: str, key: str = "Tab") -> str:
    """Presses ``key`` until the focus is on what starts with ``wanted`` (a bounded walk)."""
    for _ in range(3 * len(TAB_ORDER)):
        focused = tab(page, key)
        if focused.startswith(wanted):
            return focused
    raise AssertionError(f"{key} never reached {wanted}")


def test_the_keyboard_reaches_every_control_in_order_and_drives_them(
    page: Any, live: MockServer
) -> None:
    with Receiver() as sink:
        task = video_task(webhookURL=f"{sink.base}/hook")
        assert submit(live, task).status_code == 200
        assert submit(live, video_task(seed=1)).status_code == 400
        open_dashboard(page, live)
        row = page.locator(f'#task-rows tr[data-task="{task["taskUUID"]}"]')
        expect(row.locator(".deliveries .badge")).to_have_text("delivered", timeout=WAIT)
        video = page.locator("#task-rows video")
        page.wait_for_function("v => v.readyState >= 1", arg=video.element_handle(), timeout=WAIT)
        expect(page.locator("#request-list li")).to_have_count(2)

        reached: list[str] = []
        for _ in range(3 * len(TAB_ORDER)):
            focused = tab(page)
            if not reached or reached[-1] != focused:
                reached.append(focused)
            if focused == "#send":
                break
        assert reached == TAB_ORDER
        focused_style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert focused_style != "none"  # the focus is visible

    # Back to the fault form, by keyboard only: a kind of fault chosen with the arrow
    # keys enables the task failure list, which Tab then reaches instead of the status.
    tab_to(page, "#fault-kind", "Shift+Tab")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Kind")).to_have_value("task")
    assert tab(page) == "#fault-task"
    assert tab(page) == "#fault-times"
    assert tab(page, "Shift+Tab") == "#fault-task"
    assert tab(page, "Shift+Tab") == "#fault-kind"
    page.keyboard.press("ArrowUp")
    expect(page.get_by_label("Kind")).to_have_value("http")
    assert tab(page) == "#fault-status"
    assert tab(page) == "#fault-times"
    assert tab(page) == "#fault-add"
    page.keyboard.press("Enter")  # 429 once, the form's default
    faults = page.locator("#fault-list li")
    expect(faults).to_contain_text("HTTP 429 rateLimitExceeded")
    assert page.evaluate(FOCUSED) == "#fault-add"  # the focus stays where it was

    # On to the playground: Send, by Enter, gets the fault just added.
    tab_to(page, "#send")
    page.keyboard.press("Enter")
    expect(page.locator("#send-status")).to_have_text("HTTP 429: 1 error(s)", timeout=WAIT)
    expect(faults).to_have_count(0, timeout=WAIT)  # used up
    # A request's row opens with Enter.
    focused = tab_to(page, "request ", "Shift+Tab")
    page.keyboard.press("Enter")
    opened = page.locator("#request-list details").nth(int(focused.split()[1]))
    expect(opened).to_have_attribute("open", "")
    expect(opened.get_by_role("figure", name=re.compile("^Response"))).to_be_visible()


def test_with_an_admin_token_the_page_asks_for_it_and_keeps_it_in_the_tab(page: Any) -> None:
    with MockServer(latency=0.2, admin_token="dash-token-123") as server:
        submit(server, video_task())
        page.goto(f"{server.base_url}/__ltxmock/ui")
        form = page.locator("#token-form")
        expect(form).to_be_visible(timeout=WAIT)
        expect(page.locator("#token-reason")).to_contain_text("admin token")
        expect(page.get_by_label("Admin token")).to_be_focused()
        page.get_by_label("Admin token").fill("wrong-token")
        page.get_by_role("button", name="Use token").click()
        expect(form).to_be_visible(timeout=WAIT)  # refused: asked again
        page.get_by_label("Admin token").fill("dash-token-123")
        page.get_by_role("button", name="Use token").click()
        expect(page.locator("#connection")).to_have_text(re.compile("^Live"), timeout=WAIT)
        expect(page.locator("#task-rows tr[data-task]")).to_have_count(1, timeout=WAIT)
        stored = page.evaluate("sessionStorage.getItem('ltxmock.adminToken')")
        assert stored == "dash-token-123"
        assert page.evaluate("localStorage.length") == 0  # not kept beyond the tab


def test_the_lists_stay_bounded_and_each_poll_asks_a_bounded_page(
    page: Any, live: MockServer
) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    open_dashboard(page, live)
    items = page.locator("#request-list li")
    with requests.Session() as http:
        for round_ in range(13):  # 130 tasks in 130 requests, the page seeing each round
            body = [video_task() for _ in range(10)]
            answer = http.post(
                live.url, json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
            )
            assert answer.status_code == 200
            for _ in range(9):
                http.post(live.url, json=[{"taskType": "ping"}], timeout=10)
            expect(items).to_have_count(min(100, 10 * (round_ + 1)), timeout=WAIT)
    expect(page.locator("#task-rows tr[data-task]")).to_have_count(30, timeout=WAIT)
    expect(page.locator("#task-rows tr[data-videos-of]")).to_have_count(30)  # one each
    assert page.evaluate("document.querySelectorAll('#request-list details').length") == 100
    for url in asked:
        if "/__ltxmock/requests" in url:
            limit = re.search(r"[?&]limit=(\d+)", url)
            assert limit is not None, url
            assert int(limit.group(1)) <= 50
        if "/__ltxmock/tasks" in url:
            assert url.count("uuid=") <= 30
        if "/__ltxmock/credits" in url:
            assert re.search(r"[?&]limit=10$", url), url
    assert any("/__ltxmock/credits" in url for url in asked)


CONTRAST = """
(selector) => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (node) => {
    for (; node; node = node.parentElement) {
      const colour = rgb(getComputedStyle(node).backgroundColor);
      if (colour.length === 3 || colour[3] > 0) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selector)].map((node) => {
    const a = luminance(rgb(getComputedStyle(node).color));
    const b = luminance(background(node));
    return [node.textContent.slice(0, 30), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}
"""


def test_text_has_enough_contrast(page: Any, live: MockServer) -> None:
    submit(live, video_task())
    submit(live, video_task(seed=1))
    submit(live, video_task(), **{"X-Ltxmock-Fault": "429"})
    open_dashboard(page, live)
    expect(page.locator("#request-list li")).to_have_count(3, timeout=WAIT)
    page.locator("#request-list li summary").nth(1).click()
    # Every status line with something to say: good (a fault added), bad (a lint problem,
    # a refused send).
    page.get_by_role("button", name="Add fault").click()
    expect(page.locator("#control-status")).to_contain_text("Fault added")
    page.get_by_role("button", name="Clear all faults").click()
    expect(page.locator("#control-status")).to_have_text("Faults cleared.")
    page.get_by_label("Task or request body (JSON)").fill(json.dumps(video_task(seed=1)))
    expect(page.locator("#lint-summary")).to_have_text("1 problem: marked below.", timeout=WAIT)
    page.get_by_role("button", name="Send to the mock").click()
    expect(page.locator("#send-status")).to_contain_text("HTTP 400", timeout=WAIT)
    selectors = (
        "h1, h2, h3, th, td, .hint, .badge, .line, .note, button, label, dt, dd, summary span,"
        " code, .empty, .connection, .connection *, .status-line, legend, .number"
    )
    ratios = page.evaluate(CONTRAST, selectors)
    assert len(ratios) > 40
    shown = {text for text, _ in ratios}
    for expected in ("Live", "Faults cleared.", "1 problem: marked below.", "Add a fault"):
        assert any(text.startswith(expected) for text in shown), (expected, shown)
    low = [(text, round(ratio, 2)) for text, ratio in ratios if ratio < 4.5]
    assert not low, f"text under the 4.5:1 contrast of WCAG AA: {low}"


def test_a_screenshot_of_a_dashboard_at_work(page: Any, live: MockServer) -> None:
    """The README's picture (docs/dashboard.png is a copy of artifacts/dashboard.png):
    finished tasks with their videos and a failed one, a captured webhook, a balance
    being spent, a rejected request opened, a fault set, a lint error."""
    live.service.credits.set_balance(5.0)
    heron = "A heron lands on a frozen pond"
    hook = "https://hooks.example.com/x"
    submit(live, video_task(includeCost=True, positivePrompt=heron, webhookURL=hook))
    submit(live, video_task(includeCost=True, width=2560, height=1440, duration=8))
    submit(live, video_task(), **{"X-Ltxmock-Fault": "task:timeoutProvider"})
    submit(live, video_task(duration=7, seed=3))
    open_dashboard(page, live)
    expect(page.locator("#task-rows tr[data-status=success]")).to_have_count(2, timeout=WAIT)
    expect(page.locator("#task-rows tr[data-status=error]")).to_have_count(1, timeout=WAIT)
    page.get_by_label("HTTP status").select_option("503")
    page.get_by_label("Times (empty: until removed)").fill("2")
    page.get_by_role("button", name="Add fault").click()
    expect(page.locator("#fault-list li")).to_have_count(1)
    page.locator("#request-list li summary").first.click()
    text = page.get_by_label("Task or request body (JSON)").input_value()
    page.get_by_label("Task or request body (JSON)").fill(
        text.replace('"height": 1080', '"height": 1440')
    )
    expect(page.locator("#lint-view .line.bad")).to_have_count(1, timeout=WAIT)
    [account] = live.service.credits.accounts()  # three accepted tasks (failed: not refunded)
    spent = page.locator("#account-rows td.spent")
    expect(spent).to_have_text(f"${account.spent:.4f}", timeout=WAIT)
    expect(page.locator("#task-rows .deliveries .badge")).to_have_text("captured", timeout=WAIT)
    for video in page.locator("video").element_handles():
        # A first frame shown, and no loading spinner over it (the network idle).
        loaded = "v => v.readyState >= 2 && v.networkState !== HTMLMediaElement.NETWORK_LOADING"
        page.wait_for_function(loaded, arg=video, timeout=WAIT)
    page.wait_for_timeout(1_000)  # the player's loading ring fades out (about 0.6 s)
    shot(page, "dashboard")
