// The ticket page kept in step with the ticket's changes (js/ticketsLive.js) while it is
// shown: a change to this ticket, or a resync of the stream, asks the page to fetch again.
// Bursts are coalesced, one refresh runs at a time, and a hidden tab catches up when it is
// shown again. The subscription ends when the page is left.

import { followChanges } from "../../live.js";
import { onTicketChanges } from "../../ticketsLive.js";

// Changes that come together (an action and its comment, a burst of events) fetch once.
const SETTLE_MS = 120;

/**
 * followTicket({el, isCurrent, shown: () => ({id, version}), refresh: async (change) => {}})
 * -> stop(). `change` is the last change heard ({kind: "changed", event, ...} or
 * {kind: "resync"}).
 */
export function followTicket({ el, isCurrent, shown, refresh }) {
  let latest = null;
  let unsubscribe = () => {};
  const follower = followChanges({ el, isCurrent, settleMs: SETTLE_MS, refresh: () => refresh(latest), onStop: () => unsubscribe() });

  function heard(change) {
    if (change.kind === "changed") {
      const { id, version } = shown();
      if (change.id !== id) return;
      // An older state than the page shows (our own action's echo arrives after its answer).
      if (typeof change.version === "number" && change.version < version) return;
    }
    latest = change;
    follower.changed();
  }

  unsubscribe = onTicketChanges(heard);
  return follower.stop;
}
