// The requests panel: each exchange of the journal with its verdict; opened, the
// payload with the value each error is about marked (json_view.js), then the answer.

import { el, time } from "./dom.js";
import { renderJson } from "./json_view.js";

const MAX_REQUESTS = 100;
let boxes = 0; // ids of the opened requests' headings, unique in the page

export function errorsOf(entry) {
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

export function tasksOf(entry) {
  return Array.isArray(entry.request) ? entry.request.filter((t) => t && typeof t === "object") : [];
}

// A listing named by the heading above it (a figure: the box a screen reader tells
// apart by its name; not a landmark, since a page may have many opened at once).
function titled(heading, box) {
  boxes += 1;
  heading.id = `request-box-${boxes}`;
  box.setAttribute("role", "figure");
  box.setAttribute("aria-labelledby", heading.id);
  return [heading, box];
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
    const marked = renderJson(sent, entry.request, errorsOf(entry));
    const answer = el("div", null, "code");
    renderJson(answer, entry.response, []);
    details.append(
      ...titled(el("h3", marked ? "Request (errors marked)" : "Request"), sent),
      ...titled(el("h3", `Response ${entry.status}`), answer),
    );
  });
  item.append(details);
  return item;
}

// The list of exchanges: the newest MAX_REQUESTS, newest first.
export class RequestList {
  constructor(list, empty) {
    this.list = list;
    this.empty = empty;
    this.items = []; // newest first
  }

  add(entries) {
    for (const entry of entries) {
      const item = requestItem(entry);
      this.list.prepend(item);
      this.items.unshift(item);
    }
    while (this.items.length > MAX_REQUESTS) this.items.pop().remove();
    this.empty.hidden = this.items.length > 0;
  }

  clear() {
    for (const item of this.items) item.remove();
    this.items = [];
    this.empty.hidden = false;
  }
}
