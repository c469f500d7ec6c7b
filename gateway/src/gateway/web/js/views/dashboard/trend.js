// Created vs resolved per period with the backlog at each period's end: a chart, and the
// same numbers as a table (for screen readers, and if the chart cannot be drawn).

import { trendChart } from "../../charts.js";
import { h, replace } from "../../dom.js";
import { t } from "../../i18n.js";
import { fmtCount, periodLabel } from "./format.js";

/** trendSection({tools}) -> {el, show(trend), destroy()}; `tools` go beside the heading. */
export function trendSection({ tools } = {}) {
  const canvas = h("canvas", { role: "img" });
  const box = h("div", { class: "chart-box" }, canvas);
  const tableSlot = h("div");
  const details = h("details", { class: "chart-table" }, h("summary", t("dash.trend.table")), tableSlot);
  const heading = h("h2", { id: "dash-trend-title" }, t("dash.trend.title"));
  const el = h("section", { class: "card trend", "aria-labelledby": "dash-trend-title" }, tools ? h("div", { class: "card-head" }, heading, tools) : heading, box, details);
  let chart = null;
  let pending = null;
  let destroyed = false;

  async function draw(data) {
    if (chart) return chart.update(data);
    if (!pending) {
      pending = trendChart(canvas, data).then(
        (c) => {
          if (destroyed) c.destroy();
          chart = c;
          return c;
        },
        (err) => {
          pending = null;
          throw err;
        },
      );
      return pending;
    }
    return (await pending).update(data);
  }

  return {
    el,
    async show(trend) {
      const group = trend.group_by;
      const points = trend.points;
      const data = {
        labels: points.map((p) => periodLabel(p.period_start, group)),
        created: points.map((p) => p.created),
        resolved: points.map((p) => p.resolved),
        backlog: points.map((p) => p.backlog_end),
        names: { created: t("dash.trend.created"), resolved: t("dash.trend.resolved"), backlog: t("dash.trend.backlog") },
      };
      canvas.setAttribute("aria-label", t("dash.trend.aria", { group: t(`dash.group.${group}`).toLowerCase(), n: points.length }));
      replace(
        tableSlot,
        h(
          "div",
          { class: "table-scroll" },
          h(
            "table",
            { class: "table figures trend-table" },
            h("caption", { class: "visually-hidden" }, t("dash.trend.title")),
            h(
              "thead",
              h(
                "tr",
                h("th", { scope: "col" }, t("dash.trend.period")),
                h("th", { scope: "col", class: "num" }, t("dash.trend.created")),
                h("th", { scope: "col", class: "num" }, t("dash.trend.resolved")),
                h("th", { scope: "col", class: "num" }, t("dash.trend.backlog")),
              ),
            ),
            h(
              "tbody",
              points.map((p, i) =>
                h(
                  "tr",
                  { dataset: { period: p.period_start } },
                  h("th", { scope: "row" }, data.labels[i]),
                  h("td", { class: "num" }, fmtCount(p.created)),
                  h("td", { class: "num" }, fmtCount(p.resolved)),
                  h("td", { class: "num" }, fmtCount(p.backlog_end)),
                ),
              ),
            ),
          ),
        ),
      );
      try {
        await draw(data);
        box.hidden = false;
      } catch {
        // No chart (the library failed to load): the table carries the numbers.
        box.hidden = true;
        details.open = true;
      }
    },
    destroy() {
      destroyed = true;
      chart?.destroy();
      chart = null;
    },
  };
}
