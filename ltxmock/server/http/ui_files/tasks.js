// The tasks panel: the newest MAX_TASKS tasks the journal shows accepted, each with its
// state, progress, cost and deliveries (GET /__ltxmock/tasks), asked again only while
// not settled. A task's videos are in a row of their own right below it, the table's
// whole width: in a column of their own, beside a delivery or an error, they were
// squeezed to a thumbnail.

import { ApiError, admin, adminText } from "./api.js";
import { el, money, time } from "./dom.js";
import { errorsOf, tasksOf } from "./requests.js";

const MAX_TASKS = 30;
const MAX_BODY_BYTES = 64 * 1024; // of a captured body shown as text (the rest is not read)
// captured: a callback to a reserved name, kept by the mock instead of sent.
const DELIVERY_LOOK = { delivered: "good", captured: "good", pending: "warn", skipped: "warn" };
// What an attempt led to, as the attempt log says it (its "pending": tried again later).
const ATTEMPT_OUTCOME = { pending: "will retry" };
const COLUMNS = 5; // Task, Status, Progress, Cost, Deliveries

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
      const outcome = ATTEMPT_OUTCOME[a.outcome] || a.outcome;
      tries.append(el("li", `${time(a.at)} → ${a.status ?? "no answer"}${a.error ? ` (${a.error})` : ""}: ${outcome}`));
    }
    detail.append(tries);
    line.append(detail);
    if (d.state === "captured") line.append(captureView(d));
    list.append(line);
  }
  cell.append(list);
  return cell;
}

// A captured delivery: what it would have sent. A webhook's body is read on demand
// through the admin API (with its token) and shown as text; an upload's is a video,
// described by its type, size and hash.
function captureView(d) {
  const box = el("div", null, "capture");
  const capture = d.captured || {};
  const facts = `${capture.contentType || "?"}, ${capture.size ?? "?"} bytes`;
  box.append(el("span", `captured, not sent: ${facts}`, "note-plain"));
  if (d.kind !== "webhook" || !Number.isInteger(d.id)) {
    if (capture.sha256) box.append(el("div", `sha256 ${capture.sha256}`, "note-plain"));
    return box;
  }
  const button = el("button", "View body");
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-label", `View the captured body of ${d.kind} #${d.result_index}`);
  const view = el("pre", null, "code capture-body");
  view.hidden = true;
  button.addEventListener("click", async () => {
    if (!view.hidden) {
      view.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.textContent = "View body";
      return;
    }
    view.hidden = false;
    button.setAttribute("aria-expanded", "true");
    button.textContent = "Hide body";
    view.textContent = "Loading…";
    try {
      const { text, truncated } = await adminText(`/deliveries/${d.id}/body`, MAX_BODY_BYTES);
      let shown = text;
      if (!truncated) {
        try {
          shown = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          // not JSON: shown as received
        }
      }
      view.textContent = truncated ? `${shown}\n… (first ${MAX_BODY_BYTES} bytes of ${capture.size})` : shown;
    } catch (error) {
      view.textContent = error instanceof ApiError ? `${error.status}: ${error.message}` : String(error.message || error);
    }
  });
  box.append(button, view);
  return box;
}

// The task's videos, in its media row: redrawn only when their URLs change, since
// redrawing would restart a video being watched. Played by hand (controls), muted
// and looped, inline; never started on their own, preloading their metadata only.
function drawVideos(short, entry, videos) {
  const key = videos.map((video) => video.videoURL).join("\n");
  if (key === entry.videoKey) return;
  entry.videoKey = key;
  const strip = el("div", null, "videos");
  for (const video of videos) {
    const player = el("video");
    player.controls = true;
    player.muted = true;
    player.loop = true;
    player.playsInline = true;
    player.preload = "metadata";
    player.src = video.videoURL; // a property, not markup: any text stays a URL
    player.setAttribute("aria-label", `Video ${String(video.videoUUID).slice(0, 8)} of task ${short}`);
    strip.append(player);
  }
  const cell = el("td");
  cell.colSpan = COLUMNS;
  cell.append(strip);
  entry.media.replaceChildren(cell);
  entry.media.hidden = videos.length === 0;
  entry.row.classList.toggle("has-media", videos.length > 0);
}

function drawTask(uuid, entry, view) {
  entry.view = view;
  const short = uuid.slice(0, 8);
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
  entry.row.replaceChildren(name, status, progressCell, cost, deliveriesCell(view));
  entry.row.dataset.status = view.status;
  drawVideos(short, entry, Array.isArray(view.videos) ? view.videos : []);
}

// The table: rows newest first, each task's row followed by its media row (hidden
// until it has a video); this.tasks keeps uuid -> {view, row, media, videoKey}, oldest
// first.
export class TaskTable {
  constructor(body, empty, spent) {
    this.body = body;
    this.empty = empty;
    this.spent = spent;
    this.tasks = new Map();
  }

  // The tasks an exchange got accepted (a refused one's are not).
  note(entry) {
    if (entry.status !== 200) return;
    const failed = new Set(errorsOf(entry).map((e) => e && e.taskUUID));
    for (const task of tasksOf(entry)) {
      if (task.taskType !== "videoInference" || typeof task.taskUUID !== "string") continue;
      if (failed.has(task.taskUUID) || this.tasks.has(task.taskUUID)) continue;
      const row = el("tr");
      row.dataset.task = task.taskUUID;
      const media = el("tr", null, "media");
      media.dataset.videosOf = task.taskUUID;
      media.hidden = true;
      this.body.prepend(row, media);
      this.tasks.set(task.taskUUID, { view: null, row, media, videoKey: "" });
    }
    while (this.tasks.size > MAX_TASKS) {
      const [oldest, { row, media }] = this.tasks.entries().next().value;
      row.remove();
      media.remove();
      this.tasks.delete(oldest);
    }
    this.empty.hidden = this.tasks.size > 0;
  }

  async refresh() {
    const wanted = [...this.tasks.entries()].filter(([, t]) => !settled(t.view)).map(([uuid]) => uuid);
    if (!wanted.length) return;
    const query = wanted.map((u) => `uuid=${encodeURIComponent(u)}`).join("&");
    const answer = await admin("GET", `/tasks?${query}`);
    for (const view of answer.tasks || []) {
      const entry = this.tasks.get(view.taskUUID);
      if (entry) drawTask(view.taskUUID, entry, view);
    }
    for (const uuid of answer.missing || []) {
      const entry = this.tasks.get(uuid);
      if (!entry) continue;
      const cells = [el("td", uuid.slice(0, 8)), el("td", "expired or reset", "badge")];
      entry.row.replaceChildren(...cells, el("td"), el("td"), el("td"));
      entry.view = { status: "gone", deliveries: [] };
      drawVideos(uuid.slice(0, 8), entry, []); // its files are gone with it
    }
    let spent = 0;
    for (const { view } of this.tasks.values()) if (view && view.status === "success") spent += view.cost || 0;
    this.spent.textContent = money(spent);
  }

  clear() {
    for (const { row, media } of this.tasks.values()) {
      row.remove();
      media.remove();
    }
    this.tasks.clear();
    this.empty.hidden = false;
    this.spent.textContent = money(0);
  }
}
