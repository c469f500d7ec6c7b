// Server-sent events over fetch(): EventSource cannot send the Authorization header, so the
// stream is read with a ReadableStream reader and its lines parsed here. A dropped stream
// is opened again with back-off; stop() ends it for good (the page was left).

import { authorizedFetch } from "./api.js";

const FIRST_DELAY = 1000;
const MAX_DELAY = 30000;
// The server sends at least a comment every 15 s: silence this long means a dead connection.
const SILENCE_MS = 45000;

/**
 * Split a text stream into server-sent events: onEvent(name, data) for each complete event
 * ("message" when it names none), onField("retry", ms) for reconnection hints. Comment lines
 * (": ping") only prove the connection is alive.
 */
export function sseParser({ onEvent, onRetry = () => {} }) {
  let buffer = "";
  let name = "";
  let data = [];
  function line(text) {
    if (text === "") {
      if (data.length || name) onEvent(name || "message", data.join("\n"));
      name = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
    else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
  }
  return {
    push(chunk) {
      buffer += chunk;
      for (;;) {
        const match = /\r\n|\n|\r/.exec(buffer);
        // A lone "\r" at the end may be the first half of "\r\n": wait for more.
        if (!match || (match[0] === "\r" && match.index === buffer.length - 1)) break;
        line(buffer.slice(0, match.index));
        buffer = buffer.slice(match.index + match[0].length);
      }
    },
  };
}

/**
 * eventStream("/api/reports/stream", {onEvent(name, data), onState(state)}) -> {stop()}
 * onState gets "connecting", "open", "retrying" (with the delay in ms) or "closed".
 */
export function eventStream(path, { onEvent, onState = () => {} }) {
  let stopped = false;
  let controller = null;
  let retryTimer = null;
  let silenceTimer = null;
  let failures = 0;
  let serverRetry = 0;

  const parser = sseParser({ onEvent: (name, data) => !stopped && onEvent(name, data), onRetry: (ms) => (serverRetry = ms) });

  function watchSilence() {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => controller?.abort(), SILENCE_MS);
  }

  async function connect() {
    retryTimer = null;
    if (stopped) return;
    controller = new AbortController();
    onState("connecting");
    try {
      const res = await authorizedFetch(path, { headers: { Accept: "text/event-stream" }, signal: controller.signal });
      if (res.status === 401 || res.status === 403) {
        // Signed out (the app takes the user to the sign-in page) or not allowed: no retry.
        stopped = true;
        onState("closed");
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      failures = 0;
      onState("open");
      watchSilence();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done || stopped) break;
        watchSilence();
        parser.push(value);
      }
    } catch {
      // A network error, an abort by stop() or by the silence watch: decided below.
    } finally {
      clearTimeout(silenceTimer);
    }
    if (stopped) return;
    failures += 1;
    const backoff = Math.min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - 1));
    const delay = Math.max(serverRetry, backoff) * (0.8 + Math.random() * 0.4);
    onState("retrying", delay);
    retryTimer = setTimeout(connect, delay);
  }

  connect();
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(retryTimer);
      clearTimeout(silenceTimer);
      controller?.abort();
      onState("closed");
    },
  };
}

/**
 * followChanges({el, isCurrent, settleMs, refresh, onStop}) -> {changed(), stop()}
 * A view kept in step with a stream while it is shown: changed() asks for a refresh; the
 * changes of a burst settle for settleMs and fetch once, one refresh runs at a time (a
 * change meanwhile asks for one more), and a hidden tab catches up when it is shown again.
 * It stops (and calls onStop) when the view is left: el replaced, isCurrent() false, or
 * the page unloaded.
 */
export function followChanges({ el, isCurrent, settleMs, refresh, onStop = () => {} }) {
  let timer = null;
  let running = false;
  let again = false;
  let missed = false;
  let stopped = false;

  const alive = () => !stopped && isCurrent() && el.isConnected;

  function changed() {
    if (!alive()) return stop();
    if (document.hidden) {
      missed = true;
      return;
    }
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(run, settleMs);
  }

  async function run() {
    if (!alive()) return stop();
    running = true;
    try {
      await refresh();
    } catch (err) {
      console.error(err);
    } finally {
      running = false;
      if (again) {
        again = false;
        changed();
      }
    }
  }

  function onVisible() {
    if (!document.hidden && missed) {
      missed = false;
      changed();
    }
  }

  // Leaving the page replaces the view: the follower goes with it.
  const observer = new MutationObserver(() => {
    if (!alive()) stop();
  });
  if (el.parentNode) observer.observe(el.parentNode, { childList: true });
  document.addEventListener("visibilitychange", onVisible);
  window.addEventListener("pagehide", stop);

  function stop() {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    observer.disconnect();
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("pagehide", stop);
    onStop();
  }
  return { changed, stop };
}
