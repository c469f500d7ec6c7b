// Calls to the gateway (/api/<service>/...), with the access token, one refresh on 401,
// and the shared error shape {"error": {"code", "message", "fields"}, "request_id"}.

import { t } from "./i18n.js";

const ACCESS = "helpdesk.access_token";
const REFRESH = "helpdesk.refresh_token";

export class ApiError extends Error {
  constructor({ status, code, message, fields, requestId, retryAfter, data }) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "error";
    this.fields = fields || [];
    this.requestId = requestId || null;
    this.retryAfter = retryAfter || null;
    this.data = data || null;
  }
}

// -- tokens (this tab only) -------------------------------------------------------------

export const session = {
  get access() {
    return sessionStorage.getItem(ACCESS);
  },
  get refresh() {
    return sessionStorage.getItem(REFRESH);
  },
  store(pair) {
    sessionStorage.setItem(ACCESS, pair.access_token);
    sessionStorage.setItem(REFRESH, pair.refresh_token);
  },
  clear() {
    sessionStorage.removeItem(ACCESS);
    sessionStorage.removeItem(REFRESH);
  },
};

let refresher = null;
let refreshing = null;
let onExpired = () => {};

/** app.js registers how to exchange the refresh token, and what to do when that fails. */
export function configureAuth({ refresh, expired }) {
  refresher = refresh;
  onExpired = expired;
}

async function refreshOnce() {
  // Concurrent 401s share one refresh: a refresh token can be used only once.
  if (!refreshing) {
    refreshing = (async () => {
      try {
        return await refresher();
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

// -- requests ---------------------------------------------------------------------------

export function queryString(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    if (Array.isArray(value)) value.forEach((v) => q.append(key, v));
    else q.append(key, String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

async function send(path, { method, query, body, raw, headers, auth, timeout }) {
  const h = { Accept: "application/json", ...(headers || {}) };
  if (body !== undefined && raw === undefined) h["Content-Type"] = "application/json";
  if (auth && session.access) h.Authorization = `Bearer ${session.access}`;
  try {
    return await fetch(path + queryString(query), {
      method,
      headers: h,
      // raw: a Blob or File sent as it is (its Content-Type in headers), e.g. an image.
      body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: timeout ? AbortSignal.timeout(timeout) : undefined,
    });
  } catch {
    throw new ApiError({ status: 0, code: "network", message: t("err.network") });
  }
}

// -- retry-safe writes (Idempotency-Key) -------------------------------------------------
//
// Every create or change carries an Idempotency-Key: the services do a request with a key
// at most once and answer a repeat with the first answer. One user action keeps its key
// while its outcome is unknown: the retries below after a network error or a timeout, a
// second click on the same form while the first is still on its way, and "try again" after
// a failure all send the same request with the same key, so none of them creates a second
// ticket or comment. Once the action has an answer (done, or refused: the server keeps
// nothing for an error), the same request later is a new action with a new key.

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// Statuses after which the server may or may not have done the work (a gateway that lost
// the service's answer, a timeout): the key is kept for the next attempt.
const OUTCOME_UNKNOWN = new Set([0, 408, 429, 502, 503, 504]);
// A write that takes longer is given up on and sent again with its key (which then waits
// for the first and gets its answer).
export const WRITE_TIMEOUT_MS = 30000;
// After a network error or timeout a write is sent again after these pauses.
export const WRITE_RETRY_DELAYS_MS = [1000, 3000];
const pendingKeys = new Map();
const PENDING_MAX = 200;

function actionSignature(method, path, query, body) {
  return `${method} ${path}${queryString(query)} ${body === undefined ? "" : JSON.stringify(body)}`;
}

/** The key of this request: the pending one of the same request, else a new one. */
function keyFor(signature) {
  let key = pendingKeys.get(signature);
  if (!key) {
    key = idempotencyKey();
    if (pendingKeys.size >= PENDING_MAX) pendingKeys.delete(pendingKeys.keys().next().value);
    pendingKeys.set(signature, key);
  }
  return key;
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** send() for a write with a key: again (same key) after a network error or timeout. */
async function sendWrite(path, options) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await send(path, { ...options, timeout: WRITE_TIMEOUT_MS });
    } catch (err) {
      if (attempt >= WRITE_RETRY_DELAYS_MS.length) throw err;
      await pause(WRITE_RETRY_DELAYS_MS[attempt]);
    }
  }
}

async function errorFrom(res) {
  const data = await res.json().catch(() => null);
  const err = data && typeof data.error === "object" ? data.error : {};
  return new ApiError({
    status: res.status,
    code: err.code || `http_${res.status}`,
    message: err.message || t("err.generic", { status: res.status }),
    fields: Array.isArray(err.fields) ? err.fields : [],
    requestId: data?.request_id || res.headers.get("X-Request-ID"),
    retryAfter: res.headers.get("Retry-After"),
    data: err,
  });
}

/** After a 401: refresh the tokens once; false (and the session ends) when that fails. */
async function refreshedAfter401() {
  let refreshed = false;
  try {
    refreshed = await refreshOnce();
  } catch {
    refreshed = false;
  }
  if (!refreshed) onExpired();
  return refreshed;
}

/**
 * api("/api/tickets/tickets", {query: {...}}) -> parsed JSON (null for 204).
 * A 401 on a signed-in request refreshes the tokens once and repeats the request.
 * `raw` sends a Blob/File as the body instead of JSON (set its Content-Type in headers).
 */
export async function api(path, { method = "GET", query, body, raw, headers, auth = true } = {}) {
  // Signed-in writes only: the keys are per user (login and token refresh have none, and
  // a refresh token sent twice would end the session).
  const write = auth && WRITES.has(method);
  const given = headers && headers["Idempotency-Key"];
  // A raw body (a file) is not compared: its key lasts for this call's own retries.
  const signature = write && !given && raw === undefined ? actionSignature(method, path, query, body) : null;
  const key = write ? given || (signature ? keyFor(signature) : idempotencyKey()) : null;
  const options = { method, query, body, raw, headers: key ? { ...headers, "Idempotency-Key": key } : headers, auth };
  const sendOnce = () => (key ? sendWrite(path, options) : send(path, options));
  let res;
  try {
    res = await sendOnce();
    if (res.status === 401 && auth && session.refresh && refresher) {
      if (!(await refreshedAfter401())) throw await errorFrom(res);
      res = await sendOnce();
    }
  } finally {
    // Answered either way: the action is over unless its outcome is unknown.
    if (signature && !OUTCOME_UNKNOWN.has(res ? res.status : 0)) pendingKeys.delete(signature);
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (err.status === 401 && auth) onExpired();
    throw err;
  }
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/**
 * A raw fetch() with the access token (one refresh on 401), for responses read as a stream
 * (server-sent events): resolves with the Response, whatever its status.
 */
export async function authorizedFetch(path, { query, headers, signal } = {}) {
  const open = () => {
    const h = { ...(headers || {}) };
    if (session.access) h.Authorization = `Bearer ${session.access}`;
    return fetch(path + queryString(query), { headers: h, cache: "no-store", signal });
  };
  let res = await open();
  if (res.status === 401 && session.refresh && refresher) {
    if (!(await refreshedAfter401())) return res;
    res = await open();
  }
  if (res.status === 401) onExpired();
  return res;
}

/** The file name in a Content-Disposition header: filename* (RFC 5987) first, then filename. */
export function dispositionFilename(header) {
  if (!header) return null;
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[2].trim().replace(/^"|"$/g, ""));
    } catch {
      // A broken encoding: fall back to the plain name.
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(header);
  if (!plain) return null;
  return (plain[2] ?? plain[1]).trim() || null;
}

/**
 * A file from the API (PDF, CSV, image) with the access token: resolves with {blob,
 * filename, type}; an error answer becomes an ApiError with the server's message.
 */
export async function fetchFile(path, { query } = {}) {
  let res;
  try {
    res = await authorizedFetch(path, { query, headers: { Accept: "*/*" } });
  } catch {
    throw new ApiError({ status: 0, code: "network", message: t("err.network") });
  }
  if (!res.ok) throw await errorFrom(res);
  let blob;
  try {
    blob = await res.blob();
  } catch {
    // The connection broke while the file was coming (a truncated body).
    throw new ApiError({ status: 0, code: "network", message: t("err.network") });
  }
  return {
    blob,
    filename: dispositionFilename(res.headers.get("Content-Disposition")),
    type: res.headers.get("Content-Type") || blob.type,
  };
}

/** An ApiError from an XMLHttpRequest's answer (the shared error shape, as errorFrom). */
function xhrError(xhr) {
  let data = null;
  try {
    data = JSON.parse(xhr.responseText);
  } catch {
    data = null;
  }
  const err = data && typeof data.error === "object" ? data.error : {};
  return new ApiError({
    status: xhr.status,
    code: err.code || `http_${xhr.status}`,
    message: err.message || t("err.generic", { status: xhr.status }),
    fields: Array.isArray(err.fields) ? err.fields : [],
    requestId: data?.request_id || xhr.getResponseHeader("X-Request-ID"),
    retryAfter: xhr.getResponseHeader("Retry-After"),
    data: err,
  });
}

/**
 * Send one file as multipart/form-data (the part `file`, after the `fields`) with
 * XMLHttpRequest, whose upload reports progress (fetch() does not): onProgress(loaded,
 * total). Resolves with the parsed JSON answer; an error answer becomes an ApiError, a
 * broken connection code "network". A 401 refreshes the tokens once and sends it again.
 */
export async function upload(path, { file, fields = {}, headers = {}, onProgress = () => {} }) {
  const sendOnce = () =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      xhr.setRequestHeader("Accept", "application/json");
      if (session.access) xhr.setRequestHeader("Authorization", `Bearer ${session.access}`);
      for (const [key, value] of Object.entries(headers)) xhr.setRequestHeader(key, value);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded, event.total);
      };
      const broken = () => reject(new ApiError({ status: 0, code: "network", message: t("err.network") }));
      xhr.onerror = broken;
      xhr.onabort = broken;
      xhr.ontimeout = broken;
      xhr.onload = () => resolve(xhr);
      const form = new FormData();
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined && value !== null && value !== "") form.append(key, value);
      }
      form.append("file", file, file.name);
      xhr.send(form);
    });
  let xhr = await sendOnce();
  if (xhr.status === 401 && session.refresh && refresher) {
    if (!(await refreshedAfter401())) throw xhrError(xhr);
    xhr = await sendOnce();
  }
  if (xhr.status < 200 || xhr.status >= 300) {
    const err = xhrError(xhr);
    if (err.status === 401) onExpired();
    throw err;
  }
  return xhr.responseText ? JSON.parse(xhr.responseText) : null;
}

/** A fresh random key (hex) for an Idempotency-Key header; crypto.randomUUID needs a secure
 * context (HTTPS or localhost), which an office's plain-HTTP intranet address is not. */
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The If-Match header for a ticket version (the tickets API's ETag is "<version>"). */
export const ifMatch = (version) => ({ "If-Match": `"${version}"` });

/** Every page of a cursor-paginated list, up to `max` items. */
export async function fetchAll(path, query, { max = 2000, pageSize = 100 } = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, limit: pageSize, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return { items: items.slice(0, max), capped: Boolean(cursor) || items.length > max };
}
