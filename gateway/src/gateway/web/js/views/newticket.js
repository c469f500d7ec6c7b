// New ticket (#/new). Requesters file for their own unit; agents choose the unit (and may
// name the requesting user) and may set the priority. Files chosen here are checked against
// the attachments policy, then sent one by one once the ticket exists.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { navigate } from "../nav.js";
import * as store from "../store.js";
import { field, formValues, pageHeader, submitting, toast, validateForm } from "../ui.js";

// The tickets service's Phone: digits, spaces, brackets and hyphens, an optional leading +.
const PHONE_PATTERN = "\\+?[0-9 \\(\\)\\-]{5,30}";
import { filePicker, rememberFailures, uploadAll, uploadError } from "./ticket/attachments.js";

export async function render({ el, isCurrent }) {
  const me = store.state.me;
  const agent = me.role === "agent";
  const [categories, priorities, units, picker] = await Promise.all([
    store.categories(),
    store.priorities(),
    agent ? store.units() : Promise.resolve([]),
    filePicker(),
  ]);
  if (!isCurrent()) return;
  const choose = { value: "", label: t("new.choose") };
  const priorityName = (code) => priorities.find((p) => p.code === code)?.name || code;

  const categoryField = field({
    name: "category_id",
    label: t("new.category"),
    required: true,
    options: [choose, ...categories.map((c) => ({ value: c.id, label: c.name }))],
    hint: " ",
  });
  const categoryHint = categoryField.querySelector(".hint");
  const priorityNote = h("p", { class: "hint" });

  function updateCategoryHints() {
    const category = categories.find((c) => c.id === form.elements.category_id.value);
    categoryHint.textContent = category?.description || "";
    const def = category?.default_priority ? t("new.priority_default", { name: priorityName(category.default_priority) }) : "";
    priorityNote.textContent = t("new.priority_auto_hint", { default: def });
  }

  const requesterSlot = h("div");
  async function loadRequesters(unitId) {
    replace(requesterSlot);
    if (!unitId) return;
    const requesters = await store.requestersOf(unitId).catch(() => []);
    replace(
      requesterSlot,
      field({
        name: "requester_id",
        label: `${t("new.requester")} ${t("common.optional")}`,
        options: [{ value: "", label: t("new.requester_none") }, ...requesters.map((u) => ({ value: u.id, label: `${u.full_name} (${u.username})` }))],
      }),
    );
  }

  const unitPart = agent
    ? h(
        "div",
        { class: "grid-2" },
        field({
          name: "unit_id",
          label: t("new.unit"),
          required: true,
          options: [choose, ...units.filter((u) => u.is_active).map((u) => ({ value: u.id, label: `${u.name} (${u.code})` }))],
        }),
        requesterSlot,
      )
    : h("p", { class: "callout" }, t("new.for_unit", { unit: me.unit ? `${me.unit.name} (${me.unit.code})` : t("common.none") }));

  const priorityPart = agent
    ? field({
        name: "priority",
        label: t("new.priority"),
        options: [{ value: "", label: t("new.priority_auto") }, ...priorities.filter((p) => p.is_active).map((p) => ({ value: p.code, label: p.name }))],
      })
    : null;

  // The files' progress once the ticket is created.
  const queue = h("ul", { class: "att-queue", "aria-live": "polite" });

  const form = h(
    "form",
    { class: "card form-card", novalidate: true },
    h("div", { class: "form-alert" }),
    unitPart,
    field({ name: "title", label: t("new.title_label"), required: true, hint: t("new.title_hint"), attrs: { minlength: 3, maxlength: 200 } }),
    field({ name: "description", label: t("new.description"), required: true, textarea: true, rows: 6, hint: t("new.description_hint"), attrs: { maxlength: 10000 } }),
    h("div", { class: "grid-2" }, categoryField, h("div", priorityPart, priorityNote)),
    h(
      "fieldset",
      h("legend", t("new.contact")),
      h(
        "div",
        { class: "grid-3" },
        field({ name: "contact_name", label: t("new.contact_name"), value: agent ? "" : me.full_name, attrs: { maxlength: 200, autocomplete: "name" } }),
        field({
          name: "contact_phone",
          label: t("new.contact_phone"),
          type: "tel",
          attrs: { autocomplete: "tel", placeholder: "0812 3456 7890", maxlength: 30, pattern: PHONE_PATTERN, "data-pattern-message": t("forms.phone") },
        }),
        field({ name: "contact_email", label: t("new.contact_email"), type: "email", value: agent ? "" : me.email || "", attrs: { autocomplete: "email" } }),
      ),
    ),
    picker?.el,
    queue,
    h("div", { class: "form-actions" }, h("a", { class: "btn", href: "#/tickets" }, t("common.cancel")), h("button", { type: "submit", class: "btn btn-primary" }, t("new.submit"))),
  );

  form.elements.category_id.addEventListener("change", updateCategoryHints);
  if (agent) form.elements.unit_id.addEventListener("change", (e) => loadRequesters(e.target.value));
  updateCategoryHints();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    // The fields first (their messages under them), then the files, before anything is sent.
    if (!validateForm(form)) return;
    if (picker && !picker.valid()) {
      picker.focus();
      return;
    }
    const values = formValues(form);
    const body = { title: values.title, description: values.description, category_id: values.category_id };
    for (const key of ["unit_id", "priority", "requester_id", "contact_name", "contact_phone", "contact_email"]) {
      if (values[key]) body[key] = values[key];
    }
    const created = await submitting(form, () => api("/api/tickets/tickets", { method: "POST", body }));
    if (!created) return;
    toast(t("new.created", { number: created.number }));
    const files = picker ? picker.files() : [];
    if (files.length) {
      // The ticket exists: its files follow, one by one, the form kept still meanwhile.
      form.setAttribute("aria-busy", "true");
      form.querySelectorAll("button, input, select, textarea").forEach((c) => (c.disabled = true));
      const results = await uploadAll(created.id, files, { queue, kind: picker.kind });
      const failed = results.filter((r) => !r.ok).map((r) => ({ name: r.file.name, reason: uploadError(r.error) }));
      // Whatever failed is told on the ticket's page, where it can be sent again.
      rememberFailures(created.id, failed);
      if (!isCurrent()) return;
    }
    navigate(`/tickets/${created.id}`);
  });

  el.append(pageHeader(t("new.title")), h("p", { class: "intro" }, t("new.intro")), form);
}
