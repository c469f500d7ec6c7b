// The tickets service's master data: categories, priorities with their SLA policies,
// automatic priority rules, office hours and holidays.

import { api } from "../../api.js";
import { h, icon, replace } from "../../dom.js";
import { t } from "../../i18n.js";
import * as store from "../../store.js";
import {
  activeBadge,
  confirmDialog,
  errorBox,
  errorText,
  field,
  fmtDate,
  fmtMinutes,
  formDialog,
  loading,
  submitting,
  table,
  toast,
  validateForm,
} from "../../ui.js";

const T = "/api/tickets";

function changed(original, values, keys) {
  const body = {};
  for (const key of keys) if ((original[key] ?? null) !== (values[key] ?? null)) body[key] = values[key];
  return body;
}

function addButton(label) {
  return h("button", { type: "button", class: "btn btn-primary" }, icon("plus"), label);
}

function actions(...buttons) {
  return h("div", { class: "row-actions" }, buttons);
}

function small(label, onclick, danger = false) {
  return h("button", { type: "button", class: ["btn btn-small", danger && "btn-danger-outline"], onclick }, label);
}

const afterChange = (load, ...keys) => () => {
  toast(t("common.saved"));
  store.invalidate(...keys);
  load();
};

// -- categories -------------------------------------------------------------------------

async function categories({ el }) {
  const priorities = await store.priorities();
  const add = addButton(t("categories.new"));
  const list = h("div", loading());
  el.append(h("div", { class: "section-actions" }, add), list);
  const priorityName = (code) => priorities.find((p) => p.code === code)?.name || code;
  const saved = afterChange(() => load(), "categories", "categories:all");

  const fields = (c = {}) => [
    field({ name: "name", label: t("common.name"), value: c.name, required: true, attrs: { minlength: 2, maxlength: 100 } }),
    field({ name: "description", label: t("common.description"), value: c.description || "", textarea: true, rows: 2, attrs: { maxlength: 1000 } }),
    field({
      name: "default_priority",
      label: t("categories.default_priority"),
      value: c.default_priority || "",
      options: [{ value: "", label: t("categories.no_default") }, ...priorities.filter((p) => p.is_active).map((p) => ({ value: p.code, label: p.name }))],
    }),
  ];

  add.addEventListener("click", async () => {
    const r = await formDialog({
      title: t("categories.new"),
      fields: fields(),
      submitLabel: t("common.create"),
      onSubmit: (v) => api(`${T}/categories`, { method: "POST", body: v }),
    });
    if (r) saved();
  });

  async function edit(c) {
    const r = await formDialog({
      title: t("categories.edit", { name: c.name }),
      fields: fields(c),
      onSubmit: (v) => {
        const body = changed(c, v, ["name", "description", "default_priority"]);
        return Object.keys(body).length ? api(`${T}/categories/${c.id}`, { method: "PATCH", body }) : c;
      },
    });
    if (r) saved();
  }

  async function toggle(c) {
    try {
      if (c.is_active) await api(`${T}/categories/${c.id}`, { method: "DELETE" });
      else await api(`${T}/categories/${c.id}`, { method: "PATCH", body: { is_active: true } });
      saved();
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  async function load() {
    try {
      const items = await api(`${T}/categories`, { query: { include_inactive: true } });
      replace(
        list,
        table({
          caption: t("admin.categories"),
          columns: [t("common.name"), t("common.description"), t("categories.default_priority"), t("common.status"), t("common.actions")],
          rows: items.map((c) => [
            h("strong", c.name),
            c.description || t("common.none"),
            c.default_priority ? priorityName(c.default_priority) : t("common.none"),
            activeBadge(c.is_active),
            actions(small(t("common.edit"), () => edit(c)), small(c.is_active ? t("units.deactivate") : t("units.activate"), () => toggle(c), c.is_active)),
          ]),
        }),
      );
    } catch (err) {
      replace(list, errorBox(err));
    }
  }
  await load();
}

// -- priorities and SLA -------------------------------------------------------------------

async function priorities({ el }) {
  const add = addButton(t("priorities.new"));
  const list = h("div", loading());
  el.append(h("div", { class: "section-actions" }, add), h("p", { class: "callout" }, t("priorities.sla_note")), list);
  const saved = afterChange(() => load(), "priorities");

  add.addEventListener("click", async () => {
    const r = await formDialog({
      title: t("priorities.new"),
      fields: [
        h(
          "div",
          { class: "grid-2" },
          field({
            name: "code",
            label: t("common.code"),
            required: true,
            hint: t("priorities.code_hint"),
            attrs: { maxlength: 50, pattern: "[a-z][a-z0-9_]{0,49}", "data-pattern-message": t("forms.priority_code") },
          }),
          field({ name: "name", label: t("common.name"), required: true, attrs: { minlength: 2, maxlength: 100 } }),
        ),
        field({ name: "rank", label: t("priorities.rank"), type: "number", required: true, attrs: { min: 0, max: 1000 } }),
        field({ name: "is_default", label: t("priorities.is_default"), type: "checkbox" }),
      ],
      submitLabel: t("common.create"),
      onSubmit: (v) => api(`${T}/priorities`, { method: "POST", body: { ...v, rank: Number(v.rank) } }),
    });
    if (r) saved();
  });

  async function edit(p) {
    const r = await formDialog({
      title: t("priorities.edit", { name: p.name }),
      fields: [
        field({ name: "name", label: t("common.name"), value: p.name, required: true, attrs: { minlength: 2, maxlength: 100 } }),
        field({ name: "rank", label: t("priorities.rank"), type: "number", value: p.rank, required: true, attrs: { min: 0, max: 1000 } }),
        field({ name: "is_default", label: t("priorities.is_default"), type: "checkbox", value: p.is_default }),
        field({ name: "is_active", label: t("common.active"), type: "checkbox", value: p.is_active }),
      ],
      onSubmit: (v) => {
        const body = changed(p, { ...v, rank: Number(v.rank) }, ["name", "rank", "is_default", "is_active"]);
        return Object.keys(body).length ? api(`${T}/priorities/${encodeURIComponent(p.code)}`, { method: "PATCH", body }) : p;
      },
    });
    if (r) saved();
  }

  async function sla(p) {
    const r = await formDialog({
      title: t("priorities.sla_title", { name: p.name }),
      intro: t("priorities.sla_note"),
      fields: [
        field({ name: "first_response_minutes", label: t("priorities.first_response"), type: "number", value: p.first_response_minutes ?? "", required: true, attrs: { min: 1, max: 525600 } }),
        field({ name: "resolution_minutes", label: t("priorities.resolution"), type: "number", value: p.resolution_minutes ?? "", required: true, attrs: { min: 1, max: 525600 } }),
      ],
      // The one rule about both targets (resolution not shorter than first response).
      fieldMap: { body: "resolution_minutes" },
      onSubmit: (v) =>
        api(`${T}/sla-policies/${encodeURIComponent(p.code)}`, {
          method: "PUT",
          body: { first_response_minutes: Number(v.first_response_minutes), resolution_minutes: Number(v.resolution_minutes) },
        }),
    });
    if (r) saved();
  }

  async function load() {
    try {
      const items = await api(`${T}/priorities`);
      replace(
        list,
        table({
          caption: t("admin.priorities"),
          columns: [t("common.code"), t("common.name"), t("priorities.col.rank"), t("priorities.col.first_response"), t("priorities.col.resolution"), t("common.status"), t("common.actions")],
          rows: items.map((p) => [
            h("code", p.code),
            [h("strong", p.name), p.is_default ? [" ", h("span", { class: "badge badge-info" }, t("priorities.is_default"))] : null],
            String(p.rank),
            fmtMinutes(p.first_response_minutes),
            fmtMinutes(p.resolution_minutes),
            activeBadge(p.is_active),
            actions(small(t("common.edit"), () => edit(p)), small(t("priorities.edit_sla"), () => sla(p))),
          ]),
        }),
      );
    } catch (err) {
      replace(list, errorBox(err));
    }
  }
  await load();
}

// -- automatic priority rules -------------------------------------------------------------

async function rules({ el }) {
  const [units, cats, prios] = await Promise.all([store.units(), store.categories({ all: true }), store.priorities()]);
  const add = addButton(t("rules.new"));
  const list = h("div", loading());
  el.append(h("div", { class: "section-actions" }, add), h("p", { class: "callout" }, t("rules.note")), list);
  const name = (items, id, key = "id") => items.find((x) => x[key] === id)?.name || t("rules.any");
  const saved = afterChange(() => load());

  const fields = (r = {}) => [
    field({ name: "keyword", label: t("rules.keyword"), value: r.keyword || "", attrs: { minlength: 2, maxlength: 100 } }),
    h(
      "div",
      { class: "grid-2" },
      field({ name: "unit_id", label: t("rules.unit"), value: r.unit_id || "", options: [{ value: "", label: t("rules.any") }, ...units.map((u) => ({ value: u.id, label: u.name }))] }),
      field({ name: "category_id", label: t("rules.category"), value: r.category_id || "", options: [{ value: "", label: t("rules.any") }, ...cats.map((c) => ({ value: c.id, label: c.name }))] }),
    ),
    field({ name: "priority", label: t("rules.priority"), value: r.priority || "", required: true, options: prios.filter((p) => p.is_active).map((p) => ({ value: p.code, label: p.name })) }),
  ];

  add.addEventListener("click", async () => {
    const r = await formDialog({
      title: t("rules.new"),
      fields: fields(),
      submitLabel: t("common.create"),
      // A rule without any condition: said under the keyword, the first condition.
      fieldMap: { body: "keyword" },
      onSubmit: (v) => {
        const body = { priority: v.priority };
        for (const key of ["keyword", "unit_id", "category_id"]) if (v[key]) body[key] = v[key];
        return api(`${T}/priority-rules`, { method: "POST", body });
      },
    });
    if (r) saved();
  });

  async function edit(rule) {
    const r = await formDialog({
      title: t("rules.edit"),
      fields: [...fields(rule), field({ name: "is_active", label: t("common.active"), type: "checkbox", value: rule.is_active })],
      fieldMap: { body: "keyword" },
      onSubmit: (v) => {
        const body = changed(rule, v, ["keyword", "unit_id", "category_id", "priority", "is_active"]);
        return Object.keys(body).length ? api(`${T}/priority-rules/${rule.id}`, { method: "PATCH", body }) : rule;
      },
    });
    if (r) saved();
  }

  async function remove(rule) {
    if (!(await confirmDialog({ title: t("common.delete"), message: t("rules.delete_confirm"), confirmLabel: t("common.delete"), danger: true }))) return;
    try {
      await api(`${T}/priority-rules/${rule.id}`, { method: "DELETE" });
      saved();
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  async function load() {
    try {
      const items = await api(`${T}/priority-rules`);
      replace(
        list,
        table({
          caption: t("admin.rules"),
          columns: [t("rules.keyword"), t("rules.unit"), t("rules.category"), t("rules.priority"), t("common.status"), t("common.actions")],
          rows: items.map((r) => [
            r.keyword ? h("code", r.keyword) : t("rules.any"),
            r.unit_id ? name(units, r.unit_id) : t("rules.any"),
            r.category_id ? name(cats, r.category_id) : t("rules.any"),
            h("strong", name(prios, r.priority, "code")),
            activeBadge(r.is_active),
            actions(small(t("common.edit"), () => edit(r)), small(t("common.delete"), () => remove(r), true)),
          ]),
        }),
      );
    } catch (err) {
      replace(list, errorBox(err));
    }
  }
  await load();
}

// -- office hours and holidays --------------------------------------------------------------

const hhmm = (value) => (value || "").slice(0, 5);

async function calendar({ el, query }) {
  const hoursBox = h("section", { class: "card", "aria-labelledby": "hours-title" }, h("h2", { id: "hours-title" }, t("calendar.office_hours")), loading());
  const holidaysBox = h("section", { class: "card", "aria-labelledby": "holidays-title" }, h("h2", { id: "holidays-title" }, t("calendar.holidays")), loading());
  el.append(h("div", { class: "grid-2 align-start" }, hoursBox, holidaysBox));

  // Office hours: rows of (weekday, start, end), saved together with PUT.
  async function loadHours() {
    try {
      const hours = await api(`${T}/office-hours`);
      const rows = h("tbody");
      const addRow = (w = { weekday: 0, start: "07:30", end: "16:00" }) => {
        const tr = h(
          "tr",
          h("td", field({ name: "weekday", label: t("calendar.weekday"), value: w.weekday, options: [0, 1, 2, 3, 4, 5, 6].map((d) => ({ value: d, label: t(`weekday.${d}`) })), class: "compact" })),
          h("td", field({ name: "start", label: t("calendar.start"), type: "time", value: hhmm(w.start), required: true, class: "compact" })),
          h("td", field({ name: "end", label: t("calendar.end"), type: "time", value: hhmm(w.end), required: true, class: "compact" })),
          h("td", h("button", { type: "button", class: "btn btn-small btn-danger-outline", onclick: () => tr.remove() }, t("calendar.remove_window"))),
        );
        rows.append(tr);
      };
      hours.days.forEach(addRow);
      const form = h(
        "form",
        { novalidate: true },
        h("p", { class: "muted" }, t("calendar.timezone", { tz: hours.timezone })),
        h("div", { class: "form-alert" }),
        h(
          "table",
          { class: "table hours-table" },
          h("thead", h("tr", [t("calendar.weekday"), t("calendar.start"), t("calendar.end"), ""].map((c) => h("th", { scope: "col" }, c)))),
          rows,
        ),
        h(
          "div",
          { class: "form-actions" },
          h("button", { type: "button", class: "btn", onclick: () => addRow() }, icon("plus"), t("calendar.add_window")),
          h("button", { type: "submit", class: "btn btn-primary" }, t("calendar.save_hours")),
        ),
      );
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (!validateForm(form)) return;
        const days = Array.from(rows.querySelectorAll("tr")).map((tr) => ({
          weekday: Number(tr.querySelector("[name=weekday]").value),
          start: tr.querySelector("[name=start]").value,
          end: tr.querySelector("[name=end]").value,
        }));
        const ok = await submitting(form, () => api(`${T}/office-hours`, { method: "PUT", body: { days } }));
        if (ok) {
          toast(t("common.saved"));
          loadHours();
        }
      });
      replace(hoursBox, h("h2", { id: "hours-title" }, t("calendar.office_hours")), form);
    } catch (err) {
      replace(hoursBox, h("h2", { id: "hours-title" }, t("calendar.office_hours")), errorBox(err));
    }
  }

  async function loadHolidays() {
    const thisYear = new Date().getFullYear();
    const year = Number(query.get("year")) || thisYear;
    try {
      const items = await api(`${T}/holidays`, { query: { year } });
      const yearSelect = field({
        name: "year",
        label: t("calendar.year"),
        value: year,
        options: [thisYear - 1, thisYear, thisYear + 1, thisYear + 2].map((y) => ({ value: y, label: String(y) })),
        class: "compact",
      });
      yearSelect.querySelector("select").addEventListener("change", (e) => {
        location.hash = `#/admin/calendar?year=${encodeURIComponent(e.target.value)}`;
      });
      const form = h(
        "form",
        { class: "inline-form", novalidate: true },
        h("div", { class: "form-alert" }),
        field({ name: "date", label: t("calendar.date"), type: "date", required: true, class: "compact", attrs: { min: "1900-01-01", max: "2200-12-31" } }),
        field({ name: "name", label: t("common.name"), required: true, class: "compact grow", attrs: { minlength: 2, maxlength: 100 } }),
        h("button", { type: "submit", class: "btn btn-primary" }, t("calendar.add_holiday")),
      );
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (!validateForm(form)) return;
        const body = { date: form.elements.date.value, name: form.elements.name.value.trim() };
        const ok = await submitting(form, () => api(`${T}/holidays`, { method: "POST", body }));
        if (ok) {
          toast(t("common.saved"));
          loadHolidays();
        }
      });
      replace(
        holidaysBox,
        h("h2", { id: "holidays-title" }, t("calendar.holidays")),
        yearSelect,
        table({
          caption: t("calendar.holidays"),
          columns: [t("calendar.date"), t("common.name"), t("common.actions")],
          rows: items.map((d) => [
            fmtDate(d.date),
            d.name,
            small(
              t("common.delete"),
              async () => {
                if (!(await confirmDialog({ title: t("common.delete"), message: t("calendar.delete_holiday_confirm", { name: d.name }), confirmLabel: t("common.delete"), danger: true }))) return;
                try {
                  await api(`${T}/holidays/${d.id}`, { method: "DELETE" });
                  toast(t("common.saved"));
                  loadHolidays();
                } catch (err) {
                  toast(errorText(err), "error");
                }
              },
              true,
            ),
          ]),
        }),
        form,
      );
    } catch (err) {
      replace(holidaysBox, h("h2", { id: "holidays-title" }, t("calendar.holidays")), errorBox(err));
    }
  }

  await Promise.all([loadHours(), loadHolidays()]);
}

export const sections = { categories, priorities, rules, calendar };
