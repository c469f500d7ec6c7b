// The ticket list (#/tickets?status=...&q=...): filters kept in the address, sorting, and
// cursor pagination ("Muat lagi").

import { api } from "../api.js";
import { h, icon, replace } from "../dom.js";
import { statusLabel, t } from "../i18n.js";
import { navigate } from "../nav.js";
import * as store from "../store.js";
import { errorBox, field, fmtRelative, pageHeader, priorityBadge, slaBadge, statusBadge, timeEl } from "../ui.js";
import { exportDialog } from "./tickets/export.js";

const STATUSES = ["new", "in_progress", "pending", "resolved", "closed", "rejected"];
const OPEN = "new,in_progress,pending";
const SORTS = ["-created_at", "created_at", "-updated_at", "due", "-priority", "-number"];
const FILTER_KEYS = ["q", "status", "category_id", "priority", "unit_id", "assignee", "overdue", "sort"];

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
    sort: filters.sort || "-created_at",
  };
}

function option(value, label) {
  return { value, label };
}

async function list({ el, query, isCurrent }) {
  const me = store.state.me;
  const staff = store.isStaff();
  const filters = Object.fromEntries(FILTER_KEYS.map((k) => [k, query.get(k) || ""]));
  const [categories, priorities, units, agents] = await Promise.all([
    store.categories({ all: true }),
    store.priorities(),
    staff ? store.units() : Promise.resolve([]),
    staff ? store.agents().catch(() => []) : Promise.resolve([]),
  ]);
  if (!isCurrent()) return;

  const canCreate = me.role === "requester" || me.role === "agent";
  const title = me.role === "requester" && me.unit ? t("tickets.title_unit", { unit: me.unit.name }) : t("tickets.title");
  const exportButton = h("button", { type: "button", class: "btn", dataset: { action: "export-csv" } }, icon("download"), h("span", { class: "btn-label" }, t("export.button")));
  exportButton.addEventListener("click", () => exportDialog({ query: apiQuery(filters), button: exportButton }));
  el.append(pageHeader(title, exportButton, canCreate ? h("a", { class: "btn btn-primary", href: "#/new" }, icon("plus"), t("nav.new")) : null));

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
    field({ name: "sort", label: t("tickets.sort"), value: filters.sort || "-created_at", options: SORTS.map((s) => option(s, t(`tickets.sort.${s}`))) }),
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
      if (value && !(key === "sort" && value === "-created_at")) next[key] = value;
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
  const active = FILTER_KEYS.filter((k) => filters[k] && !(k === "sort" && filters[k] === "-created_at")).length;
  const wide = window.matchMedia("(min-width: 801px)").matches;
  el.append(
    h(
      "details",
      { class: "filter-box", open: wide || active > 0 },
      h("summary", t("tickets.filters"), active ? h("span", { class: "badge badge-info" }, String(active)) : null),
      form,
    ),
  );

  // -- results --
  const status = h("p", { class: "result-count", role: "status" });
  const results = h("div", { class: "results" });
  const more = h("button", { type: "button", class: "btn", hidden: true }, t("common.load_more"));
  el.append(status, results, h("div", { class: "load-more" }, more));

  const columns = [
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
  const tbody = h("tbody");
  const tableEl = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table tickets-table" },
      h("caption", { class: "visually-hidden" }, title),
      h("thead", h("tr", columns.map((c) => h("th", { scope: "col" }, c)))),
      tbody,
    ),
  );

  const row = (tk) => {
    const href = `#/tickets/${encodeURIComponent(tk.id)}`;
    const cells = [
      h("a", { href, class: "ticket-number" }, tk.number),
      h("a", { href, class: "ticket-title" }, tk.title),
      ...(staff ? [tk.unit_name || t("common.none")] : []),
      tk.category_name || t("common.none"),
      priorityBadge(tk.priority, tk.priority_name),
      statusBadge(tk.status),
      tk.assignee_name || h("span", { class: "muted" }, t("tickets.unassigned")),
      timeEl(tk.created_at, fmtRelative(tk.created_at)),
      slaBadge(tk),
    ];
    return h("tr", { class: tk.overdue ? "is-overdue" : null }, cells.map((c, i) => h("td", { "data-label": columns[i] }, c)));
  };

  let cursor = null;
  let shown = 0;
  async function load() {
    more.disabled = true;
    more.textContent = t("common.loading_more");
    try {
      const page = await api("/api/tickets/tickets", { query: { ...apiQuery(filters), cursor, limit: 25 } });
      if (!isCurrent()) return;
      if (!cursor) replace(results, page.items.length ? tableEl : h("p", { class: "empty" }, t("tickets.empty")));
      tbody.append(...page.items.map(row));
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.textContent = t(cursor ? "tickets.count_more" : "tickets.count", { n: shown });
    } catch (err) {
      replace(results, errorBox(err));
    } finally {
      more.disabled = false;
      more.textContent = t("common.load_more");
    }
  }
  more.addEventListener("click", load);
  await load();
}

export const views = { list };
