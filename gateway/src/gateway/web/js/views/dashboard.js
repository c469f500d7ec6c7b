// Dashboard (#/dashboard) for leaders and staff. There is no reports service yet, so the
// counts are computed here from the tickets list API, and the page says so.

import { fetchAll } from "../api.js";
import { h, replace } from "../dom.js";
import { statusLabel, t } from "../i18n.js";
import { navigate } from "../nav.js";
import * as store from "../store.js";
import { errorBox, field, loading, pageHeader } from "../ui.js";

const MAX = 2000;
const STATUSES = ["new", "in_progress", "pending", "resolved", "closed", "rejected"];
const OPEN = new Set(["new", "in_progress", "pending"]);

function countBy(items, key) {
  const counts = new Map();
  for (const item of items) {
    const k = key(item);
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  return counts;
}

function stat(label, value, modifier) {
  return h("div", { class: ["stat card", modifier] }, h("span", { class: "stat-value" }, String(value)), h("span", { class: "stat-label" }, label));
}

/** rows: [{label, count, href}] -> a table with a bar per row. */
function breakdown(title, rows) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  const body = rows.length
    ? h(
        "table",
        { class: "table bars" },
        h("caption", { class: "visually-hidden" }, title),
        h("thead", h("tr", h("th", { scope: "col" }, title), h("th", { scope: "col", class: "num" }, t("dash.count")))),
        h(
          "tbody",
          rows.map((r) => {
            const bar = h("span", { class: "bar", "aria-hidden": "true" });
            bar.style.width = `${(100 * r.count) / max}%`;
            return h(
              "tr",
              h("th", { scope: "row" }, h("div", { class: "bar-label" }, r.href ? h("a", { href: r.href }, r.label) : r.label), h("div", { class: "bar-track" }, bar)),
              h("td", { class: "num" }, String(r.count)),
            );
          }),
        ),
      )
    : h("p", { class: "empty" }, t("common.empty"));
  return h("section", { class: "card breakdown" }, h("h2", title), body);
}

export async function render({ el, query, isCurrent }) {
  const from = query.get("from") || "";
  const to = query.get("to") || "";
  const form = h(
    "form",
    { class: "filters", "aria-label": t("dash.period") },
    field({ name: "from", label: t("dash.from"), type: "date", value: from }),
    field({ name: "to", label: t("dash.to"), type: "date", value: to }),
    h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("common.apply")), h("a", { class: "btn", href: "#/dashboard" }, t("common.reset"))),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = {};
    if (form.elements.from.value) next.from = form.elements.from.value;
    if (form.elements.to.value) next.to = form.elements.to.value;
    navigate("/dashboard", next);
  });
  const body = h("div", loading());
  el.append(pageHeader(t("dash.title")), form, body);

  try {
    const [{ items, capped }, priorities] = await Promise.all([
      fetchAll("/api/tickets/tickets", { created_from: from, created_to: to, sort: "-created_at" }, { max: MAX }),
      store.priorities(),
    ]);
    if (!isCurrent()) return;
    const linkTo = (params) => `#/tickets?${new URLSearchParams(params)}`;
    const open = items.filter((i) => OPEN.has(i.status));
    const byStatus = countBy(items, (i) => i.status);
    const byUnit = countBy(items, (i) => `${i.unit_id}\u0000${i.unit_name || "?"}`);
    const byCategory = countBy(items, (i) => `${i.category_id}\u0000${i.category_name || "?"}`);
    const byPriority = countBy(items, (i) => i.priority);
    const byAssignee = countBy(open.filter((i) => i.assignee_id), (i) => `${i.assignee_id}\u0000${i.assignee_name}`);
    const split = (map, href) =>
      [...map.entries()]
        .map(([k, count]) => {
          const [id, label] = k.split("\u0000");
          return { label, count, href: href(id) };
        })
        .sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));

    replace(
      body,
      h(
        "p",
        { class: "callout" },
        t("dash.note", { n: items.length, capped: capped ? t("dash.capped", { max: MAX }) : "" }),
      ),
      h(
        "div",
        { class: "stats" },
        stat(t("dash.total"), items.length),
        stat(t("dash.open"), open.length),
        stat(t("dash.overdue"), items.filter((i) => i.overdue).length, "stat-danger"),
        stat(t("dash.unassigned"), open.filter((i) => !i.assignee_id).length, "stat-warn"),
      ),
      h(
        "div",
        { class: "breakdowns" },
        breakdown(
          t("dash.by_status"),
          STATUSES.map((s) => ({ label: statusLabel(s), count: byStatus.get(s) || 0, href: linkTo({ status: s }) })),
        ),
        breakdown(
          t("dash.by_priority"),
          [...priorities]
            .sort((a, b) => b.rank - a.rank)
            .map((p) => ({ label: p.name, count: byPriority.get(p.code) || 0, href: linkTo({ priority: p.code }) }))
            .filter((r) => r.count || priorities.find((p) => p.name === r.label)?.is_active),
        ),
        breakdown(t("dash.by_unit"), split(byUnit, (id) => linkTo({ unit_id: id }))),
        breakdown(t("dash.by_category"), split(byCategory, (id) => (id && id !== "null" ? linkTo({ category_id: id }) : null))),
        breakdown(t("dash.by_assignee"), split(byAssignee, (id) => linkTo({ assignee: id, status: "open" }))),
      ),
    );
  } catch (err) {
    replace(body, errorBox(err));
  }
}
