// The ticket list (#/tickets?status=...&q=...): the views with their counts, filters kept in
// the address, sorting, the number of tickets, cursor pagination ("Muat lagi"), bulk actions
// for agents and admins, and live updates: a change to a ticket the user may see fetches
// the first page again and updates the rows in place (no jump, the selection kept).

import { api } from "../api.js";
import { h, icon, replace } from "../dom.js";
import { channelLabel, locale, statusLabel, t } from "../i18n.js";
import { followChanges } from "../live.js";
import { navigate } from "../nav.js";
import * as store from "../store.js";
import { onTicketChanges } from "../ticketsLive.js";
import { errorBox, field, fmtRelative, pageHeader, priorityBadge, slaBadge, statusBadge, timeEl } from "../ui.js";
import { bulkBar } from "./tickets/bulk.js";
import { exportDialog } from "./tickets/export.js";
import { DEFAULT_SORT, OPEN, fmtCount, viewStrip } from "./tickets/queues.js";

const STATUSES = ["new", "in_progress", "pending", "resolved", "closed", "rejected"];
const SORTS = ["-created_at", "created_at", "-updated_at", "due", "-priority", "-number"];
const FILTER_KEYS = ["q", "status", "category_id", "priority", "unit_id", "assignee", "overdue", "sort"];
// Filters a saved view may carry that the filter box does not show: kept as they are.
const EXTRA_KEYS = ["requester_id", "created_from", "created_to"];
const PAGE_SIZE = 25;
const MAX_PAGE = 100;
// Changes often come in bursts (an action writes several events): one fetch for them all.
const SETTLE_MS = 300;
// The views' counts (a capped count per view on the server) follow live changes at most
// this often: the list itself, and its total, follow every change.
const COUNTS_EVERY_MS = 10000;

/** The API's query for the filters in the address. */
export function apiQuery(filters) {
  return {
    q: filters.q,
    status: filters.status === "open" ? OPEN : filters.status,
    category_id: filters.category_id,
    priority: filters.priority,
    unit_id: filters.unit_id,
    assignee: filters.assignee,
    overdue: filters.overdue === "1" ? "true" : undefined,
    ...Object.fromEntries(EXTRA_KEYS.filter((k) => filters[k]).map((k) => [k, filters[k]])),
    sort: filters.sort || DEFAULT_SORT,
  };
}

function option(value, label) {
  return { value, label };
}

function hhmm(date) {
  return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" }).format(date);
}

async function list({ el, query, isCurrent }) {
  const me = store.state.me;
  const staff = store.isStaff();
  const canBulk = me.role === "agent" || me.role === "admin";
  const filters = Object.fromEntries([...FILTER_KEYS, ...EXTRA_KEYS].map((k) => [k, query.get(k) || ""]));
  const current = apiQuery(filters);
  const strip = viewStrip({ current });
  const [categories, priorities, units, agents] = await Promise.all([
    store.categories({ all: true }),
    store.priorities(),
    staff ? store.units() : Promise.resolve([]),
    staff ? store.agents().catch(() => []) : Promise.resolve([]),
    strip.refresh(),
  ]);
  if (!isCurrent()) return;

  const canCreate = me.role === "requester" || me.role === "agent";
  const title = me.role === "requester" && me.unit ? t("tickets.title_unit", { unit: me.unit.name }) : t("tickets.title");
  const exportButton = h("button", { type: "button", class: "btn", dataset: { action: "export-csv" } }, icon("download"), h("span", { class: "btn-label" }, t("export.button")));
  exportButton.addEventListener("click", () => exportDialog({ query: current, button: exportButton }));
  el.append(pageHeader(title, exportButton, canCreate ? h("a", { class: "btn btn-primary", href: "#/new" }, icon("plus"), t("nav.new")) : null));
  el.append(strip.el);

  // -- filters --
  const all = option("", t("common.all"));
  const controls = [
    field({ name: "q", label: t("tickets.q"), type: "search", value: filters.q, class: "grow", attrs: { placeholder: t("tickets.q_placeholder") } }),
    field({
      name: "status",
      label: t("tickets.status"),
      value: filters.status,
      options: [all, option("open", t("status.open")), ...STATUSES.map((s) => option(s, statusLabel(s)))],
    }),
    field({ name: "category_id", label: t("tickets.category"), value: filters.category_id, options: [all, ...categories.map((c) => option(c.id, c.name))] }),
    field({ name: "priority", label: t("tickets.priority"), value: filters.priority, options: [all, ...priorities.map((p) => option(p.code, p.name))] }),
  ];
  if (staff) {
    controls.push(
      field({ name: "unit_id", label: t("tickets.unit"), value: filters.unit_id, options: [all, ...units.map((u) => option(u.id, u.name))] }),
      field({
        name: "assignee",
        label: t("tickets.assignee"),
        value: filters.assignee,
        options: [
          all,
          ...(me.role === "agent" ? [option("me", t("tickets.assignee_me"))] : []),
          option("none", t("tickets.assignee_none")),
          ...agents.map((a) => option(a.id, a.full_name)),
        ],
      }),
    );
  }
  controls.push(
    field({ name: "sort", label: t("tickets.sort"), value: filters.sort || DEFAULT_SORT, options: SORTS.map((s) => option(s, t(`tickets.sort.${s}`))) }),
    field({ name: "overdue", label: t("tickets.overdue"), type: "checkbox", value: filters.overdue === "1" }),
  );
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": t("tickets.filters") },
    controls,
    h(
      "div",
      { class: "filter-actions" },
      h("button", { type: "submit", class: "btn btn-primary" }, t("common.search")),
      h("a", { class: "btn", href: "#/tickets" }, t("common.reset")),
    ),
  );
  const apply = () => {
    const next = {};
    for (const key of FILTER_KEYS) {
      const control = form.elements.namedItem(key);
      if (!control) continue;
      const value = control.type === "checkbox" ? (control.checked ? "1" : "") : control.value.trim();
      if (value && !(key === "sort" && value === DEFAULT_SORT)) next[key] = value;
    }
    navigate("/tickets", next);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  form.addEventListener("change", (e) => {
    if (e.target.name !== "q") apply();
  });
  // On small screens the filters fold away (open when some are set).
  const active = [...FILTER_KEYS, ...EXTRA_KEYS].filter((k) => filters[k] && !(k === "sort" && filters[k] === DEFAULT_SORT)).length;
  const wide = window.matchMedia("(min-width: 801px)").matches;
  el.append(
    h(
      "details",
      { class: "filter-box", open: wide || active > 0 },
      h("summary", t("tickets.filters"), active ? h("span", { class: "badge badge-info" }, String(active)) : null),
      form,
    ),
  );

  // -- the count line, results, bulk bar --
  const totalEl = h("span", { class: "result-total" });
  const shownEl = h("span", { class: "result-shown" });
  const updatedEl = h("span", { class: "live-cue", title: t("queues.updated_title"), hidden: true });
  // On a phone the table's header (with its select-all box) is hidden: this one stands in.
  const selectPageAlt = h("input", { type: "checkbox", dataset: { action: "select-page-alt" } });
  const status = h(
    "div",
    { class: "result-count" },
    h("span", { role: "status", class: "result-status" }, totalEl, shownEl),
    updatedEl,
    canBulk ? h("label", { class: "select-page" }, selectPageAlt, t("queues.select_page")) : null,
  );
  const results = h("div", { class: "results" });
  const more = h("button", { type: "button", class: "btn", hidden: true }, t("common.load_more"));

  const columns = [
    ...(canBulk ? [t("queues.col.select")] : []),
    t("tickets.col.number"),
    t("tickets.col.title"),
    ...(staff ? [t("tickets.col.unit")] : []),
    t("tickets.col.category"),
    t("tickets.col.priority"),
    t("tickets.col.status"),
    t("tickets.col.assignee"),
    t("tickets.col.created"),
    t("tickets.col.sla"),
  ];

  // The tickets shown, in order, and the selection (ids) for bulk actions.
  let items = [];
  const rowsById = new Map();
  const selected = new Set();
  const selectPage = h("input", { type: "checkbox", class: "select-box", "aria-label": t("queues.select_page"), dataset: { action: "select-page" } });
  const headCells = columns.map((c, i) => (canBulk && i === 0 ? h("th", { scope: "col", class: "select-cell" }, selectPage) : h("th", { scope: "col" }, c)));
  const tbody = h("tbody");
  const tableEl = h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "table tickets-table" }, h("caption", { class: "visually-hidden" }, title), h("thead", h("tr", headCells)), tbody),
  );

  const bar = canBulk
    ? bulkBar({
        agents,
        priorities,
        selected: () => items.filter((tk) => selected.has(tk.id)),
        onClear: () => {
          selected.clear();
          syncSelection();
        },
        onDone: async () => {
          selected.clear();
          await refresh();
        },
      })
    : null;

  function syncSelection() {
    for (const [id, tr] of rowsById) {
      const box = tr.querySelector("input.select-box");
      if (box) box.checked = selected.has(id);
      tr.classList.toggle("is-selected", selected.has(id));
    }
    const n = items.filter((tk) => selected.has(tk.id)).length;
    for (const box of [selectPage, selectPageAlt]) {
      box.checked = n > 0 && n === items.length;
      box.indeterminate = n > 0 && n < items.length;
    }
    bar?.update(n);
  }
  for (const box of [selectPage, selectPageAlt]) {
    box.addEventListener("change", () => {
      for (const tk of items) {
        if (box.checked) selected.add(tk.id);
        else selected.delete(tk.id);
      }
      syncSelection();
    });
  }

  const row = (tk) => {
    const href = `#/tickets/${encodeURIComponent(tk.id)}`;
    const cells = [
      // How it came in, small under the number (web, e-mail, chat, phone, walk-in, API).
      h("div", h("a", { href, class: "ticket-number" }, tk.number), h("small", { class: "channel-tag", dataset: { channel: tk.channel } }, channelLabel(tk.channel))),
      h("a", { href, class: "ticket-title" }, tk.title),
      ...(staff ? [tk.unit_name || t("common.none")] : []),
      tk.category_name || t("common.none"),
      priorityBadge(tk.priority, tk.priority_name),
      statusBadge(tk.status),
      tk.assignee_name || h("span", { class: "muted" }, t("tickets.unassigned")),
      timeEl(tk.created_at, fmtRelative(tk.created_at)),
      slaBadge(tk),
    ];
    if (canBulk) {
      const box = h("input", { type: "checkbox", class: "select-box", name: "select", value: tk.id, checked: selected.has(tk.id), "aria-label": t("queues.select_one", { number: tk.number }) });
      box.addEventListener("change", () => {
        if (box.checked) selected.add(tk.id);
        else selected.delete(tk.id);
        syncSelection();
      });
      cells.unshift(box);
    }
    const tr = h(
      "tr",
      { class: [tk.overdue && "is-overdue", selected.has(tk.id) && "is-selected"], dataset: { id: tk.id, version: String(tk.version) } },
      cells.map((c, i) => h("td", { "data-label": columns[i], class: canBulk && i === 0 ? "select-cell" : null }, c)),
    );
    tr.addEventListener("animationend", () => tr.classList.remove("row-flash"));
    return tr;
  };

  function emptyState() {
    if (active) {
      return h("div", { class: "empty empty-state" }, h("p", t("queues.empty_filtered")), h("a", { class: "btn", href: "#/tickets" }, t("queues.empty_reset")));
    }
    if (me.role === "requester") {
      return h(
        "div",
        { class: "empty empty-state" },
        h("p", h("strong", t("queues.empty_none"))),
        h("p", t("queues.empty_none_requester")),
        h("a", { class: "btn btn-primary", href: "#/new" }, icon("plus"), t("nav.new")),
      );
    }
    return h("div", { class: "empty empty-state" }, h("p", h("strong", t("queues.empty_none"))), h("p", t("queues.empty_none_staff")));
  }

  let cursor = null;
  // The total shown: { count, exact }, { unknown: true } when even GET /tickets/count ran
  // out of time, or null; `counting` while a deferred count is on its way.
  let total = null;
  let counting = false;
  function showCount() {
    totalEl.dataset.counting = String(counting && !total);
    if (total?.unknown) {
      totalEl.textContent = t("queues.total_unknown");
      totalEl.title = t("queues.total_unknown_hint");
      delete totalEl.dataset.total;
      delete totalEl.dataset.exact;
    } else if (total) {
      totalEl.textContent = total.exact ? t("queues.total", { n: fmtCount(total.count) }) : t("queues.total_more", { n: fmtCount(total.count) });
      totalEl.title = total.exact ? "" : t("queues.total_more_hint", { n: fmtCount(total.count) });
      totalEl.dataset.total = String(total.count);
      totalEl.dataset.exact = String(total.exact);
    } else if (counting) {
      totalEl.textContent = t("queues.total_counting");
      totalEl.title = t("queues.total_counting_hint");
    }
    const partial = cursor || (total && !total.unknown && items.length < total.count);
    shownEl.textContent = partial && items.length ? t("queues.shown", { n: fmtCount(items.length) }) : "";
  }

  // What a total says, to tell whether a new one differs (null: none shown).
  const totalKey = (shown) => shown && `${shown.count}/${shown.exact}/${shown.unknown}`;

  // Each first page asks anew; a count answering an older one is dropped.
  let countAsked = 0;
  /**
   * The total from a first page; when the server could not count it within its budget
   * (total_deferred: a word and a filter over many tickets), from GET /tickets/count, the
   * total shown meanwhile staying (a live refresh) or "counting…" (the first load).
   * `onChange` runs when a total that came later differs from the one shown.
   */
  function takeTotal(page, onChange) {
    const asked = ++countAsked;
    if (!page.total_deferred) {
      counting = false;
      if (page.total !== null && page.total !== undefined) total = { count: page.total, exact: page.total_exact };
      return;
    }
    counting = true;
    api("/api/tickets/tickets/count", { query: current })
      .then((got) => {
        if (asked !== countAsked || !isCurrent()) return;
        const before = totalKey(total);
        total = got.total === null ? { unknown: true } : { count: got.total, exact: got.total_exact };
        counting = false;
        showCount();
        if (before && before !== totalKey(total)) onChange?.();
      })
      .catch(() => {
        if (asked !== countAsked) return;
        counting = false; // Quietly: the next change or reload asks again.
        showCount();
      });
  }

  /** Show `fresh` in order, reusing unchanged rows; true when anything shown changed. */
  function placeRows(fresh, { flash }) {
    if (!fresh.length) {
      const had = rowsById.size > 0 || !results.querySelector(".empty-state");
      replace(results, emptyState());
      rowsById.clear();
      return had;
    }
    let changed = !tableEl.isConnected;
    if (!tableEl.isConnected) replace(results, tableEl);
    const seen = new Set();
    fresh.forEach((tk, index) => {
      seen.add(tk.id);
      const old = rowsById.get(tk.id);
      let tr = old;
      if (!old || old.dataset.version !== String(tk.version)) {
        changed = true;
        tr = row(tk);
        if (old) old.replaceWith(tr);
        if (flash && old) tr.classList.add("row-flash");
        rowsById.set(tk.id, tr);
      }
      // Moved into place without rebuilding the rows around it.
      if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
    });
    for (const [id, tr] of [...rowsById]) {
      if (!seen.has(id)) {
        changed = true;
        tr.remove();
        rowsById.delete(id);
      }
    }
    return changed;
  }

  async function fetchPage(from, size) {
    return api("/api/tickets/tickets", { query: { ...current, cursor: from, limit: size } });
  }

  async function loadMore() {
    more.disabled = true;
    more.textContent = t("common.loading_more");
    try {
      const first = !cursor;
      const page = await fetchPage(cursor, PAGE_SIZE);
      const { items: got, next_cursor: nextCursor } = page;
      if (!isCurrent()) return;
      if (first) takeTotal(page);
      items = first ? got : items.concat(got.filter((tk) => !rowsById.has(tk.id)));
      placeRows(items, { flash: false });
      cursor = nextCursor;
      more.hidden = !cursor;
      showCount();
      syncSelection();
    } catch (err) {
      replace(results, errorBox(err));
    } finally {
      more.disabled = false;
      more.textContent = t("common.load_more");
    }
  }

  /** The first page again, as many rows as are shown: rows updated in place, no jump. */
  async function refresh() {
    const size = Math.min(MAX_PAGE, Math.max(PAGE_SIZE, items.length));
    let fresh;
    try {
      fresh = await fetchPage(null, size);
    } catch {
      return; // Quietly: the next change or reconnect tries again.
    }
    if (!isCurrent()) return;
    const anchor = [...tbody.children].find((tr) => tr.getBoundingClientRect().bottom > 0);
    const anchorId = anchor?.dataset.id;
    const anchorTop = anchor?.getBoundingClientRect().top;
    const known = new Set(items.map((tk) => tk.id));
    items = fresh.items;
    const changed = placeRows(items, { flash: true });
    // New rows too (changed ones were marked as they were rebuilt).
    for (const tk of items) if (!known.has(tk.id)) rowsById.get(tk.id)?.classList.add("row-flash");
    for (const id of [...selected]) if (!rowsById.has(id)) selected.delete(id);
    cursor = fresh.next_cursor;
    more.hidden = !cursor;
    const countBefore = totalKey(total);
    takeTotal(fresh, showUpdated);
    showCount();
    syncSelection();
    const moved = anchorId && rowsById.get(anchorId);
    if (moved && anchorTop !== undefined) window.scrollBy(0, moved.getBoundingClientRect().top - anchorTop);
    // A quiet cue that the list moved by itself (not after a fetch that found nothing new).
    if (changed || countBefore !== totalKey(total)) showUpdated();
    refreshCountsSoon();
  }

  function showUpdated() {
    updatedEl.textContent = t("queues.updated", { time: hhmm(new Date()) });
    updatedEl.hidden = false;
  }

  let countsTimer = null;
  let countsAt = Date.now();
  function refreshCountsSoon() {
    if (countsTimer) return;
    countsTimer = setTimeout(() => {
      countsTimer = null;
      countsAt = Date.now();
      if (isCurrent() && el.isConnected) strip.refresh();
    }, Math.max(0, countsAt + COUNTS_EVERY_MS - Date.now()));
  }

  more.addEventListener("click", loadMore);
  el.append(status, results, h("div", { class: "load-more" }, more));
  if (bar) el.append(bar.el);
  await loadMore();
  if (!isCurrent()) return;
  follow({ el, isCurrent, refresh });
}

/** Live updates while the page is shown: changes settle for SETTLE_MS, then one refresh. */
function follow({ el, isCurrent, refresh }) {
  let unsubscribe = () => {};
  const follower = followChanges({ el, isCurrent, settleMs: SETTLE_MS, refresh, onStop: () => unsubscribe() });
  unsubscribe = onTicketChanges(() => follower.changed());
}

export const views = { list };
