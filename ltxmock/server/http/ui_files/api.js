// The admin API and POST /v1, called as any client calls them: JSON content type on
// every request, same origin (the browser sends it), the admin token if the user gave
// one. The token is kept in sessionStorage: this tab only, gone when it closes.

const TOKEN_KEY = "ltxmock.adminToken";
const ADMIN = "/__ltxmock";

export class ApiError extends Error {
  constructor(status, body) {
    const first = body && Array.isArray(body.errors) ? body.errors[0] : null;
    super(first && typeof first.message === "string" ? first.message : `HTTP ${status}`);
    this.status = status;
    this.code = first && typeof first.code === "string" ? first.code : null;
    this.body = body;
  }
}

export function adminToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setAdminToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

async function readJson(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return { errors: [{ code: "notJson", message: text.slice(0, 200) }] };
  }
}

function adminFetch(method, path, body, accept) {
  const headers = { "Content-Type": "application/json", Accept: accept };
  const token = adminToken();
  if (token) headers["X-Ltxmock-Admin-Token"] = token;
  return fetch(ADMIN + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
}

// An admin call: resolves to the parsed body, throws ApiError for any non-2xx.
export async function admin(method, path, body) {
  const response = await adminFetch(method, path, body, "application/json");
  const parsed = await readJson(response);
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

// An admin GET read as text, at most maxBytes of it (the rest is never read):
// resolves to {text, truncated, contentType}, throws ApiError for any non-2xx.
export async function adminText(path, maxBytes) {
  const response = await adminFetch("GET", path, undefined, "*/*");
  if (!response.ok) throw new ApiError(response.status, await readJson(response));
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  while (size <= maxBytes) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  const truncated = size > maxBytes;
  if (truncated) await reader.cancel();
  const bytes = new Uint8Array(Math.min(size, maxBytes));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - at);
    bytes.set(part, at);
    at += part.length;
  }
  const text = new TextDecoder("utf-8").decode(bytes); // invalid bytes become U+FFFD
  return { text, truncated, contentType: response.headers.get("Content-Type") || "" };
}

// POST /v1 with an API key: resolves to {status, body} whatever the status.
export async function submit(bodyText, apiKey) {
  const response = await fetch("/v1", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${apiKey}` },
    body: bodyText,
    cache: "no-store",
    credentials: "omit",
  });
  return { status: response.status, body: await readJson(response) };
}
