// The ticket page kept in step with the ticket's changes (js/ticketsLive.js) while it is
// shown: a change to this ticket, or a resync of the stream, asks the page to fetch again.
// Bursts are coalesced, one refresh runs at a time, and a hidden tab catches up when it is
// shown again. The subscription ends when the page is left.

import { onTicketChanges } from "../../ticketsLive.js";

// Changes that come together (an action and its comment, a burst of events) fetch once.
const SETTLE_MS = 120;

/**
 * followTicket({el, isCurrent, shown: () => ({id, version}), refresh: async (change) => {}})
 * -> stop(). `change` is the last change heard ({kind: "changed", event, ...} or
 * {kind: "resync"}).
 */
export function followTicket({ el, isCurrent, shown, refresh }) {
  let timer = null;
  let running = false;
  let again = false;
  let missed = false;
  let stopped = false;
  let latest = null;

  const alive = () => !stopped && isCurrent() && el.isConnected;

  function heard(change) {
    if (!alive()) return stop();
    if (change.kind === "changed") {
      const { id, version } = shown();
      if (change.id !== id) return;
      // An older state than the page shows (our own action's echo arrives after its answer).
      if (typeof change.version === "number" && change.version < version) return;
    }
    latest = change;
    schedule();
  }

  function schedule() {
    if (document.hidden) {
      missed = true;
      return;
    }
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(run, SETTLE_MS);
  }

  async function run() {
    if (!alive()) return stop();
    running = true;
    const change = latest;
    try {
      await refresh(change);
    } catch (err) {
      console.error(err);
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  function onVisible() {
    if (!document.hidden && missed) {
      missed = false;
      schedule();
    }
  }

  const unsubscribe = onTicketChanges(heard);
  // Leaving the page replaces the view: the subscription goes with it.
  const observer = new MutationObserver(() => {
    if (!alive()) stop();
  });
  if (el.parentNode) observer.observe(el.parentNode, { childList: true });
  document.addEventListener("visibilitychange", onVisible);

  function stop() {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    unsubscribe();
    observer.disconnect();
    document.removeEventListener("visibilitychange", onVisible);
  }
  return stop;
}
