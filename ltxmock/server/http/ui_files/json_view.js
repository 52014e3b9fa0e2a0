// JSON shown as indented lines, each value knowing its JSON pointer, so that an error
// (its "pointer", else its taskUUID) marks the lines of the value it is about and its
// message is shown right below them. Text only: every line is set with textContent.

const INDENT = "  ";
const MAX_LINES = 2000; // a huge body is shown cut short, not laid out whole

function escapePointer(key) {
  return String(key).replaceAll("~", "~0").replaceAll("/", "~1");
}

// [lines, spans]: lines of text; spans maps each value's pointer to [first, last] line.
function layout(value) {
  const lines = [];
  const spans = new Map();
  const walk = (node, pointer, depth, key, comma) => {
    if (lines.length >= MAX_LINES) return;
    const start = lines.length;
    const pad = INDENT.repeat(depth) + (key === null ? "" : `${JSON.stringify(key)}: `);
    const tail = comma ? "," : "";
    if (node !== null && typeof node === "object") {
      const isArray = Array.isArray(node);
      const entries = isArray ? node.map((v, i) => [i, v]) : Object.entries(node);
      const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
      if (entries.length === 0) {
        lines.push(pad + open + close + tail);
      } else {
        lines.push(pad + open);
        entries.forEach(([k, v], i) =>
          walk(v, `${pointer}/${escapePointer(k)}`, depth + 1, isArray ? null : k, i < entries.length - 1),
        );
        lines.push(INDENT.repeat(depth) + close + tail);
      }
    } else {
      lines.push(pad + JSON.stringify(node) + tail);
    }
    spans.set(pointer, [start, Math.max(start, lines.length - 1)]);
  };
  walk(value, "", 0, null, false);
  return [lines, spans];
}

// The pointer an error is about, as far as the shown value has it.
function anchor(error, value, spans) {
  let pointer = typeof error.pointer === "string" ? error.pointer : null;
  if (pointer === null && typeof error.taskUUID === "string" && Array.isArray(value)) {
    const index = value.findIndex((t) => t && typeof t === "object" && t.taskUUID === error.taskUUID);
    if (index >= 0) pointer = `/${index}`;
    if (index >= 0 && typeof error.parameter === "string" && spans.has(`/${index}/${error.parameter}`)) {
      pointer = `/${index}/${error.parameter}`;
    }
  }
  if (pointer === null) return "";
  while (pointer && !spans.has(pointer)) pointer = pointer.slice(0, pointer.lastIndexOf("/"));
  return pointer;
}

function describe(error) {
  const code = typeof error.code === "string" ? error.code : "error";
  const where = typeof error.parameter === "string" ? ` ${error.parameter}` : "";
  const message = typeof error.message === "string" ? `: ${error.message}` : "";
  return `${code}${where}${message}`;
}

// A <div class="code"> child list for `value`, with `errors` marked. Returns the count
// of lines marked.
export function renderJson(container, value, errors = []) {
  const [lines, spans] = layout(value);
  const notes = new Map(); // last line index -> [messages]
  const marked = new Set();
  for (const error of errors) {
    if (!error || typeof error !== "object") continue;
    const pointer = anchor(error, value, spans);
    const [first, last] = spans.get(pointer) || [0, 0];
    for (let i = first; i <= last; i++) marked.add(i);
    if (!notes.has(last)) notes.set(last, []);
    notes.get(last).push(describe(error));
  }
  const fragment = document.createDocumentFragment();
  lines.forEach((text, i) => {
    const line = document.createElement("div");
    line.className = marked.has(i) ? "line bad" : "line";
    line.textContent = text;
    fragment.append(line);
    for (const message of notes.get(i) || []) {
      const note = document.createElement("div");
      note.className = "note";
      note.setAttribute("role", "note");
      note.textContent = `▲ ${message}`;
      fragment.append(note);
    }
  });
  if (lines.length >= MAX_LINES) {
    const more = document.createElement("div");
    more.className = "line";
    more.textContent = `… cut at ${MAX_LINES} lines`;
    fragment.append(more);
  }
  container.replaceChildren(fragment);
  return marked.size;
}

// Text lines with problems at (line, column), as the linter reports them: marked, with
// their messages below. `lineOffset` is subtracted from each problem's line.
export function renderText(container, text, problems, lineOffset = 0) {
  const lines = text.split("\n").slice(0, MAX_LINES);
  const byLine = new Map();
  const loose = [];
  for (const problem of problems) {
    const n = typeof problem.line === "number" ? problem.line - 1 - lineOffset : -1;
    if (n >= 0 && n < lines.length) {
      if (!byLine.has(n)) byLine.set(n, []);
      byLine.get(n).push(problem);
    } else {
      loose.push(problem);
    }
  }
  const fragment = document.createDocumentFragment();
  lines.forEach((text, i) => {
    const line = document.createElement("div");
    const found = byLine.get(i);
    line.className = found ? "line bad" : "line";
    const number = document.createElement("span");
    number.className = "number";
    number.textContent = String(i + 1).padStart(3, " ") + " ";
    number.setAttribute("aria-hidden", "true");
    line.append(number, document.createTextNode(text));
    fragment.append(line);
    for (const problem of found || []) {
      const note = document.createElement("div");
      note.className = "note";
      note.setAttribute("role", "note");
      const column = typeof problem.column === "number" ? `:${problem.column}` : "";
      note.textContent = `▲ ${i + 1}${column} ${describe(problem)}`;
      fragment.append(note);
    }
  });
  for (const problem of loose) {
    const note = document.createElement("div");
    note.className = "note";
    note.setAttribute("role", "note");
    note.textContent = `▲ ${describe(problem)}`;
    fragment.append(note);
  }
  container.replaceChildren(fragment);
}
