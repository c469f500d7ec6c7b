// Charts drawn by the vendored Chart.js (vendor/chart.umd.min.js, MIT; see
// vendor/chart.js.LICENSE.md). Loaded on first use only: the UMD build puts `Chart` on the
// global object when run as a module.

import { locale } from "./i18n.js";

let loading = null;

export function loadChartJs() {
  if (!loading) {
    loading = import("../vendor/chart.umd.min.js")
      .then(() => {
        if (!globalThis.Chart) throw new Error("Chart.js did not load");
        return globalThis.Chart;
      })
      .catch((err) => {
        loading = null;
        throw err;
      });
  }
  return loading;
}

const COLORS = {
  created: "#1a5fb4",
  resolved: "#2f9e5a",
  backlog: "#d9822b",
  grid: "#e4e9f0",
  text: "#5a6675",
};

const reducedMotion = () => window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;

/**
 * Bars of tickets created and resolved per period, with the open backlog at each period's
 * end as a line. data: {labels, created, resolved, backlog, names: {created, resolved,
 * backlog}}. Returns {update(data), destroy()}; an update redraws in place.
 */
export async function trendChart(canvas, data) {
  const Chart = await loadChartJs();
  const datasets = (d) => [
    { type: "bar", label: d.names.created, data: d.created, backgroundColor: COLORS.created, borderRadius: 3, order: 2 },
    { type: "bar", label: d.names.resolved, data: d.resolved, backgroundColor: COLORS.resolved, borderRadius: 3, order: 3 },
    {
      type: "line",
      label: d.names.backlog,
      data: d.backlog,
      borderColor: COLORS.backlog,
      backgroundColor: COLORS.backlog,
      borderWidth: 2,
      pointRadius: d.backlog.length > 40 ? 0 : 3,
      tension: 0.25,
      order: 1,
    },
  ];
  const chart = new Chart(canvas, {
    data: { labels: data.labels, datasets: datasets(data) },
    options: {
      locale: locale(),
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion() ? false : { duration: 300 },
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { grid: { display: false }, ticks: { color: COLORS.text, maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
        y: { beginAtZero: true, grid: { color: COLORS.grid }, ticks: { color: COLORS.text, precision: 0 } },
      },
      plugins: {
        legend: { position: "bottom", labels: { color: COLORS.text, boxWidth: 12, boxHeight: 12, sort: (a, b) => a.datasetIndex - b.datasetIndex } },
        tooltip: { backgroundColor: "#1b2430" },
      },
    },
  });
  return {
    update(next) {
      chart.data.labels = next.labels;
      const fresh = datasets(next);
      chart.data.datasets.forEach((set, i) => Object.assign(set, fresh[i]));
      chart.update();
    },
    destroy() {
      chart.destroy();
    },
  };
}
