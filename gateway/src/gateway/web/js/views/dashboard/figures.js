// The headline figures of a period as cards, and the period's tickets by status as bars.

import { h } from "../../dom.js";
import { statusLabel, t } from "../../i18n.js";
import { barWidth, fmtCount, fmtDuration, fmtPercent } from "./format.js";

const STATUSES = ["new", "in_progress", "pending", "resolved", "closed", "rejected"];

/** A figure's card; `raw` (the number as the API gave it) is kept in data-value. */
function card(key, label, [value, raw], detail, { href, modifier } = {}) {
  const props = { class: ["stat card", modifier], dataset: { stat: key } };
  const children = [
    h("span", { class: "stat-label" }, label),
    h("span", { class: "stat-value", dataset: { value: raw === null || raw === undefined ? "" : String(raw) } }, value),
    detail ? h("span", { class: "stat-detail" }, detail) : null,
  ];
  return href ? h("a", { ...props, href }, children) : h("div", props, children);
}

function slaCard(key, label, sla) {
  const low = sla.compliance_percent !== null && sla.compliance_percent < 90;
  return card(key, label, [fmtPercent(sla.compliance_percent), sla.compliance_percent], t("dash.stat.sla_detail", { met: fmtCount(sla.met), breached: fmtCount(sla.breached) }), {
    modifier: low ? "stat-warn" : null,
  });
}

function durationCard(key, label, d) {
  // Over many tickets the service estimates median and p90 from histograms (within an eighth).
  const approx = d.percentiles === "approximate" ? "≈ " : "";
  return card(
    key,
    label,
    [fmtDuration(d.mean_seconds), d.mean_seconds],
    t("dash.stat.duration_detail", { median: approx + fmtDuration(d.median_seconds), p90: approx + fmtDuration(d.p90_seconds) }),
    { modifier: "stat-duration" },
  );
}

const count = (n) => [fmtCount(n), n];
const percent = (p) => [fmtPercent(p), p];

/** summary: the /summary answer; openHref: where "open now" leads (the ticket list). */
export function statCards(summary, { openHref } = {}) {
  const f = summary.figures;
  return [
    card("created", t("dash.stat.created"), count(f.created)),
    card("open_now", t("dash.stat.open_now"), count(summary.open_now), t("dash.stat.open_detail"), { href: openHref }),
    card("resolved", t("dash.stat.resolved"), count(f.resolved), t("dash.stat.done_detail", { n: fmtCount(f.done) })),
    slaCard("sla_first_response", t("dash.stat.sla_first"), f.sla_first_response),
    slaCard("sla_resolution", t("dash.stat.sla_resolution"), f.sla_resolution),
    durationCard("first_response", t("dash.stat.frt"), f.first_response),
    durationCard("resolution", t("dash.stat.resolution_time"), f.resolution),
    card("reopen_rate", t("dash.stat.reopen"), percent(f.reopen_rate_percent), t("dash.stat.reopen_detail", { n: fmtCount(f.reopened), of: fmtCount(f.resolved) })),
    card("rejection_rate", t("dash.stat.rejection"), percent(f.rejection_rate_percent), t("dash.stat.rejection_detail", { n: fmtCount(f.rejected), of: fmtCount(f.created) })),
    card("escalated", t("dash.stat.escalated"), count(f.escalated), null, { modifier: f.escalated ? "stat-danger" : null }),
  ];
}

/** A table with a bar per row: rows [{label, count}]. */
export function barTable(caption, rows) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return h(
    "table",
    { class: "table bars" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", h("tr", h("th", { scope: "col" }, caption), h("th", { scope: "col", class: "num" }, t("dash.count")))),
    h(
      "tbody",
      rows.map((r) => {
        const bar = h("span", { class: ["bar", r.className] });
        bar.style.width = barWidth(r.count, max);
        return h(
          "tr",
          h("th", { scope: "row" }, h("div", { class: "bar-label" }, r.label), h("div", { class: "bar-track", "aria-hidden": "true" }, bar)),
          h("td", { class: "num" }, fmtCount(r.count)),
        );
      }),
    ),
  );
}

export function statusBars(summary) {
  const by = summary.figures.by_status;
  return barTable(
    t("dash.by_status"),
    STATUSES.map((s) => ({ label: statusLabel(s), count: by[s] || 0, className: `bar-${s}` })),
  );
}
