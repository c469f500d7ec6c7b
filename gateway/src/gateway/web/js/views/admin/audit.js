// Audit logs: identity (users, units, organisation) and the tickets service's master data
// (categories, priorities, SLA, calendar, rules, export policy); both in cursor pages with
// "load more". Actions, fields and values in the user's language; the services resolve the
// names (actor_name, entity_name, names{id: name}), so no id is shown. Filters by actor,
// action and period (office-local days) live in the URL hash, so a view can be shared.

import { api } from "../../api.js";
import { h, replace } from "../../dom.js";
import { has, roleLabel, statusLabel, t } from "../../i18n.js";
import { navigate } from "../../nav.js";
import { cursorList, field, fmtDate, fmtDateTime, fmtMinutes, loading, officeDayStart, table } from "../../ui.js";

const PAGE = 50;

const SOURCES = {
  identity: { path: "/api/identity/audit-log", at: "occurred_at" },
  tickets: { path: "/api/tickets/audit-log", at: "at" },
};
// Bookkeeping, not a change an administrator made; the id fields are the entity itself.
const SKIP = new Set(["revision", "updated_at", "created_at", "user_id", "id", "logo_sha256"]);
const FILTER_KEYS = ["actor", "action", "from", "to", "entity_type"];
// The order fields are read in (a snapshot's keys come back in JSONB's order: by length).
const FIELD_ORDER = [
  "full_name",
  "name",
  "username",
  "code",
  "parent_name",
  "description",
  "keyword",
  "date",
  "email",
  "role",
  "unit_id",
  "category_id",
  "priority",
  "default_priority",
  "rank",
  "is_default",
  "first_response_minutes",
  "resolution_minutes",
];
const fieldRank = (key) => (FIELD_ORDER.includes(key) ? FIELD_ORDER.indexOf(key) : FIELD_ORDER.length);
const byFieldOrder = (a, b) => fieldRank(a) - fieldRank(b) || a.localeCompare(b);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

// -- labels and values ------------------------------------------------------------------

const label = (prefix, key) => (has(`${prefix}.${key}`) ? t(`${prefix}.${key}`) : key);
export const actionLabel = (action) => label("audit.action", action);
export const fieldLabel = (key) => label("audit.field", key);
const entityLabel = (type) => label("audit.entity", type);

function officeHours(days) {
  if (!Array.isArray(days) || !days.length) return t("common.none");
  return days.map((d) => `${t(`weekday.${d.weekday}`)} ${String(d.start).slice(0, 5)}–${String(d.end).slice(0, 5)}`).join("; ");
}

/** One value as an administrator reads it: translated, formatted, ids as names. */
export function showValue(key, value, names = {}) {
  if (value === null || value === undefined || value === "") return t("common.none");
  if (typeof value === "boolean") {
    if (key === "is_active") return value ? t("common.active") : t("common.inactive");
    return value ? t("common.yes") : t("common.no");
  }
  if (key === "role") return roleLabel(value);
  if (key === "contact_roles" && Array.isArray(value)) return value.length ? value.map(roleLabel).join(", ") : t("common.none");
  if (key === "language") return label("common.lang", value);
  if (key === "status") return statusLabel(value);
  if (key.endsWith("_minutes") && typeof value === "number") return fmtMinutes(value);
  if (key === "days") return officeHours(value);
  if (key === "logo_bytes" && typeof value === "number") return t("audit.logo_size", { n: Math.max(1, Math.round(value / 1024)) });
  if (typeof value === "string") {
    if (names[value]) return names[value];
    if (UUID.test(value)) return t("audit.unknown_ref");
    if (key === "date" && DAY.test(value)) return fmtDate(value);
    if (key.endsWith("_at") && !Number.isNaN(Date.parse(value))) return fmtDateTime(value);
    return value;
  }
  return JSON.stringify(value);
}

/** before/after snapshots -> "Label: old → new" for the fields that differ. */
export function changeList(entry) {
  const { before, after, names = {} } = entry;
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])].sort(byFieldOrder);
  const items = [];
  for (const key of keys) {
    if (SKIP.has(key)) continue;
    const a = before?.[key];
    const b = after?.[key];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    // The entity's own id (a unit's unit_id): the object column names it already.
    if ((a ?? b) === entry.entity_id) continue;
    if (!before && (b === null || b === undefined)) continue;
    const deleted = after === null || after === undefined;
    items.push(
      h(
        "li",
        h("span", { class: "muted" }, `${fieldLabel(key)}: `),
        before && !deleted ? [h("span", { class: "old" }, showValue(key, a, names)), " → "] : null,
        h("span", showValue(key, deleted ? a : b, names)),
      ),
    );
  }
  return items.length ? h("ul", { class: "changes compact" }, items) : h("span", { class: "muted" }, t("common.none"));
}

function actorCell(entry) {
  return entry.actor_id ? entry.actor_name : t("role.system");
}

function entityCell(entry) {
  return h(
    "span",
    { class: "audit-entity" },
    h("small", { class: "muted" }, entityLabel(entry.entity_type)),
    entry.entity_name ? [" ", h("strong", entry.entity_name)] : null,
  );
}

// -- the period ---------------------------------------------------------------------------

/** "2025-03-01" -> the next day, as a date string (calendar arithmetic, no time zone). */
function nextDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** The filters of the hash as API parameters: a day is an office-local day. */
export function apiFilters(filters) {
  return {
    actor_id: UUID.test(filters.actor || "") ? filters.actor : null,
    action: filters.action || null,
    entity_type: filters.entity_type || null,
    since: DAY.test(filters.from || "") ? officeDayStart(filters.from) : null,
    until: DAY.test(filters.to || "") ? officeDayStart(nextDay(filters.to)) : null,
  };
}

// -- the view -----------------------------------------------------------------------------

function option(value, text) {
  return { value, label: text };
}

function actorOptions(actors, selected) {
  const options = [option("", t("common.all"))];
  for (const a of actors) {
    const name = `${a.name} (${roleLabel(a.role)})`;
    options.push(option(a.id, a.is_active ? name : t("audit.inactive_actor", { name })));
  }
  if (selected && !actors.some((a) => a.id === selected)) options.push(option(selected, t("audit.unknown_actor")));
  return options;
}

function filterForm({ source, filters, actors, actions }) {
  const controls = [
    field({ name: "actor", label: t("audit.filter_actor"), value: filters.actor, options: actorOptions(actors, filters.actor) }),
    field({
      name: "action",
      label: t("audit.filter_action"),
      value: filters.action,
      // An action from a shared link stays chosen even if the list could not be read.
      options: [option("", t("common.all")), ...[...new Set([...actions, filters.action].filter(Boolean))].map((a) => option(a, actionLabel(a)))],
    }),
  ];
  if (source === "identity") {
    controls.push(
      field({
        name: "entity_type",
        label: t("audit.entity_type"),
        value: filters.entity_type,
        options: [option("", t("common.all")), ...["user", "unit", "organisation"].map((e) => option(e, entityLabel(e)))],
      }),
    );
  }
  controls.push(
    field({ name: "from", label: t("audit.from"), type: "date", value: filters.from, attrs: { max: filters.to || null } }),
    field({ name: "to", label: t("audit.to"), type: "date", value: filters.to, attrs: { min: filters.from || null } }),
  );
  const form = h(
    "form",
    { class: "filters audit-filters", role: "search", "aria-label": t("audit.filters"), novalidate: true },
    h("div", { class: "form-alert" }),
    controls,
    h("p", { class: "hint audit-period-hint" }, t("audit.period_hint")),
    h(
      "div",
      { class: "filter-actions" },
      h("button", { type: "submit", class: "btn btn-primary" }, t("common.apply")),
      h("a", { class: "btn", href: `#/admin/audit?source=${source}` }, t("common.reset")),
    ),
  );
  const apply = () => {
    const values = Object.fromEntries(FILTER_KEYS.map((k) => [k, form.elements.namedItem(k)?.value.trim() || ""]));
    const toError = form.elements.namedItem("to").closest(".field").querySelector(".field-error");
    if (values.from && values.to && values.from > values.to) {
      toError.textContent = t("audit.period_reversed");
      toError.hidden = false;
      form.elements.namedItem("to").setAttribute("aria-invalid", "true");
      return;
    }
    const next = { source };
    for (const key of FILTER_KEYS) if (values[key]) next[key] = values[key];
    navigate("/admin/audit", next);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  form.addEventListener("change", apply);
  return form;
}

function entryRows(items, source) {
  return items.map((e) => [
    h("time", { datetime: e[SOURCES[source].at] }, fmtDateTime(e[SOURCES[source].at])),
    actorCell(e),
    h("span", { class: "audit-action", title: e.action }, actionLabel(e.action)),
    entityCell(e),
    changeList(e),
  ]);
}

async function audit({ el, query, isCurrent }) {
  const source = query.get("source") === "tickets" ? "tickets" : "identity";
  const filters = Object.fromEntries(FILTER_KEYS.map((k) => [k, query.get(k) || ""]));
  if (source !== "identity") filters.entity_type = "";
  const tabs = h(
    "div",
    { class: "tabs", role: "tablist" },
    ["identity", "tickets"].map((s) =>
      h("a", { role: "tab", href: `#/admin/audit?source=${s}`, "aria-selected": String(s === source), class: s === source ? "active" : null }, t(`audit.${s}`)),
    ),
  );
  const body = h("div", { role: "tabpanel", class: "audit-log" }, loading());
  el.append(tabs, body);

  // The pickers' choices: IT staff by name, and the actions this log can hold (the
  // service's own list). Without them the log stays usable: "all" and the hash's filters.
  const [actors, actions] = await Promise.all(
    ["/api/identity/audit-log/actors", `${SOURCES[source].path}/actions`].map((path) => api(path).catch(() => [])),
  );
  if (!isCurrent()) return;
  const active = FILTER_KEYS.filter((k) => filters[k]).length;
  const wide = window.matchMedia("(min-width: 801px)").matches;
  body.before(
    h(
      "details",
      { class: "filter-box", open: wide || active > 0 },
      h("summary", t("audit.filters"), active ? h("span", { class: "badge badge-info" }, String(active)) : null),
      filterForm({ source, filters, actors, actions }),
    ),
  );
  const params = apiFilters(filters);
  const list = cursorList({
    isCurrent,
    fetchPage: (cursor) => api(SOURCES[source].path, { query: { ...params, limit: PAGE, cursor } }),
    render: (items) =>
      table({
        caption: t(`audit.${source}`),
        className: "audit-table",
        columns: [t("audit.at"), t("audit.actor"), t("audit.action"), t("audit.entity"), t("audit.changes")],
        rows: entryRows(items, source),
        empty: t("audit.empty"),
      }),
  });
  replace(body, list.el);
  await list.load();
}

export const sections = { audit };
