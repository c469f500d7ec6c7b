// Dashboard (#/dashboard): the reports service's figures for a period and filters (kept in
// the address), live. Leaders, agents and administrators see every unit; a requester sees
// their own unit. The page listens to /api/reports/stream and fetches the figures again
// when they may have changed; it stops listening when the page is left.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { downloadButton } from "../download.js";
import { lang, t } from "../i18n.js";
import { eventStream, followChanges } from "../live.js";
import * as store from "../store.js";
import { errorBox, errorText, fmtTime, officeToday, pageHeader } from "../ui.js";
import { statCards, statusBars } from "./dashboard/figures.js";
import { apiQuery, filterBar, filtersFrom, hashOf } from "./dashboard/filters.js";
import { autoGroupBy, fmtDay } from "./dashboard/format.js";
import { recapSection } from "./dashboard/recap.js";
import { breakdownTable, workloadTable } from "./dashboard/tables.js";
import { trendSection } from "./dashboard/trend.js";

const REPORTS = "/api/reports";
const NO_DIMENSIONS = { units: [], categories: [], priorities: [], channels: [], agents: [] };
// A change is fetched this long after it is announced (bursts arrive as one event anyway).
const SETTLE_MS = 150;

// Report queries run at most this many at a time per page (a refresh is eight of them, each
// a database transaction: a room full of dashboards must not exhaust the service's pool).
const PARALLEL = 3;

/** Run async jobs, at most `n` at a time; resolves with their results in order. */
async function limited(jobs, n) {
  const results = new Array(jobs.length);
  let next = 0;
  async function worker() {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, jobs.length) }, worker));
  return results;
}

/** The grouping for filters without one: from the period asked for (default: this month). */
function groupFor(filters) {
  if (filters.group_by) return filters.group_by;
  if (filters.from && filters.to) return autoGroupBy(filters.from, filters.to);
  if (filters.from) return autoGroupBy(filters.from, officeToday());
  return "day";
}

/** Where "open now" leads: the ticket list with the same filters. */
function openTicketsHref(filters) {
  const q = new URLSearchParams({ status: "open" });
  if (filters.unit_id) q.set("unit_id", filters.unit_id);
  if (filters.category_id) q.set("category_id", filters.category_id);
  if (filters.priority) q.set("priority", filters.priority);
  if (filters.agent_id) q.set("assignee", filters.agent_id);
  return `#/tickets?${q}`;
}

function section(title, body, className, tools) {
  return h("section", { class: ["card", className] }, tools ? h("div", { class: "card-head" }, h("h2", title), tools) : h("h2", title), body);
}

/**
 * CSV and PDF buttons for one report (summary, trend, breakdown, completed): the file the
 * export API makes of the filters on screen; `query()` is read when clicked and carries the
 * report's own parameters (group_by, by).
 */
function exportTools(report, title, query) {
  const make = (format) =>
    downloadButton({
      label: format.toUpperCase(),
      title: t(`dash.export.${format}`, { report: title }),
      className: "btn-small",
      dataset: { export: `${report}.${format}` },
      path: `${REPORTS}/export/${report}.${format}`,
      query: () => ({ ...query(), lang: lang() }),
    });
  return h("div", { class: "export-tools", role: "group", "aria-label": t("dash.export.group", { report: title }) }, make("csv"), make("pdf"));
}

/** The live indicator: the stream's state, and a quiet note when figures were refreshed. */
function liveIndicator() {
  const dot = h("span", { class: "live-dot", "aria-hidden": "true" });
  const state = h("span", { class: "live-state" });
  const note = h("span", { class: "live-note" });
  const el = h("p", { class: "live", dataset: { live: "connecting" } }, dot, state, note);
  let fade = null;
  return {
    el,
    state(name) {
      el.dataset.live = name;
      state.textContent = t(`dash.live.${name}`);
    },
    updated() {
      const time = fmtTime(new Date(), { seconds: true });
      note.textContent = t("dash.updated", { time });
      note.setAttribute("role", "status");
      el.dataset.updates = String(Number(el.dataset.updates || 0) + 1);
      el.classList.add("flash");
      clearTimeout(fade);
      fade = setTimeout(() => el.classList.remove("flash"), 1600);
    },
    failed(err) {
      note.textContent = t("dash.update_failed", { error: errorText(err) });
    },
  };
}

export async function render({ el, query, isCurrent }) {
  const me = store.state.me;
  const requester = me.role === "requester";
  let filters = filtersFrom(query);
  const dimensions = await api(`${REPORTS}/dimensions`).catch(() => NO_DIMENSIONS);
  if (!isCurrent()) return;

  const live = liveIndicator();
  const title = requester && me.unit ? t("dash.title_unit", { unit: me.unit.name }) : t("dash.title");
  // Exports read the filters on screen when clicked (they change without a re-render).
  const q = () => apiQuery(filters);
  const withGroup = () => ({ ...q(), group_by: groupFor(filters) });
  const fullReport = downloadButton({
    label: t("dash.export.full"),
    className: "btn-primary",
    dataset: { export: "full.pdf" },
    path: `${REPORTS}/export/full.pdf`,
    query: () => ({ ...withGroup(), lang: lang() }),
  });
  const periodText = h("p", { class: "intro dash-period" });
  const bar = filterBar({ filters, dimensions, requester, onChange: apply });
  const problem = h("div", { class: "dash-problem" });

  // -- the figures' places (filled in place on every refresh: nothing jumps) --
  const stats = h("div", { class: "stats dash-stats" });
  const summaryHead = h("div", { class: "dash-section-head" }, h("h2", t("dash.summary")), exportTools("summary", t("dash.summary"), q));
  const trend = trendSection({ tools: exportTools("trend", t("dash.trend.title"), withGroup) });
  const statusSlot = h("div");
  const breakdowns = (requester ? ["category", "priority", "channel"] : ["unit", "category", "priority", "channel"]).map((by) => ({
    by,
    slot: h("div", { dataset: { breakdown: by } }),
  }));
  const workloadSlot = requester ? null : h("div", { dataset: { breakdown: "agent" } });
  const recap = recapSection({ isCurrent, tools: exportTools("completed", t("dash.recap.title"), q) });
  const breakdownTools = (by, name) => exportTools("breakdown", name, () => ({ ...q(), by }));
  const figures = h(
    "div",
    { class: "dash-figures", hidden: true },
    summaryHead,
    stats,
    trend.el,
    h(
      "div",
      { class: "breakdowns" },
      section(t("dash.by_status"), statusSlot, null, exportTools("summary", t("dash.by_status"), q)),
      breakdowns.map((b) => section(t(`dash.by_${b.by}`), b.slot, null, breakdownTools(b.by, t(`dash.by_${b.by}`)))),
    ),
    workloadSlot ? section(t("dash.workload.title"), workloadSlot, "workload", breakdownTools("agent", t("dash.workload.title"))) : null,
    recap.el,
  );
  el.append(pageHeader(title, h("div", { class: "dash-head-actions" }, fullReport, live.el)), periodText, problem, bar.el, figures);

  // -- fetching --
  let generation = 0;

  async function refresh({ fresh = false } = {}) {
    generation += 1;
    const mine = generation;
    const q = apiQuery(filters);
    const groupBy = groupFor(filters);
    if (fresh) figures.setAttribute("aria-busy", "true");
    try {
      const recapDone = fresh ? null : recap.refresh();
      const [summary, trendData, agentRows, ...rows] = await limited(
        [
          () => api(`${REPORTS}/summary`, { query: q }),
          () => api(`${REPORTS}/trend`, { query: { ...q, group_by: groupBy } }),
          () => (workloadSlot ? api(`${REPORTS}/breakdown`, { query: { ...q, by: "agent" } }) : null),
          ...breakdowns.map((b) => () => api(`${REPORTS}/breakdown`, { query: { ...q, by: b.by } })),
        ],
        PARALLEL,
      );
      if (mine !== generation || !isCurrent()) return;
      bar.clearErrors();
      replace(problem);
      bar.showPeriod(summary.period, trendData.group_by);
      periodText.textContent = t("dash.period_text", { from: fmtDay(summary.period.from), to: fmtDay(summary.period.to), tz: summary.period.timezone });
      replace(stats, statCards(summary, { openHref: openTicketsHref(filters) }));
      replace(statusSlot, statusBars(summary));
      breakdowns.forEach((b, i) => replace(b.slot, breakdownTable(rows[i], t(`dash.by_${b.by}`))));
      if (workloadSlot) replace(workloadSlot, workloadTable(agentRows));
      figures.hidden = false;
      await Promise.all([trend.show(trendData), fresh ? recap.load(q) : recapDone]);
      if (!fresh && mine === generation) live.updated();
    } catch (err) {
      if (mine !== generation || !isCurrent()) return;
      if (!fresh && err.status !== 422 && err.status !== 403) {
        // A live refresh that failed (network, a restart): keep the figures shown.
        live.failed(err);
        return;
      }
      figures.hidden = true;
      replace(stats);
      if (err.status === 422 && bar.showErrors(err)) {
        replace(problem, h("div", { class: "alert alert-error", role: "alert" }, t("dash.invalid_filters")));
      } else {
        const box = errorBox(err);
        if (err.status === 403 && requester) box.append(" ", h("a", { href: "#/dashboard" }, t("dash.own_unit")));
        else if (err.status !== 403) {
          box.append(h("p", h("button", { type: "button", class: "btn btn-small", onclick: () => refresh({ fresh: true }) }, t("common.refresh"))));
        }
        replace(problem, box);
      }
      return err;
    } finally {
      if (mine === generation) figures.removeAttribute("aria-busy");
    }
  }

  function apply(next) {
    filters = next;
    const hash = hashOf(next);
    // The address keeps the filters (a new history entry: Back returns to the previous
    // ones), without re-rendering the page: the figures are fetched again in place.
    if (location.hash !== hash) history.pushState(null, "", hash);
    refresh({ fresh: true });
  }

  // -- live updates --
  let stream = null;
  let readies = 0;
  const failed = await refresh({ fresh: true });
  if (!isCurrent() || !el.isConnected) return;
  if (failed?.status === 403) {
    // Not allowed to see these figures: nothing to keep up to date.
    live.el.hidden = true;
    return;
  }
  const follower = followChanges({
    el,
    isCurrent,
    settleMs: SETTLE_MS,
    refresh: () => refresh(),
    onStop: () => {
      stream?.stop();
      stream = null;
      trend.destroy();
    },
  });
  stream = eventStream(`${REPORTS}/stream`, {
    onState: (state) => live.state(state),
    onEvent: (name) => {
      if (name === "changed") follower.changed();
      // A new connection after a drop: changes may have been missed meanwhile.
      else if (name === "ready" && ++readies > 1) follower.changed();
    },
  });
}
