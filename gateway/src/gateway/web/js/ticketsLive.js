// Ticket changes as they happen, from the tickets service's server-sent events
// (GET /api/tickets/stream, scoped by the caller's rights like the API). One stream per page,
// shared by every view that shows tickets; it stops when the last view lets go.
//
// A listener gets {kind: "changed", id, number, version, event} for each change it may see,
// and {kind: "resync"} when the stream (re)connects: changes may have been missed meanwhile,
// so a view fetches again.

import { eventStream } from "./live.js";

const PATH = "/api/tickets/stream";
const listeners = new Set();
const stateListeners = new Set();
let stream = null;
let lastState = "closed";

function emit(change) {
  for (const fn of [...listeners]) {
    try {
      fn(change);
    } catch (err) {
      console.error(err);
    }
  }
}

function setState(state) {
  lastState = state;
  for (const fn of [...stateListeners]) fn(state);
}

function start() {
  stream = eventStream(PATH, {
    onEvent(name, data) {
      if (name === "ready" || name === "resync") emit({ kind: "resync" });
      else if (name === "ticket") {
        try {
          emit({ kind: "changed", ...JSON.parse(data) });
        } catch {
          emit({ kind: "resync" });
        }
      }
    },
    onState: setState,
  });
}

/** onTicketChanges(fn) -> unsubscribe(); the stream runs while anyone listens. */
export function onTicketChanges(fn) {
  listeners.add(fn);
  if (!stream) start();
  return () => {
    listeners.delete(fn);
    if (!listeners.size && stream) {
      stream.stop();
      stream = null;
    }
  };
}

/** onStreamState(fn) -> unsubscribe(); fn("connecting" | "open" | "retrying" | "closed"). */
export function onStreamState(fn) {
  stateListeners.add(fn);
  fn(lastState);
  return () => stateListeners.delete(fn);
}

/** Stop the stream for good (signing out). */
export function stopTicketChanges() {
  listeners.clear();
  stream?.stop();
  stream = null;
}
