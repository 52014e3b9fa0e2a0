// The payload playground: paste a task (or a whole request body), see the linter's
// problems on the lines they are about, send it to POST /v1 and see the answer.

import { admin, submit } from "./api.js";
import { renderJson, renderText } from "./json_view.js";

const LINT_DELAY_MS = 400;
const KEY_STORAGE = "ltxmock.playgroundKey";

function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16)); // plain http on a LAN name
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function sampleTask() {
  return {
    taskType: "videoInference",
    taskUUID: uuid4(),
    model: "lightricks:2@1",
    positivePrompt: "A red fox runs through fresh snow at dawn",
    width: 1920,
    height: 1080,
    duration: 6,
    deliveryMethod: "async",
    includeCost: true,
  };
}

// The request body to lint and send, and how many lines wrapping added before the
// pasted text: a lone task object is sent as a one-task array.
function asBody(text) {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return { body: `[\n${text}\n]`, offset: 1 };
  return { body: text, offset: 0 };
}

export function setUpPlayground(onSent) {
  const payload = document.getElementById("payload");
  const key = document.getElementById("api-key");
  const summary = document.getElementById("lint-summary");
  const lintView = document.getElementById("lint-view");
  const sendStatus = document.getElementById("send-status");
  const sendView = document.getElementById("send-view");
  let timer = 0;
  let generation = 0;

  payload.value = JSON.stringify(sampleTask(), null, 2);
  key.value = sessionStorage.getItem(KEY_STORAGE) || key.value;
  key.addEventListener("change", () => sessionStorage.setItem(KEY_STORAGE, key.value));

  const lint = async () => {
    clearTimeout(timer);
    const mine = ++generation; // an older answer arriving late is dropped
    const text = payload.value;
    const { body, offset } = asBody(text);
    try {
      const answer = await admin("POST", "/lint", { text: body });
      if (mine !== generation) return;
      const problems = answer.problems || [];
      const more = answer.more ? ` (and ${answer.more} more)` : "";
      summary.textContent = problems.length
        ? `${problems.length} problem${problems.length === 1 ? "" : "s"}${more}: marked below.`
        : "No problems: the mock would accept it.";
      summary.dataset.state = problems.length ? "bad" : "good";
      payload.setAttribute("aria-invalid", problems.length ? "true" : "false");
      if (problems.length) renderText(lintView, text, problems, offset);
      else lintView.replaceChildren(); // nothing to mark: the textarea shows it all
    } catch (error) {
      if (mine !== generation) return;
      summary.textContent = `Could not lint: ${error.message}`;
      summary.dataset.state = "bad";
    }
  };

  payload.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(lint, LINT_DELAY_MS);
  });
  document.getElementById("lint").addEventListener("click", lint);
  document.getElementById("new-uuid").addEventListener("click", () => {
    try {
      const value = JSON.parse(payload.value);
      const tasks = Array.isArray(value) ? value : [value];
      for (const task of tasks) if (task && typeof task === "object" && "taskUUID" in task) task.taskUUID = uuid4();
      payload.value = JSON.stringify(value, null, 2);
    } catch {
      payload.value = JSON.stringify(sampleTask(), null, 2);
    }
    lint();
  });
  document.getElementById("playground-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { body } = asBody(payload.value);
    sendStatus.textContent = "Sending…";
    try {
      const answer = await submit(body, key.value);
      const errors = answer.body && Array.isArray(answer.body.errors) ? answer.body.errors : [];
      sendStatus.textContent = `HTTP ${answer.status}: ${errors.length ? `${errors.length} error(s)` : "accepted"}`;
      sendStatus.dataset.state = errors.length ? "bad" : "good";
      renderJson(sendView, answer.body, []);
      onSent();
    } catch (error) {
      sendStatus.textContent = `Could not send: ${error.message}`;
      sendStatus.dataset.state = "bad";
    }
  });
  lint();
}
