// The dashboard's filter bar: period (with quick choices), unit, category, priority, agent,
// channel and grouping, kept in the address (#/dashboard?from=...&unit_id=...). A 422 from
// the reports API is shown next to the filter it names.

import { h, replace } from "../../dom.js";
import { fieldMessage, has, t } from "../../i18n.js";
import { field, officeTimeZone } from "../../ui.js";
import { channelLabel, quickRanges, todayIn } from "./format.js";

export const FILTER_KEYS = ["from", "to", "unit_id", "category_id", "priority", "agent_id", "channel", "group_by"];
export const GROUPS = ["day", "week", "month", "year"];
const CHANNELS = ["web", "api", "email", "webhook", "phone", "walk_in"];

/** The filters in the address: {key: value} for the keys that are set. */
export function filtersFrom(query) {
  const out = {};
  for (const key of FILTER_KEYS) {
    const value = (query.get(key) || "").trim();
    if (value) out[key] = value;
  }
  return out;
}

/** The reports API's query for the filters (group_by goes to /trend only). */
export function apiQuery(filters) {
  const { group_by: _groupBy, ...rest } = filters;
  return rest;
}

/** "#/dashboard?..." for filters. */
export function hashOf(filters) {
  const q = new URLSearchParams();
  for (const key of FILTER_KEYS) if (filters[key]) q.set(key, filters[key]);
  const s = q.toString();
  return `#/dashboard${s ? `?${s}` : ""}`;
}

function options(items, value, { all = true } = {}) {
  const list = items.map((i) => ({ value: i.id, label: i.name }));
  // A value from the address the server does not know: kept, so its error has a place.
  if (value && !list.some((o) => String(o.value) === value)) list.push({ value, label: t("dash.unknown") });
  return all ? [{ value: "", label: t("common.all") }, ...list] : list;
}

/**
 * filterBar({filters, dimensions, requester, onChange}) -> {el, showPeriod, showErrors,
 * clearErrors}. onChange(nextFilters) when the user changes something.
 */
export function filterBar({ filters: initial, dimensions, requester, onChange }) {
  let filters = initial;
  const channels = dimensions.channels.length
    ? dimensions.channels.map((c) => ({ id: c.id, name: channelLabel(c.id) }))
    : CHANNELS.map((c) => ({ id: c, name: channelLabel(c) }));
  // The office's time zone (a period is office-local days); the figures' own confirm it.
  let timezone = officeTimeZone();

  const quick = h("div", { class: "quick-range", role: "group", "aria-label": t("dash.quick") });
  const controls = [
    field({ name: "from", label: t("dash.from"), type: "date", value: filters.from || "" }),
    field({ name: "to", label: t("dash.to"), type: "date", value: filters.to || "" }),
    requester ? null : field({ name: "unit_id", label: t("dash.unit"), value: filters.unit_id, options: options(dimensions.units, filters.unit_id) }),
    field({ name: "category_id", label: t("dash.category"), value: filters.category_id, options: options(dimensions.categories, filters.category_id) }),
    field({ name: "priority", label: t("dash.priority"), value: filters.priority, options: options(dimensions.priorities, filters.priority) }),
    requester ? null : field({ name: "agent_id", label: t("dash.agent"), value: filters.agent_id, options: options(dimensions.agents, filters.agent_id) }),
    field({ name: "channel", label: t("dash.channel"), value: filters.channel, options: options(channels, filters.channel) }),
    field({
      name: "group_by",
      label: t("dash.group_by"),
      value: filters.group_by || "",
      options: GROUPS.map((g) => ({ value: g, label: t(`dash.group.${g}`) })),
    }),
  ];
  const form = h(
    "form",
    { class: "filters dash-filters", role: "search", "aria-label": t("dash.filters"), novalidate: true },
    h("div", { class: "form-alert" }),
    h("div", { class: "period-row" }, quick),
    controls,
    h("div", { class: "filter-actions" }, h("a", { class: "btn", href: "#/dashboard" }, t("common.reset"))),
  );
  const el = form.elements;

  // The period shown is the server's default (this month) until one is chosen: only a
  // chosen one goes into the address, so a saved link keeps meaning "this month".
  let periodChosen = Boolean(filters.from || filters.to);

  /** The filters as the form shows them; the period and grouping only when chosen. */
  function current(groupBy = filters.group_by) {
    const next = {};
    for (const key of FILTER_KEYS) {
      if (key === "group_by" || ((key === "from" || key === "to") && !periodChosen)) continue;
      const control = el.namedItem(key);
      const value = control ? control.value.trim() : filters[key] || "";
      if (value) next[key] = value;
    }
    if (groupBy) next.group_by = groupBy;
    return next;
  }

  function emit(next) {
    filters = next;
    onChange(next);
  }

  function paintQuick() {
    replace(quick);
    const [from, to] = [el.namedItem("from").value, el.namedItem("to").value];
    for (const [key, a, b] of quickRanges(todayIn(timezone))) {
      quick.append(
        h(
          "button",
          { type: "button", class: "btn btn-small", "aria-pressed": String(a === from && b === to), dataset: { range: key }, onclick: () => pick(a, b) },
          t(`dash.quick.${key}`),
        ),
      );
    }
  }

  function pick(from, to) {
    el.namedItem("from").value = from;
    el.namedItem("to").value = to;
    periodChosen = true;
    emit(current());
  }

  form.addEventListener("change", (e) => {
    if (e.target.name === "from" || e.target.name === "to") periodChosen = true;
    emit(current(e.target.name === "group_by" ? e.target.value : undefined));
  });
  form.addEventListener("submit", (e) => e.preventDefault());

  paintQuick();

  const active = FILTER_KEYS.filter((k) => filters[k]).length;
  const wide = window.matchMedia("(min-width: 801px)").matches;
  const box = h(
    "details",
    { class: "filter-box", open: wide || active > 0 },
    h("summary", t("dash.filters"), active ? h("span", { class: "badge badge-info" }, String(active)) : null),
    form,
  );

  return {
    el: box,
    /** The period and grouping the server used (defaults filled in), and its time zone. */
    showPeriod(period, groupBy) {
      timezone = period.timezone;
      el.namedItem("from").value = period.from;
      el.namedItem("to").value = period.to;
      el.namedItem("group_by").value = groupBy;
      paintQuick();
    },
    clearErrors() {
      clearFilterErrors(form);
    },
    /** Put a 422's messages beside the filters they name; true when one was placed. */
    showErrors(err) {
      return placeErrors(form, err);
    },
  };
}

function clearFilterErrors(form) {
  for (const slot of form.querySelectorAll(".field-error")) {
    slot.hidden = true;
    slot.textContent = "";
  }
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  replace(form.querySelector(".form-alert"));
}

function messageOf(err, text) {
  // A business error has its own translation; a validation message is translated by shape.
  if (err.code === "invalid_period") {
    const span = /at most (\d+) years/.exec(text || "");
    return span ? t("dash.err.period_span", { n: span[1] }) : t("dash.err.period_order");
  }
  if (has(`dash.err.${err.code}`)) return t(`dash.err.${err.code}`);
  if (err.code !== "validation_error" && has(`err.${err.code}`)) return t(`err.${err.code}`);
  return fieldMessage(text || err.message);
}

function placeErrors(form, err) {
  clearFilterErrors(form);
  const fields = err.fields?.length ? err.fields : err.data?.field ? [{ field: err.data.field, message: err.message }] : [];
  const unplaced = [];
  let placed = false;
  for (const f of fields) {
    const control = form.elements.namedItem(f.field);
    const slot = control?.id ? document.getElementById(`${control.id}-err`) : null;
    const message = messageOf(err, f.message);
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
      control.setAttribute("aria-invalid", "true");
      placed = true;
    } else {
      unplaced.push(message);
    }
  }
  if (unplaced.length) {
    replace(form.querySelector(".form-alert"), h("div", { class: "alert alert-error", role: "alert" }, unplaced.join(" ")));
  }
  return placed || unplaced.length > 0;
}
