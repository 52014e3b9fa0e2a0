// The dashboard: polls the admin API once a second while the tab is visible, and keeps
// bounded lists (the newest 100 exchanges in requests.js, 30 tasks in tasks.js), so a
// page left open for a day over a busy mock costs it the same small questions each
// second and its memory stays flat (10 credit accounts in credits.js). Everything shown is set as text (textContent),
// never parsed as HTML. This module: the faults, credits and state controls, the admin
// token, and the poll.

import { ApiError, admin, setAdminToken } from "./api.js";
import { CreditsPanel, balanceBody } from "./credits.js";
import { el } from "./dom.js";
import { setUpPlayground } from "./playground.js";
import { RequestList } from "./requests.js";
import { TaskTable } from "./tasks.js";

const POLL_MS = 1000;
const PAGE = 50; // journal entries per poll (the newest, when more came)
const HEALTH_EVERY = 5; // polls between two health reads (the store's task count)

const $ = (id) => document.getElementById(id);
const requestList = new RequestList($("request-list"), $("no-requests"));
const taskTable = new TaskTable($("task-rows"), $("no-tasks"), $("spent"));
const credits = new CreditsPanel($("balance"), $("account-rows"), $("no-accounts"), $("more-accounts"));
const state = {
  cursor: 0,
  paused: false,
  needToken: false,
  ticks: 0,
  timer: 0,
  busy: false,
  again: false,
};

// The connection's state (live, paused, lost, waiting for the token) is a live region:
// a screen reader announces each change of it. So it changes only when the state does;
// the time of the last update, new every poll, is shown beside it, in a plain element.
function showConnection(text, bad = false) {
  const line = $("connection");
  if (line.textContent !== text) line.textContent = text; // the same text: no announcement
  const look = bad ? "bad" : "good";
  if (line.dataset.state !== look) line.dataset.state = look;
}

function showUpdated() {
  $("updated").textContent = `· last update ${new Date().toLocaleTimeString()}`;
}

// -- faults and state ------------------------------------------------------------------

function drawFaults(faults) {
  const list = $("fault-list");
  list.replaceChildren(
    ...faults.map((fault) => {
      const item = el("li", null, "fault");
      const what = fault.kind === "task" ? `task fails: ${fault.code}` : `HTTP ${fault.status} ${fault.code}`;
      const times = fault.times === null ? "until removed" : `${fault.times} more time${fault.times === 1 ? "" : "s"}`;
      const remove = el("button", "Remove");
      remove.type = "button";
      remove.setAttribute("aria-label", `Remove fault ${fault.id}: ${what}`);
      remove.addEventListener("click", () => act(() => admin("DELETE", `/faults/${fault.id}`), "Fault removed."));
      item.append(el("span", what, "what"), el("span", times), remove);
      return item;
    }),
  );
  $("no-faults").hidden = faults.length > 0;
}

async function refreshFaults() {
  drawFaults((await admin("GET", "/faults")).faults || []);
}

async function refreshHealth() {
  const health = await admin("GET", "/health");
  $("store-tasks").textContent = health.tasks;
  $("latency").textContent = `${health.latency} s`;
  $("version").textContent = health.version;
}

async function act(action, done) {
  const line = $("control-status");
  try {
    await action();
    line.textContent = done;
    line.dataset.state = "good";
  } catch (error) {
    line.textContent = error.message;
    line.dataset.state = "bad";
    if (error instanceof ApiError && error.status === 401) askToken(error.message);
  }
  await tick(true);
}

function forgetAll() {
  state.cursor = 0;
  requestList.clear();
  taskTable.clear();
}

function setUpControls() {
  const kind = $("fault-kind");
  const syncKind = () => {
    $("fault-status").disabled = kind.value !== "http";
    $("fault-task").disabled = kind.value !== "task";
  };
  kind.addEventListener("change", syncKind);
  syncKind();
  $("fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const raw = $("fault-times").value.trim();
    const body = { times: raw === "" ? null : Number.parseInt(raw, 10) };
    if (kind.value === "task") body.task = $("fault-task").value;
    else body.status = Number.parseInt($("fault-status").value, 10);
    act(() => admin("POST", "/faults", body), "Fault added: the next matching request gets it.");
  });
  $("credits-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(async () => {
      await admin("PUT", "/credits", balanceBody($("default-balance").value));
    }, "Default balance set: keys that have not spent yet start with it.");
  });
  $("faults-clear").addEventListener("click", () => act(() => admin("DELETE", "/faults"), "Faults cleared."));
  $("reset").addEventListener("click", () => {
    if (!window.confirm("Forget every task, fault, balance, journal entry, file and delivery of this mock?")) return;
    act(async () => {
      await admin("POST", "/reset");
      forgetAll();
    }, "The mock was reset.");
  });
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    // A toggle button: its name stays, aria-pressed (and its look) tells whether it is on.
    $("pause").setAttribute("aria-pressed", String(state.paused));
    if (state.paused) showConnection("Paused: nothing is asked of the mock.");
    else tick(true);
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setAdminToken($("token-input").value.trim());
    $("token-input").value = "";
    $("token-form").hidden = true;
    state.needToken = false;
    tick(true);
  });
}

function askToken(reason) {
  state.needToken = true;
  $("token-reason").textContent = reason;
  $("token-form").hidden = false;
  showConnection("Waiting for the admin token.", true);
  $("token-input").focus();
}

// -- the poll --------------------------------------------------------------------------

async function refreshRequests() {
  const answer = await admin("GET", `/requests?since=${state.cursor}&limit=${PAGE}`);
  const entries = answer.requests || [];
  if (entries.length) {
    state.cursor = entries[entries.length - 1].id;
    requestList.add(entries);
    for (const entry of entries) taskTable.note(entry);
    return;
  }
  if (state.cursor > 0) {
    // Nothing new: was the journal cleared (a reset elsewhere)? Its ids start again.
    const newest = (await admin("GET", "/requests?limit=1")).requests || [];
    if (!newest.length || newest[0].id < state.cursor) forgetAll();
  }
}

async function tick(now = false) {
  if (state.busy) {
    state.again = true; // one poll at a time: this one runs right after the current
    return;
  }
  clearTimeout(state.timer);
  if (!state.paused && !state.needToken && !document.hidden) {
    state.busy = true;
    try {
      if (state.ticks % HEALTH_EVERY === 0 || now) await refreshHealth();
      await refreshRequests();
      await taskTable.refresh();
      await refreshFaults();
      await credits.refresh();
      state.ticks += 1;
      showUpdated();
      // Paused while this poll was under way: the pause stays on the line.
      if (!state.paused) showConnection("Live: updates every second");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) askToken(error.message);
      else if (!state.paused) showConnection(`Cannot reach the mock's admin API: ${error.message}`, true);
    } finally {
      state.busy = false;
    }
  }
  const soon = state.again;
  state.again = false;
  state.timer = setTimeout(() => tick(soon), soon ? 0 : POLL_MS);
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) tick(true);
});
setUpControls();
setUpPlayground(() => tick(true));
tick(true);
