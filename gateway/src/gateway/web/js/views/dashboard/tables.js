// The figures per unit, category, priority or channel, and the workload per agent.

import { h } from "../../dom.js";
import { t } from "../../i18n.js";
import { barWidth, fmtCount, fmtDuration, fmtPercent, rowName } from "./format.js";

function figuresTable({ caption, columns, rows, className }) {
  if (!rows.length) return h("p", { class: "empty" }, t("dash.no_rows"));
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: ["table figures", className] },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", h("tr", columns.map((c, i) => h("th", { scope: "col", class: i ? "num" : null }, c)))),
      h(
        "tbody",
        rows.map(({ key, cells }) =>
          h(
            "tr",
            { dataset: { key: key ?? "" } },
            cells.map((cell, i) => (i ? h("td", { class: "num", "data-label": columns[i] }, cell) : h("th", { scope: "row" }, cell))),
          ),
        ),
      ),
    ),
  );
}

function nameWithBar(name, count, max) {
  const bar = h("span", { class: "bar" });
  bar.style.width = barWidth(count, max);
  return [h("div", { class: "bar-label" }, name), h("div", { class: "bar-track", "aria-hidden": "true" }, bar)];
}

const byCreated = (by) => (a, b) => b.created - a.created || b.open_now - a.open_now || rowName(by, a).localeCompare(rowName(by, b));

/** A /breakdown answer (by unit, category, priority or channel) as a table with bars. */
export function breakdownTable(breakdown, title) {
  const by = breakdown.by;
  const rows = [...breakdown.rows].sort(byCreated(by));
  const max = Math.max(1, ...rows.map((r) => r.created));
  return figuresTable({
    caption: title,
    columns: [t(`dash.col.${by}`), t("dash.col.created"), t("dash.col.open_now"), t("dash.col.resolved"), t("dash.col.sla")],
    rows: rows.map((r) => ({
      key: r.key,
      cells: [
        nameWithBar(rowName(by, r), r.created, max),
        fmtCount(r.created),
        fmtCount(r.open_now),
        fmtCount(r.resolved),
        fmtPercent(r.sla_resolution.compliance_percent),
      ],
    })),
  });
}

/** The /breakdown?by=agent answer: assigned, open now, resolved and handling time. */
export function workloadTable(breakdown) {
  const rows = [...breakdown.rows].sort((a, b) => {
    // The unassigned row last; agents by open work, then by what they were given.
    if ((a.key === null) !== (b.key === null)) return a.key === null ? 1 : -1;
    return b.open_now - a.open_now || b.created - a.created || rowName("agent", a).localeCompare(rowName("agent", b));
  });
  const max = Math.max(1, ...rows.map((r) => r.open_now));
  return figuresTable({
    className: "workload-table",
    caption: t("dash.workload.title"),
    columns: [
      t("dash.workload.agent"),
      t("dash.workload.assigned"),
      t("dash.col.open_now"),
      t("dash.col.resolved"),
      t("dash.workload.handling"),
      t("dash.col.sla"),
    ],
    rows: rows.map((r) => ({
      key: r.key,
      cells: [
        nameWithBar(rowName("agent", r), r.open_now, max),
        fmtCount(r.created),
        fmtCount(r.open_now),
        fmtCount(r.resolved),
        fmtDuration(r.resolution.mean_seconds),
        fmtPercent(r.sla_resolution.compliance_percent),
      ],
    })),
  });
}
