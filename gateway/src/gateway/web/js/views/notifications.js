// In-app notifications: the bell in the header (unread counts polled every 30 s, a short
// list) and the full list page (#/notifications). What is addressed to the user personally
// (assigned to them, their ticket's comment or SLA) stands out from broadcasts (a new ticket
// in the queue): a strong badge of its own on the bell, first in its panel, highlighted and
// filterable ("Untuk saya") on the page.

import { api } from "../api.js";
import { h, icon, replace } from "../dom.js";
import { t } from "../i18n.js";
import { errorBox, errorText, fmtRelative, loading, pageHeader, timeEl, toast } from "../ui.js";

const BASE = "/api/notifications/notifications";
const POLL_MS = 30_000;

function ticketHref(n) {
  return n.ticket_id ? `#/tickets/${encodeURIComponent(n.ticket_id)}` : null;
}

async function markRead(n) {
  if (n.is_read) return;
  await api(`${BASE}/${encodeURIComponent(n.id)}/read`, { method: "POST" });
  n.is_read = true;
}

// -- the bell ---------------------------------------------------------------------------

class Bell {
  constructor() {
    this.count = 0;
    this.addressed = 0;
    this.available = true;
    this.timer = null;
    this.button = null;
    this.panel = null;
    this.onVisible = () => {
      if (!document.hidden) this.refresh();
    };
    this.onOutside = (e) => {
      if (this.wrapper && !this.wrapper.contains(e.target)) this.close();
    };
  }

  start() {
    if (this.timer) return;
    this.refresh();
    this.timer = setInterval(() => {
      if (!document.hidden) this.refresh();
    }, POLL_MS);
    document.addEventListener("visibilitychange", this.onVisible);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    document.removeEventListener("visibilitychange", this.onVisible);
    this.count = 0;
    this.addressed = 0;
  }

  async refresh() {
    try {
      const data = await api(`${BASE}/unread-count`);
      this.available = true;
      this.setCount(data.unread_count, data.addressed_unread_count);
    } catch (err) {
      // No notifications service (or it is down): the bell stays, without a number.
      if (err.status === 404) this.available = false;
    }
  }

  /** n unread in all, `addressed` of them for the user personally (kept when not given). */
  setCount(n, addressed = this.addressed) {
    this.count = n;
    this.addressed = Math.min(addressed ?? 0, n);
    if (!this.button) return;
    const others = n - this.addressed;
    const label = this.addressed ? t("notif.bell_split", { a: this.addressed, b: others }) : t("notif.bell", { n });
    this.button.setAttribute("aria-label", label);
    this.button.title = label;
    const shown = (k) => (k > 99 ? "99+" : String(k));
    // Strong: for the user personally; quiet: the rest (a new ticket in the queue, ...).
    this.badge.textContent = shown(this.addressed);
    this.badge.hidden = this.addressed === 0;
    this.quietBadge.textContent = shown(others);
    this.quietBadge.hidden = others === 0;
    this.button.classList.toggle("has-addressed", this.addressed > 0);
    document.dispatchEvent(new CustomEvent("helpdesk:unread", { detail: n }));
  }

  /** A fresh button and panel for each header render; the count survives. */
  element() {
    this.badge = h("span", { class: "bell-count bell-addressed", "aria-hidden": "true" });
    this.quietBadge = h("span", { class: "bell-count bell-quiet", "aria-hidden": "true" });
    this.button = h("button", { type: "button", class: "btn btn-ghost bell", "aria-expanded": "false", "aria-controls": "notif-panel" }, icon("bell"), this.badge, this.quietBadge);
    this.panel = h("div", { class: "notif-panel", id: "notif-panel", hidden: true });
    this.wrapper = h("div", { class: "bell-wrap" }, this.button, this.panel);
    this.button.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    this.wrapper.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !this.panel.hidden) {
        this.close();
        this.button.focus();
      }
    });
    this.setCount(this.count);
    return this.wrapper;
  }

  close() {
    if (!this.panel || this.panel.hidden) return;
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", this.onOutside, true);
  }

  async open() {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    document.addEventListener("click", this.onOutside, true);
    replace(this.panel, loading());
    try {
      // Unread items for the user personally first, then the latest of the rest.
      const [mine, latest] = await Promise.all([
        api(BASE, { query: { limit: 5, unread: true, addressed: true } }),
        api(BASE, { query: { limit: 8 } }),
      ]);
      this.setCount(latest.unread_count, latest.addressed_unread_count);
      const first = new Set(mine.items.map((n) => n.id));
      const rest = latest.items.filter((n) => !first.has(n.id));
      this.renderPanel([...mine.items, ...rest].slice(0, Math.max(8, mine.items.length)));
    } catch (err) {
      replace(this.panel, errorBox(err));
    }
  }

  renderPanel(items) {
    const list = items.length
      ? h(
          "ul",
          { class: "notif-list" },
          items.map((n) => h("li", { class: itemClass(n) }, notificationLink(n, () => this.close(), () => this.refresh()))),
        )
      : h("p", { class: "empty" }, t("notif.empty"));
    const markAll = h("button", { type: "button", class: "btn btn-small", disabled: this.count === 0 }, t("notif.mark_all"));
    markAll.addEventListener("click", async () => {
      try {
        const r = await api(`${BASE}/read-all`, { method: "POST" });
        this.setCount(r.unread_count, r.addressed_unread_count);
        this.open();
      } catch (err) {
        toast(errorText(err), "error");
      }
    });
    replace(
      this.panel,
      h("div", { class: "notif-head" }, h("h2", t("notif.title")), markAll),
      list,
      h(
        "div",
        { class: "notif-foot" },
        h("a", { href: "#/notifications", onclick: () => this.close() }, t("notif.see_all")),
        h("a", { href: "#/account/notifications", onclick: () => this.close() }, t("notif.settings")),
      ),
    );
    this.panel.querySelector("a, button:not([disabled])")?.focus();
  }
}

function itemClass(n) {
  return [n.is_read ? "read" : "unread", n.addressed ? "addressed" : null].filter(Boolean).join(" ");
}

function notificationLink(n, afterClick, afterRead) {
  const href = ticketHref(n);
  const content = [
    n.addressed ? h("span", { class: "badge badge-addressed" }, t("notif.addressed_tag")) : null,
    h("span", { class: "notif-title" }, n.title),
    n.body ? h("span", { class: "notif-body" }, n.body) : null,
    h("span", { class: "notif-meta" }, n.ticket_number ? `${n.ticket_number} · ` : "", timeEl(n.created_at, fmtRelative(n.created_at))),
  ];
  const onclick = () => {
    markRead(n).then(afterRead, () => {});
    afterClick?.();
  };
  return href ? h("a", { href, class: "notif-item", onclick }, content) : h("div", { class: "notif-item" }, content);
}

export const bell = new Bell();

// -- the page ---------------------------------------------------------------------------

function pageHash(unreadOnly, forMe) {
  const params = new URLSearchParams();
  if (unreadOnly) params.set("unread", "1");
  if (forMe) params.set("for", "me");
  const q = params.toString();
  return q ? `#/notifications?${q}` : "#/notifications";
}

/** "All" / "For me": links styled as a segmented control, the current one marked. */
function scopeFilter(unreadOnly, forMe) {
  const option = (mine, label) =>
    h("a", { class: ["segment", mine === forMe ? "active" : null], href: pageHash(unreadOnly, mine), "aria-current": mine === forMe ? "true" : null }, label);
  return h(
    "div",
    { class: "segmented", role: "group", "aria-label": t("notif.show") },
    option(false, t("notif.all")),
    option(true, [t("notif.for_me"), bell.addressed ? h("span", { class: "segment-count" }, String(bell.addressed)) : null]),
  );
}

async function page({ el, query }) {
  const unreadOnly = query.get("unread") === "1";
  const forMe = query.get("for") === "me";
  const toggle = h("input", { type: "checkbox", id: "notif-unread", checked: unreadOnly });
  toggle.addEventListener("change", () => {
    location.hash = pageHash(toggle.checked, forMe);
  });
  const markAll = h("button", { type: "button", class: "btn" }, t("notif.mark_all"));
  const settings = h("a", { class: "btn", href: "#/account/notifications" }, t("notif.settings"));
  const list = h("ul", { class: "notif-list notif-page" });
  const more = h("button", { type: "button", class: "btn", hidden: true }, t("common.load_more"));
  const status = h("div", { "aria-live": "polite" });
  const scope = h("div", scopeFilter(unreadOnly, forMe));
  el.append(
    pageHeader(t("notif.title"), settings, markAll),
    h("div", { class: "toolbar" }, scope, h("div", { class: "field-check" }, toggle, h("label", { for: "notif-unread" }, t("notif.only_unread")))),
    status,
    list,
    h("div", { class: "load-more" }, more),
  );
  let cursor = null;

  const renderItem = (n) => {
    const li = h("li", { class: itemClass(n) });
    const markBtn = n.is_read
      ? null
      : h("button", { type: "button", class: "btn btn-small" }, t("notif.mark_read"));
    markBtn?.addEventListener("click", async () => {
      try {
        await markRead(n);
        li.className = itemClass(n);
        markBtn.remove();
        bell.refresh();
      } catch (err) {
        toast(errorText(err), "error");
      }
    });
    li.append(
      h("div", { class: "notif-row" }, notificationLink(n, null, () => bell.refresh()), markBtn, n.is_read ? null : h("span", { class: "visually-hidden" }, t("notif.unread"))),
    );
    return li;
  };

  async function load() {
    more.disabled = true;
    try {
      const p = await api(BASE, { query: { limit: 20, cursor, unread: unreadOnly, addressed: forMe } });
      if (!cursor && !p.items.length) replace(status, h("p", { class: "empty" }, t(forMe ? "notif.empty_for_me" : "notif.empty")));
      list.append(...p.items.map(renderItem));
      cursor = p.next_cursor;
      more.hidden = !cursor;
      bell.setCount(p.unread_count, p.addressed_unread_count);
      replace(scope, scopeFilter(unreadOnly, forMe));
    } catch (err) {
      replace(status, errorBox(err));
    } finally {
      more.disabled = false;
    }
  }

  more.addEventListener("click", load);
  markAll.addEventListener("click", async () => {
    markAll.disabled = true; // one request per click, however fast the clicks
    try {
      const r = await api(`${BASE}/read-all`, { method: "POST" });
      bell.setCount(r.unread_count, r.addressed_unread_count);
      toast(t("notif.marked_all", { n: r.marked_read }));
      list.replaceChildren();
      cursor = null;
      await load();
    } catch (err) {
      toast(errorText(err), "error");
    } finally {
      markAll.disabled = false;
    }
  });
  await load();
}

export const views = { page };
