// Users and units (SKPD), from the identity service.

import { api } from "../../api.js";
import { h, icon } from "../../dom.js";
import { roleLabel, t } from "../../i18n.js";
import { navigate } from "../../nav.js";
import * as store from "../../store.js";
import {
  activeBadge,
  cursorList,
  errorText,
  field,
  formDialog,
  infoDialog,
  table,
  toast,
} from "../../ui.js";

const ROLES = ["requester", "agent", "admin", "leader"];
const PAGE = 25;

function filterForm(path, fields, query) {
  const form = h(
    "form",
    { class: "filters", role: "search" },
    fields,
    h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("common.search")), h("a", { class: "btn", href: `#${path}` }, t("common.reset"))),
  );
  const apply = () => {
    const next = {};
    for (const el of form.elements) if (el.name && el.value.trim()) next[el.name] = el.value.trim();
    navigate(path, next);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  form.addEventListener("change", (e) => {
    if (e.target.tagName === "SELECT") apply();
  });
  for (const el of form.elements) if (el.name && query.get(el.name)) el.value = query.get(el.name);
  return form;
}

const activeOptions = () => [
  { value: "", label: t("common.all") },
  { value: "true", label: t("common.active") },
  { value: "false", label: t("common.inactive") },
];

const languageOptions = () => [
  { value: "id", label: t("common.lang.id") },
  { value: "en", label: t("common.lang.en") },
];

/** The password the server generated, shown once: after creating a user, or resetting one's. */
function showTemporaryPassword(user, password, { created = false } = {}) {
  if (!password) return;
  infoDialog({
    title: created ? t("users.created_title") : t("users.reset_password"),
    body: h(
      "div",
      h("p", t("users.temp_password", { name: user.full_name })),
      h("p", h("code", { class: "secret" }, password)),
      h("p", { class: "hint" }, t("users.temp_password_note")),
    ),
  });
}

// -- users ------------------------------------------------------------------------------

async function users({ el, query, isCurrent }) {
  const path = "/admin/users";
  const units = await store.units();
  if (!isCurrent()) return;
  const unitName = (id) => units.find((u) => u.id === id)?.name || t("common.none");
  const unitOptions = (blank) => [{ value: "", label: blank }, ...units.filter((u) => u.is_active).map((u) => ({ value: u.id, label: `${u.name} (${u.code})` }))];

  const add = h("button", { type: "button", class: "btn btn-primary" }, icon("plus"), t("users.new"));
  el.append(
    h("div", { class: "section-actions" }, add),
    filterForm(
      path,
      [
        field({ name: "q", label: t("users.filter_q"), type: "search", class: "grow" }),
        field({ name: "role", label: t("users.role"), options: [{ value: "", label: t("common.all") }, ...ROLES.map((r) => ({ value: r, label: roleLabel(r) }))] }),
        field({ name: "unit_id", label: t("users.unit"), options: unitOptions(t("common.all")) }),
        field({ name: "is_active", label: t("common.status"), options: activeOptions() }),
      ],
      query,
    ),
  );
  const list = cursorList({
    isCurrent,
    fetchPage: (cursor) =>
      api("/api/identity/users", {
        query: { q: query.get("q"), role: query.get("role"), unit_id: query.get("unit_id"), is_active: query.get("is_active"), limit: PAGE, cursor },
      }),
    render: (items) =>
      table({
        caption: t("admin.users"),
        columns: [t("users.full_name"), t("users.username"), t("users.role"), t("users.unit"), t("common.email"), t("common.status"), t("common.actions")],
        rows: items.map((u) => [
          h("strong", u.full_name),
          h("code", u.username),
          roleLabel(u.role),
          u.unit_id ? unitName(u.unit_id) : t("common.none"),
          u.email || t("common.none"),
          activeBadge(u.is_active),
          h(
            "div",
            { class: "row-actions" },
            h("button", { type: "button", class: "btn btn-small", onclick: () => edit(u) }, t("common.edit")),
            h("button", { type: "button", class: ["btn btn-small", u.is_active && "btn-danger-outline"], onclick: () => toggle(u) }, u.is_active ? t("users.disable") : t("users.enable")),
            h("button", { type: "button", class: "btn btn-small", onclick: () => reset(u) }, t("users.reset_short")),
          ),
        ]),
      }),
  });
  el.append(list.el);
  const load = list.reload;

  const userFields = (u = {}) => [
    field({ name: "full_name", label: t("users.full_name"), value: u.full_name, required: true, attrs: { maxlength: 200 } }),
    field({ name: "email", label: t("common.email"), type: "email", value: u.email || "" }),
    h(
      "div",
      { class: "grid-2" },
      field({ name: "role", label: t("users.role"), value: u.role || "requester", required: true, options: ROLES.map((r) => ({ value: r, label: roleLabel(r) })) }),
      field({ name: "language", label: t("common.language"), value: u.language || "id", options: languageOptions() }),
    ),
    field({ name: "unit_id", label: t("users.unit"), value: u.unit_id || "", hint: t("users.unit_hint"), options: unitOptions(t("common.none")) }),
  ];

  add.addEventListener("click", async () => {
    const created = await formDialog({
      title: t("users.new"),
      fields: [
        field({
          name: "username",
          label: t("users.username"),
          required: true,
          attrs: { autocomplete: "off", minlength: 3, maxlength: 64, pattern: "[A-Za-z0-9._@\\-]+", "data-pattern-message": t("forms.username") },
        }),
        ...userFields(),
        field({ name: "password", label: t("users.password"), type: "password", hint: t("users.password_hint"), attrs: { autocomplete: "new-password", minlength: 8, maxlength: 256 } }),
      ],
      submitLabel: t("common.create"),
      onSubmit: (v) => {
        const body = { username: v.username, full_name: v.full_name, role: v.role, language: v.language };
        for (const key of ["email", "unit_id", "password"]) if (v[key]) body[key] = v[key];
        return api("/api/identity/users", { method: "POST", body });
      },
    });
    if (created) {
      toast(t("common.saved"));
      showTemporaryPassword(created, created.temporary_password, { created: true });
      load();
    }
  });

  async function edit(u) {
    const updated = await formDialog({
      title: t("users.edit", { name: u.full_name }),
      fields: userFields(u),
      onSubmit: (v) => {
        const body = {};
        for (const key of ["full_name", "email", "role", "language", "unit_id"]) {
          if ((u[key] ?? null) !== (v[key] ?? null)) body[key] = v[key];
        }
        if (!Object.keys(body).length) return u;
        return api(`/api/identity/users/${u.id}`, { method: "PATCH", body });
      },
    });
    if (updated) {
      toast(t("common.saved"));
      store.invalidate("agents");
      load();
    }
  }

  // The request runs inside the confirmation dialog: it shows progress and any refusal.
  async function toggle(u) {
    const call = () => api(`/api/identity/users/${u.id}/${u.is_active ? "disable" : "enable"}`, { method: "POST" });
    let done;
    if (u.is_active) {
      done = await formDialog({
        title: t("users.disable"),
        intro: t("users.disable_confirm", { name: u.full_name }),
        submitLabel: t("users.disable"),
        danger: true,
        onSubmit: call,
      });
    } else {
      done = await call().catch((err) => toast(errorText(err), "error"));
    }
    if (done) {
      toast(t("common.saved"));
      store.invalidate("agents");
      load();
    }
  }

  async function reset(u) {
    const r = await formDialog({
      title: t("users.reset_password"),
      intro: t("users.reset_confirm", { name: u.full_name }),
      submitLabel: t("users.reset_password"),
      onSubmit: () => api(`/api/identity/users/${u.id}/reset-password`, { method: "POST" }),
    });
    if (r) showTemporaryPassword(u, r.temporary_password);
  }

  await load();
}

// -- units ------------------------------------------------------------------------------

async function units({ el, query, isCurrent }) {
  const path = "/admin/units";
  const add = h("button", { type: "button", class: "btn btn-primary" }, icon("plus"), t("units.new"));
  el.append(
    h("div", { class: "section-actions" }, add),
    filterForm(
      path,
      [field({ name: "q", label: t("units.filter_q"), type: "search", class: "grow" }), field({ name: "is_active", label: t("common.status"), options: activeOptions() })],
      query,
    ),
  );
  const list = cursorList({
    isCurrent,
    fetchPage: (cursor) => api("/api/identity/units", { query: { q: query.get("q"), is_active: query.get("is_active"), limit: PAGE, cursor } }),
    render: (items) =>
      table({
        caption: t("admin.units"),
        columns: [t("common.code"), t("common.name"), t("units.contact_name"), t("units.contact_email"), t("common.status"), t("common.actions")],
        rows: items.map((u) => [
          h("code", u.code),
          h("strong", u.name),
          u.contact_name || t("common.none"),
          u.contact_email || t("common.none"),
          activeBadge(u.is_active),
          h(
            "div",
            { class: "row-actions" },
            h("button", { type: "button", class: "btn btn-small", onclick: () => edit(u) }, t("common.edit")),
            h("button", { type: "button", class: ["btn btn-small", u.is_active && "btn-danger-outline"], onclick: () => toggle(u) }, u.is_active ? t("units.deactivate") : t("units.activate")),
          ),
        ]),
      }),
  });
  el.append(list.el);
  const load = list.reload;

  const unitFields = (u = {}) => [
    h(
      "div",
      { class: "grid-2" },
      field({
        name: "code",
        label: t("common.code"),
        value: u.code,
        required: true,
        attrs: { maxlength: 32, pattern: "[A-Za-z0-9._\\-]+", "data-pattern-message": t("forms.unit_code") },
      }),
      field({ name: "name", label: t("common.name"), value: u.name, required: true, attrs: { maxlength: 200 } }),
    ),
    h(
      "div",
      { class: "grid-2" },
      field({ name: "contact_name", label: t("units.contact_name"), value: u.contact_name || "", attrs: { maxlength: 200 } }),
      field({ name: "contact_email", label: t("units.contact_email"), type: "email", value: u.contact_email || "" }),
    ),
  ];

  const saved = () => {
    toast(t("common.saved"));
    store.invalidate("units");
    load();
  };

  add.addEventListener("click", async () => {
    const created = await formDialog({
      title: t("units.new"),
      fields: unitFields(),
      submitLabel: t("common.create"),
      onSubmit: (v) => {
        const body = { code: v.code, name: v.name };
        for (const key of ["contact_name", "contact_email"]) if (v[key]) body[key] = v[key];
        return api("/api/identity/units", { method: "POST", body });
      },
    });
    if (created) saved();
  });

  async function edit(u) {
    const updated = await formDialog({
      title: t("units.edit", { name: u.name }),
      fields: unitFields(u),
      onSubmit: (v) => {
        const body = {};
        for (const key of ["code", "name", "contact_name", "contact_email"]) if ((u[key] ?? null) !== v[key]) body[key] = v[key];
        return Object.keys(body).length ? api(`/api/identity/units/${u.id}`, { method: "PATCH", body }) : u;
      },
    });
    if (updated) saved();
  }

  async function toggle(u) {
    try {
      await api(`/api/identity/units/${u.id}`, { method: "PATCH", body: { is_active: !u.is_active } });
      saved();
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  await load();
}

export const sections = { users, units };
