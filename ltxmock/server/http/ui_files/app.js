// The dashboard: polls the admin API once a second while the tab is visible, and keeps
// bounded lists (the newest MAX_REQUESTS exchanges, MAX_TASKS tasks), so a page left
// open for a day over a busy mock costs it one small query per second and its memory
// stays flat. Everything shown is set as text (textContent), never parsed as HTML.

import { ApiError, admin, setAdminToken } from "./api.js";
import { renderJson } from "./json_view.js";
import { setUpPlayground } from "./playground.js";

const POLL_MS = 1000;
const PAGE = 50; // journal entries per poll, and task UUIDs per question (the server's cap)
const MAX_REQUESTS = 100;
const MAX_TASKS = 30;
const HEALTH_EVERY = 5; // polls between two health reads (the store's task count)

// captured: a callback to a reserved name, kept by the mock instead of sent.
const DELIVERY_LOOK = { delivered: "good", captured: "good", pending: "warn", skipped: "warn" };

const $ = (id) => document.getElementById(id);
const state = {
  cursor: 0,
  requests: [], // [{entry, item}], newest first
  tasks: new Map(), // uuid -> {view, row}, oldest first (Map keeps insertion order)
  paused: false,
  needToken: false,
  ticks: 0,
  timer: 0,
  busy: false,
  again: false,
};

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function time(at) {
  return typeof at === "number" ? new Date(at * 1000).toLocaleTimeString() : "";
}

function money(value) {
  return `$${Number(value || 0).toFixed(4)}`;
}

function showConnection(text, bad = false) {
  const line = $("connection");
  line.textContent = text;
  line.dataset.state = bad ? "bad" : "good";
}

// -- requests --------------------------------------------------------------------------

function errorsOf(entry) {
  const response = entry.response;
  return response && typeof response === "object" && Array.isArray(response.errors) ? response.errors : [];
}

function verdict(entry) {
  const errors = errorsOf(entry);
  if (entry.fault) return ["fault", `fault ${entry.fault}`];
  if (entry.status >= 500) return ["bad", `error ${entry.status}`];
  if (entry.status >= 400) return ["bad", `rejected · ${errors.length} error${errors.length === 1 ? "" : "s"}`];
  if (errors.length) return ["warn", `${errors.length} task error${errors.length === 1 ? "" : "s"}`];
  return ["good", "accepted"];
}

function tasksOf(entry) {
  return Array.isArray(entry.request) ? entry.request.filter((t) => t && typeof t === "object") : [];
}

function requestItem(entry) {
  const item = el("li", null, "request");
  const details = el("details");
  const summary = el("summary");
  const [kind, text] = verdict(entry);
  const types = [...new Set(tasksOf(entry).map((t) => t.taskType).filter((t) => typeof t === "string"))];
  summary.append(
    el("span", time(entry.at), "when"),
    el("span", entry.transport === "ws" ? `WebSocket ${entry.path}` : `${entry.method} ${entry.path}`, "what"),
    el("span", entry.status, "code"),
    el("span", text, `badge ${kind}`),
    el("span", types.join(", "), "types"),
  );
  details.append(summary);
  details.addEventListener("toggle", () => {
    if (!details.open || details.dataset.drawn) return;
    details.dataset.drawn = "1"; // laid out once, when first opened
    const sent = el("div", null, "code");
    sent.setAttribute("aria-label", "Request payload");
    const marked = renderJson(sent, entry.request, errorsOf(entry));
    const answer = el("div", null, "code");
    answer.setAttribute("aria-label", "Response");
    renderJson(answer, entry.response, []);
    details.append(
      el("h3", marked ? "Request (errors marked)" : "Request"),
      sent,
      el("h3", `Response ${entry.status}`),
      answer,
    );
  });
  item.append(details);
  return item;
}

function addRequests(entries) {
  const list = $("request-list");
  for (const entry of entries) {
    const item = requestItem(entry);
    list.prepend(item);
    state.requests.unshift({ entry, item });
    noteTasks(entry);
  }
  while (state.requests.length > MAX_REQUESTS) state.requests.pop().item.remove();
  $("no-requests").hidden = state.requests.length > 0;
}

// -- tasks -----------------------------------------------------------------------------

function noteTasks(entry) {
  if (entry.status !== 200) return;
  const failed = new Set(errorsOf(entry).map((e) => e && e.taskUUID));
  for (const task of tasksOf(entry)) {
    if (task.taskType !== "videoInference" || typeof task.taskUUID !== "string") continue;
    if (failed.has(task.taskUUID) || state.tasks.has(task.taskUUID)) continue;
    const row = el("tr");
    row.dataset.task = task.taskUUID;
    $("task-rows").prepend(row);
    state.tasks.set(task.taskUUID, { view: null, row });
  }
  while (state.tasks.size > MAX_TASKS) {
    const [oldest, { row }] = state.tasks.entries().next().value;
    row.remove();
    state.tasks.delete(oldest);
  }
  $("no-tasks").hidden = state.tasks.size > 0;
}

function settled(view) {
  if (!view || view.status === "processing") return false;
  return (view.deliveries || []).every((d) => d.state !== "pending");
}

function deliveriesCell(view) {
  const cell = el("td");
  const deliveries = view.deliveries || [];
  if (!deliveries.length) {
    cell.textContent = "–";
    return cell;
  }
  const list = el("ul", null, "deliveries");
  for (const d of deliveries) {
    const attempts = Array.isArray(d.attempt_log) ? d.attempt_log : [];
    const line = el("li");
    line.append(
      el("span", `${d.kind} #${d.result_index}`, "what"),
      el("span", d.state, `badge ${DELIVERY_LOOK[d.state] || "bad"}`),
      el("span", `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`),
    );
    const detail = el("details");
    detail.append(el("summary", `to ${d.url}`));
    const tries = el("ol");
    for (const a of attempts) {
      tries.append(el("li", `${time(a.at)} → ${a.status ?? "no answer"}${a.error ? ` (${a.error})` : ""}: ${a.outcome}`));
    }
    detail.append(tries);
    line.append(detail);
    list.append(line);
  }
  cell.append(list);
  return cell;
}

function drawTask(uuid, view) {
  const entry = state.tasks.get(uuid);
  if (!entry) return;
  const previous = entry.view;
  entry.view = view;
  const short = uuid.slice(0, 8);
  const row = entry.row;
  // The video cell is kept while its URL is the same: redrawing would restart playback.
  const keepVideo =
    previous && previous.videos && view.videos && previous.videos.length === view.videos.length && view.videos.length > 0;
  const oldVideo = keepVideo ? row.children[4] : null;

  const name = el("td");
  const code = el("code", short);
  code.title = uuid;
  name.append(code, el("div", view.params && view.params.positivePrompt, "prompt"));
  const status = el("td");
  status.append(el("span", view.status, `badge ${view.status === "success" ? "good" : view.status === "error" ? "bad" : "warn"}`));
  for (const error of view.errors || []) status.append(el("div", `${error.code}: ${error.message}`, "note"));
  const progressCell = el("td");
  const bar = el("progress");
  bar.max = 100;
  bar.value = view.progress;
  bar.setAttribute("aria-label", `Progress of task ${short}`);
  progressCell.append(bar, el("span", ` ${view.progress}%`));
  const cost = el("td", view.status === "success" ? money(view.cost) : "–", "cost");
  let videoCell = oldVideo;
  if (!videoCell) {
    videoCell = el("td");
    for (const video of view.videos || []) {
      const player = el("video");
      player.controls = true;
      player.muted = true;
      player.loop = true;
      player.preload = "metadata";
      player.src = video.videoURL; // a property, not markup: any text stays a URL
      player.setAttribute("aria-label", `Video ${video.videoUUID.slice(0, 8)} of task ${short}`);
      videoCell.append(player);
    }
    if (!videoCell.children.length) videoCell.textContent = "–";
  }
  row.replaceChildren(name, status, progressCell, cost, videoCell, deliveriesCell(view));
  row.dataset.status = view.status;
}

async function refreshTasks() {
  const wanted = [...state.tasks.entries()].filter(([, t]) => !settled(t.view)).map(([uuid]) => uuid);
  if (!wanted.length) return;
  const query = wanted
    .slice(-PAGE)
    .map((u) => `uuid=${encodeURIComponent(u)}`)
    .join("&");
  const answer = await admin("GET", `/tasks?${query}`);
  for (const view of answer.tasks || []) drawTask(view.taskUUID, view);
  for (const uuid of answer.missing || []) {
    const entry = state.tasks.get(uuid);
    if (!entry) continue;
    entry.row.replaceChildren(el("td", uuid.slice(0, 8)), el("td", "expired or reset", "badge"), el("td"), el("td"), el("td"), el("td"));
    entry.view = { status: "gone", deliveries: [] };
  }
  let spent = 0;
  for (const { view } of state.tasks.values()) if (view && view.status === "success") spent += view.cost || 0;
  $("spent").textContent = money(spent);
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
  for (const { item } of state.requests) item.remove();
  state.requests = [];
  for (const { row } of state.tasks.values()) row.remove();
  state.tasks.clear();
  $("no-requests").hidden = false;
  $("no-tasks").hidden = false;
  $("spent").textContent = money(0);
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
  $("faults-clear").addEventListener("click", () => act(() => admin("DELETE", "/faults"), "Faults cleared."));
  $("reset").addEventListener("click", () => {
    if (!window.confirm("Forget every task, fault, journal entry, file and delivery of this mock?")) return;
    act(async () => {
      await admin("POST", "/reset");
      forgetAll();
    }, "The mock was reset.");
  });
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    $("pause").setAttribute("aria-pressed", String(state.paused));
    $("pause").textContent = state.paused ? "Resume updates" : "Pause updates";
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
    addRequests(entries);
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
      await refreshTasks();
      await refreshFaults();
      state.ticks += 1;
      showConnection(`Live: updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) askToken(error.message);
      else showConnection(`Cannot reach the mock's admin API: ${error.message}`, true);
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
