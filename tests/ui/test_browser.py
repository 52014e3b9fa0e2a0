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
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect
from support.receiver import Receiver
from support.server import API_KEY, LiveServer, video_task
from websockets.sync.client import connect

from ltxmock.testing import MockServer

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).parent / "artifacts"
WAIT = 15_000  # ms: a poll a second, a 1.5 s latency, a render on a busy machine
INTERACTIVE = {"button", "textbox", "combobox", "spinbutton", "checkbox", "link", "slider"}


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
    video = row.locator("video")
    expect(video).to_have_count(1)
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


def test_reset_forgets_everything_after_a_confirmation(page: Any, live: MockServer) -> None:
    submit(live, video_task())
    open_dashboard(page, live)
    expect(page.locator("#task-rows tr")).to_have_count(1, timeout=WAIT)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Reset the mock…").click()
    assert len(live.service.journal) == 1  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reset the mock…").click()
    expect(page.locator("#control-status")).to_have_text("The mock was reset.")
    expect(page.locator("#task-rows tr")).to_have_count(0)
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


def test_every_control_has_an_accessible_name(page: Any, live: MockServer) -> None:
    submit(live, video_task())
    open_dashboard(page, live)
    expect(page.locator("#task-rows video")).to_have_count(1, timeout=WAIT)
    page.locator("#request-list li summary").first.click()
    session = page.context.new_cdp_session(page)
    nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    controls = [
        node
        for node in nodes
        if not node.get("ignored") and node.get("role", {}).get("value") in INTERACTIVE
    ]
    assert len(controls) >= 12  # the page's own controls were seen
    unnamed = [
        (node["role"]["value"], node.get("backendDOMNodeId"))
        for node in controls
        if not str(node.get("name", {}).get("value", "")).strip()
    ]
    assert not unnamed, f"controls without an accessible name: {unnamed}"


def test_the_keyboard_reaches_and_drives_the_controls(page: Any, live: MockServer) -> None:
    open_dashboard(page, live)
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
        if reached[-1] == "fault-add":
            break
    assert reached[-1] == "fault-add", reached
    assert {"pause", "fault-kind", "fault-status", "fault-times"} <= set(reached)
    page.keyboard.press("Enter")
    expect(page.locator("#fault-list li")).to_contain_text("HTTP 429 rateLimitExceeded")
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused != "none"  # the focus is visible


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
        expect(page.locator("#task-rows tr")).to_have_count(1, timeout=WAIT)
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
    expect(page.locator("#task-rows tr")).to_have_count(30, timeout=WAIT)
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
    selectors = "h1, h2, th, td, .hint, .badge, .line, .note, button, label, dt, dd, summary span"
    ratios = page.evaluate(CONTRAST, selectors)
    assert len(ratios) > 40
    low = [(text, round(ratio, 2)) for text, ratio in ratios if ratio < 4.5]
    assert not low, f"text under the 4.5:1 contrast of WCAG AA: {low}"


def test_a_screenshot_of_a_dashboard_at_work(page: Any, live: MockServer) -> None:
    """The README's picture (docs/dashboard.png is a copy of artifacts/dashboard.png):
    finished and failed tasks, a captured webhook, a balance being spent, a rejected
    request opened, a fault set, a lint error."""
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
        page.wait_for_function("v => v.readyState >= 2", arg=video, timeout=WAIT)
    shot(page, "dashboard")
