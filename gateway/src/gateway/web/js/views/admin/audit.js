// Audit logs: identity (users, units) and the tickets service's master data (categories,
// priorities, SLA, calendar, rules); both in cursor pages with "load more".

import { api } from "../../api.js";
import { h, replace } from "../../dom.js";
import { t } from "../../i18n.js";
import { navigate } from "../../nav.js";
import { cursorList, field, fmtDateTime, loading, table } from "../../ui.js";

const SKIP = new Set(["revision", "updated_at", "created_at", "user_id", "id"]);
const PAGE = 50;

function show(value) {
  if (value === null || value === undefined || value === "") return "∅";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** before/after snapshots -> "key: old → new" for the keys that differ. */
export function changeList(before, after) {
  const keys = new Set([...Object.keys(before || {}), ...Object.keys(after || {})]);
  const items = [];
  for (const key of keys) {
    if (SKIP.has(key)) continue;
    const a = before?.[key];
    const b = after?.[key];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if (!before && (b === null || b === undefined)) continue;
    items.push(
      h(
        "li",
        h("span", { class: "muted" }, `${key}: `),
        before ? [h("span", { class: "old" }, show(a)), " → "] : null,
        h("span", show(b)),
      ),
    );
  }
  return items.length ? h("ul", { class: "changes compact" }, items) : h("span", { class: "muted" }, t("common.none"));
}

async function audit({ el, query, isCurrent }) {
  const source = query.get("source") === "tickets" ? "tickets" : "identity";
  const tabs = h(
    "div",
    { class: "tabs", role: "tablist" },
    ["identity", "tickets"].map((s) =>
      h("a", { role: "tab", href: `#/admin/audit?source=${s}`, "aria-selected": String(s === source), class: s === source ? "active" : null }, t(`audit.${s}`)),
    ),
  );
  const body = h("div", { role: "tabpanel" }, loading());
  el.append(tabs, body);
  const columns = [t("audit.at"), t("audit.actor"), t("audit.action"), t("audit.entity"), t("audit.changes")];

  if (source === "identity") {
    const filters = h(
      "form",
      { class: "filters" },
      field({
        name: "entity_type",
        label: t("audit.entity_type"),
        value: query.get("entity_type") || "",
        options: [
          { value: "", label: t("common.all") },
          { value: "user", label: t("admin.users") },
          { value: "unit", label: t("admin.units") },
        ],
      }),
    );
    filters.addEventListener("change", () => {
      const next = { source };
      if (filters.elements.entity_type.value) next.entity_type = filters.elements.entity_type.value;
      navigate("/admin/audit", next);
    });
    body.before(filters);
    const list = cursorList({
      isCurrent,
      fetchPage: (cursor) => api("/api/identity/audit-log", { query: { entity_type: query.get("entity_type"), limit: PAGE, cursor } }),
      render: (items) =>
        table({
          caption: t("audit.identity"),
          columns,
          rows: items.map((e) => [fmtDateTime(e.occurred_at), e.actor_name, h("code", e.action), [e.entity_type, " ", h("small", { class: "muted" }, e.entity_id)], changeList(e.before, e.after)]),
        }),
    });
    replace(body, list.el);
    await list.load();
    return;
  }

  const list = cursorList({
    isCurrent,
    fetchPage: (cursor) => api("/api/tickets/audit-log", { query: { limit: PAGE, cursor } }),
    render: (items) =>
      table({
        caption: t("audit.tickets"),
        columns,
        rows: items.map((e) => [fmtDateTime(e.at), e.actor_name, h("code", e.action), h("small", { class: "muted" }, e.entity_id), changeList(e.before, e.after)]),
      }),
  });
  replace(body, list.el);
  await list.load();
}

export const sections = { audit };
