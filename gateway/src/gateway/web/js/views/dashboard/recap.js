// The recap of completed work: tickets resolved in the period with their result summaries,
// newest first, in cursor pages ("Muat lagi").

import { api } from "../../api.js";
import { h } from "../../dom.js";
import { t } from "../../i18n.js";
import { cursorList, fmtDateTime, timeEl } from "../../ui.js";
import { fmtCount, fmtDuration } from "./format.js";

const PAGE = 20;
const MAX_PAGE = 200;

function item(it) {
  const href = `#/tickets/${encodeURIComponent(it.ticket_id)}`;
  const meta = [it.unit_name, it.category_name, it.assignee_name].filter(Boolean).join(" · ");
  return h(
    "li",
    { class: "recap-item", dataset: { ticket: it.ticket_id } },
    h(
      "div",
      { class: "recap-head" },
      h("a", { href, class: "ticket-number" }, it.number),
      " ",
      h("a", { href, class: "recap-title" }, it.title),
    ),
    h(
      "p",
      { class: "recap-meta" },
      meta ? h("span", meta) : null,
      h("span", t("dash.recap.resolved"), " ", timeEl(it.resolved_at, fmtDateTime(it.resolved_at))),
      it.resolution_seconds !== null ? h("span", t("dash.recap.took", { duration: fmtDuration(it.resolution_seconds) })) : null,
    ),
    it.result_summary
      ? h("p", { class: "recap-summary prewrap" }, it.result_summary)
      : h("p", { class: "recap-summary muted" }, t("dash.recap.no_summary")),
  );
}

/** recapSection({isCurrent, tools}) -> {el, load(query), refresh()}; `tools` beside the heading. */
export function recapSection({ isCurrent, tools }) {
  let query = {};
  const count = h("p", { class: "result-count", role: "status" });
  const list = cursorList({
    isCurrent,
    fetchPage: async (cursor, size) => {
      const page = await api("/api/reports/completed", { query: { ...query, cursor, limit: Math.min(MAX_PAGE, Math.max(PAGE, size || 0)) } });
      count.textContent = t("dash.recap.count", { n: fmtCount(page.count) });
      return page;
    },
    render: (items) => (items.length ? h("ol", { class: "recap" }, items.map(item)) : h("p", { class: "empty" }, t("dash.recap.empty"))),
  });
  const el = h(
    "section",
    { class: "card recap-card", "aria-labelledby": "dash-recap-title" },
    tools ? h("div", { class: "card-head" }, h("h2", { id: "dash-recap-title" }, t("dash.recap.title")), tools) : h("h2", { id: "dash-recap-title" }, t("dash.recap.title")),
    count,
    list.el,
  );
  return {
    el,
    load(next) {
      query = next;
      return list.reload();
    },
    refresh: () => list.refresh(),
  };
}
