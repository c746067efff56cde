// The HTTP API as the page uses it (shapes: agents/service/schemas.py). Every request carries the
// API key from localStorage when one is set; every error becomes an ApiError with the server's
// one-line message (errors are always {"error": {message, type, hint}}).

const KEY_STORAGE = "babelrag.apiKey";

export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(detail?.message || `HTTP ${status}`);
    this.status = status;
    this.type = detail?.type || "error";
    this.hint = detail?.hint || null;
    this.retryAfter = retryAfter;
  }
}

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function failure(response) {
  let detail = null;
  try {
    detail = (await response.json()).error;
  } catch {
    /* not JSON: a proxy's page; the status says enough */
  }
  return new ApiError(response.status, detail, response.headers.get("Retry-After"));
}

async function call(method, path, body, { signal } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

/** POST ``files`` as multipart field ``files`` (the browser sets the boundary). */
async function upload(path, files) {
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const response = await fetch(path, { method: "POST", headers: headers(), body: form });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/**
 * POST ``body`` and read its Server-Sent Events (EventSource cannot POST, hence fetch and a
 * ReadableStream). ``onEvent(name, data)`` is called for each event as it arrives; resolves with
 * the ``result`` event's data, rejects with an ApiError on an ``error`` event or HTTP error.
 */
export async function stream(path, body, onEvent, { signal } = {}) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let result = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (!event) continue;
      if (event.name === "error") throw new ApiError(500, event.data?.error);
      if (event.name === "result") result = event.data;
      onEvent(event.name, event.data);
    }
  }
  if (result === null) throw new ApiError(502, { message: "the stream ended without a result" });
  return result;
}

/** One SSE block ("event: x\ndata: {...}") as {name, data}; comments and empty blocks give null. */
export function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  const text = data.join("\n");
  try {
    return { name, data: JSON.parse(text) };
  } catch {
    return { name, data: text };
  }
}

export const api = {
  health: () => call("GET", "/healthz"),
  kbs: () => call("GET", "/v1/kbs"),
  search: (body, opts) => call("POST", "/v1/search", body, opts),
  ask: (body, onEvent, opts) => stream("/v1/ask", body, onEvent, opts),
  write: (body, opts) => call("POST", "/v1/write", body, opts),
  render: (body) => call("POST", "/v1/write/render", body),
  kbInfo: (kb) => call("GET", `/v1/kbs/${encodeURIComponent(kb)}`),
  upload: (kb, files) => upload(`/v1/kbs/${encodeURIComponent(kb)}/files`, files),
  passage: (kb, id) => call("GET", `/v1/kbs/${encodeURIComponent(kb)}/passages/${encodeURIComponent(id)}`),
  sessions: () => call("GET", "/v1/sessions"),
  session: (id) => call("GET", `/v1/sessions/${encodeURIComponent(id)}`),
  createSession: (body) => call("POST", "/v1/sessions", body),
  updateSession: (id, body) => call("PATCH", `/v1/sessions/${encodeURIComponent(id)}`, body),
  deleteSession: (id) => call("DELETE", `/v1/sessions/${encodeURIComponent(id)}`),
  turn: (id, message, onEvent, opts) =>
    stream(`/v1/sessions/${encodeURIComponent(id)}/turns`, { message }, onEvent, opts),
};
