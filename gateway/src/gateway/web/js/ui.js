// Shared building blocks: messages, form fields with their errors, dialogs, badges, dates.

import { h, icon, replace, uniqueId, $, $$ } from "./dom.js";
import { fieldMessage, has, locale, statusLabel, t } from "./i18n.js";

// -- errors -----------------------------------------------------------------------------

function retryText(seconds) {
  const n = Number(seconds);
  if (!Number.isFinite(n) || n <= 0) return t("time.seconds", { n: "…" });
  return n >= 120 ? t("time.in_minutes", { n: Math.ceil(n / 60) }).replace(/^(dalam|in) /, "") : t("time.seconds", { n });
}

/** A message for an ApiError (or any error) in the current language. */
export function errorText(err) {
  if (!err) return "";
  const code = err.code;
  let text;
  if (code === "network") text = t("err.network");
  else if (code === "too_many_attempts") text = t("err.too_many_attempts", { retry: retryText(err.retryAfter) });
  else if (code === "smtp_error") text = t("err.smtp_error", { detail: (err.message || "").replace(/^.*?: /, "") });
  else if (code && has(`err.${code}`)) text = t(`err.${code}`);
  else text = err.message || t("err.generic", { status: err.status });
  return text;
}

export function errorBox(err) {
  const box = h("div", { class: "alert alert-error", role: "alert" }, errorText(err));
  if (err?.requestId && (err.status === 0 || err.status >= 500)) {
    box.append(h("small", { class: "ref" }, t("err.ref", { id: err.requestId })));
  }
  return box;
}

// -- toasts -----------------------------------------------------------------------------

export function toast(message, kind = "ok") {
  const region = $("#toasts");
  if (!region) return;
  const item = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  region.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

// -- form fields ------------------------------------------------------------------------

/**
 * field({name, label, type, value, options, required, hint, textarea, rows, attrs})
 * -> <div class="field"> with label, control, hint and an error slot (aria-describedby).
 * options: [{value, label}]; type "checkbox" puts the label after the box.
 */
export function field(spec) {
  const id = uniqueId(`f-${spec.name}`);
  const hintId = spec.hint ? `${id}-hint` : null;
  const errId = `${id}-err`;
  const describedBy = [hintId, errId].filter(Boolean).join(" ");
  const common = {
    id,
    name: spec.name,
    required: spec.required,
    "aria-describedby": describedBy,
    ...(spec.attrs || {}),
  };
  let control;
  if (spec.options) {
    control = h(
      "select",
      common,
      spec.options.map((o) => h("option", { value: o.value, selected: String(o.value) === String(spec.value ?? "") }, o.label)),
    );
  } else if (spec.textarea) {
    control = h("textarea", { ...common, rows: spec.rows || 4 });
    control.value = spec.value ?? "";
  } else {
    control = h("input", { ...common, type: spec.type || "text" });
    if (spec.type === "checkbox") control.checked = Boolean(spec.value);
    else if (spec.value !== undefined && spec.value !== null) control.value = spec.value;
  }
  const label = h("label", { for: id }, spec.label, spec.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null);
  const hint = spec.hint ? h("p", { class: "hint", id: hintId }, spec.hint) : null;
  const error = h("p", { class: "field-error", id: errId, hidden: true });
  if (spec.type === "checkbox") {
    return h("div", { class: ["field field-check", spec.class] }, control, label, hint, error);
  }
  return h("div", { class: ["field", spec.class] }, label, control, hint, error);
}

export function clearErrors(form) {
  for (const el of $$(".field-error", form)) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
  const box = $(".form-alert", form);
  if (box) replace(box);
}

/** Put the API's field errors next to their fields; the rest in the form's alert box. */
export function showErrors(form, err, { fieldMap = {} } = {}) {
  clearErrors(form);
  let box = $(".form-alert", form);
  if (!box) {
    box = h("div", { class: "form-alert" });
    form.prepend(box);
  }
  const unplaced = [];
  let first = null;
  for (const f of err.fields || []) {
    const name = fieldMap[f.field] || f.field;
    const control = form.elements.namedItem(name);
    const el = control && (control instanceof RadioNodeList ? control[0] : control);
    const slot = el && el.id ? document.getElementById(`${el.id}-err`) : null;
    // A business error names its field: show its translation there, not the English text.
    const message = err.code !== "validation_error" && has(`err.${err.code}`) ? t(`err.${err.code}`) : fieldMessage(f.message);
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
      el.setAttribute("aria-invalid", "true");
      first = first || el;
    } else {
      // "body": a rule about the whole form (e.g. one target shorter than another).
      unplaced.push(f.field === "body" ? message : `${f.field}: ${message}`);
    }
  }
  const summary = first !== null ? t("err.form") : errorText(err);
  const alert = h("div", { class: "alert alert-error", role: "alert", tabindex: "-1" }, summary);
  if (unplaced.length) alert.append(h("ul", unplaced.map((u) => h("li", u))));
  if (err.requestId && (err.status === 0 || err.status >= 500)) {
    alert.append(h("small", { class: "ref" }, t("err.ref", { id: err.requestId })));
  }
  replace(box, alert);
  if (first) first.focus();
  else {
    alert.focus();
    alert.scrollIntoView?.({ block: "nearest" });
  }
}

/** Values of a form's named controls: "" becomes null unless keepEmpty; checkboxes booleans. */
export function formValues(form, { keepEmpty = false } = {}) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else {
      const v = el.type === "password" ? el.value : el.value.trim();
      out[el.name] = v === "" && !keepEmpty ? null : v;
    }
  }
  return out;
}

/** Submitting: disable the buttons, run fn, show errors, re-enable. */
export async function submitting(form, fn, options) {
  const buttons = $$("button", form);
  buttons.forEach((b) => (b.disabled = true));
  form.setAttribute("aria-busy", "true");
  clearErrors(form);
  try {
    return await fn();
  } catch (err) {
    showErrors(form, err, options);
    return undefined;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    form.removeAttribute("aria-busy");
  }
}

// -- dialogs ----------------------------------------------------------------------------

/**
 * A modal form. onSubmit(values, form) returns a promise; an error is shown in the dialog,
 * success closes it. Resolves with onSubmit's result, or undefined when cancelled.
 */
export function formDialog({ title, intro, fields = [], submitLabel, danger = false, onSubmit, wide = false }) {
  return new Promise((resolve) => {
    const titleId = uniqueId("dlg-title");
    const form = h("form", { class: "dialog-form", novalidate: true }, h("div", { class: "form-alert" }), intro ? h("p", { class: "intro" }, intro) : null, fields);
    const dialog = h(
      "dialog",
      { class: ["dialog", wide && "dialog-wide"], "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      form,
    );
    const cancel = h("button", { type: "button", class: "btn" }, t("common.cancel"));
    const submit = h("button", { type: "submit", class: ["btn", danger ? "btn-danger" : "btn-primary"] }, submitLabel || t("common.save"));
    form.append(h("div", { class: "dialog-actions" }, cancel, submit));
    let result;
    const opener = document.activeElement;
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      const done = await submitting(form, async () => {
        result = await onSubmit(formValues(form), form);
        return true;
      });
      if (done) dialog.close();
    });
    document.body.append(dialog);
    dialog.showModal();
    const firstInput = $("input:not([type=hidden]), select, textarea", form);
    (firstInput || submit).focus();
  });
}

/** Yes/no question; resolves true when confirmed. */
export function confirmDialog({ title, message, confirmLabel, danger = false }) {
  return formDialog({
    title,
    intro: message,
    submitLabel: confirmLabel || t("common.confirm"),
    danger,
    onSubmit: async () => true,
  }).then((r) => r === true);
}

/** Show information (e.g. a temporary password) with a close button. */
export function infoDialog({ title, body }) {
  const titleId = uniqueId("dlg-title");
  const close = h("button", { type: "button", class: "btn btn-primary" }, t("common.close"));
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId }, h("h2", { id: titleId }, title), body, h("div", { class: "dialog-actions" }, close));
  const opener = document.activeElement;
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}

// -- badges and formatting --------------------------------------------------------------

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, statusLabel(status));
}

export function priorityBadge(code, name) {
  return h("span", { class: `badge prio prio-${code}` }, name || code);
}

export function activeBadge(active) {
  return h("span", { class: ["badge", active ? "badge-ok" : "badge-muted"] }, active ? t("common.active") : t("common.inactive"));
}

export function fmtDateTime(value) {
  if (!value) return t("common.none");
  const d = new Date(value);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

export function fmtDate(value) {
  if (!value) return t("common.none");
  const d = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00`) : new Date(value);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium" }).format(d);
}

/** "3 menit lalu" / "dalam 2 jam" (falls back to the date beyond a week). */
export function fmtRelative(value) {
  if (!value) return t("common.none");
  const diff = new Date(value).getTime() - Date.now();
  const minutes = Math.round(Math.abs(diff) / 60000);
  if (minutes < 1) return t("time.just_now");
  if (diff < 0) {
    if (minutes < 60) return t("time.minutes_ago", { n: minutes });
    if (minutes < 24 * 60) return t("time.hours_ago", { n: Math.round(minutes / 60) });
    return fmtDateTime(value);
  }
  if (minutes < 60) return t("time.in_minutes", { n: minutes });
  if (minutes < 24 * 60) return t("time.in_hours", { n: Math.round(minutes / 60) });
  if (minutes < 7 * 24 * 60) return t("time.in_days", { n: Math.round(minutes / 1440) });
  return fmtDateTime(value);
}

export function timeEl(value, text) {
  return h("time", { datetime: value || "", title: value ? fmtDateTime(value) : null }, text ?? fmtDateTime(value));
}

export function fmtMinutes(minutes) {
  if (minutes === null || minutes === undefined) return t("common.none");
  if (minutes % 60 === 0) return t("common.hours", { n: minutes / 60 });
  if (minutes > 60) return `${t("common.hours", { n: Math.floor(minutes / 60) })} ${t("common.minutes", { n: minutes % 60 })}`;
  return t("common.minutes", { n: minutes });
}

const OPEN = new Set(["new", "in_progress", "pending"]);
const SOON_MS = 4 * 3600 * 1000;

/** The SLA state of a ticket as a small badge. */
export function slaBadge(ticket) {
  if (ticket.overdue) {
    return h("span", { class: "badge sla-overdue", title: fmtDateTime(ticket.resolution_due_at) }, icon("clock"), " ", t("sla.overdue"));
  }
  if (ticket.sla_paused) return h("span", { class: "badge sla-paused" }, t("sla.paused"));
  if (OPEN.has(ticket.status) && ticket.resolution_due_at) {
    const left = new Date(ticket.resolution_due_at).getTime() - Date.now();
    const soon = left < SOON_MS;
    return h(
      "span",
      { class: ["badge", soon ? "sla-soon" : "sla-ok"], title: fmtDateTime(ticket.resolution_due_at) },
      t(soon ? "sla.due_soon" : "sla.due", { when: fmtRelative(ticket.resolution_due_at) }),
    );
  }
  if (ticket.status === "resolved" || ticket.status === "closed") {
    return ticket.resolution_breached
      ? h("span", { class: "badge sla-overdue" }, t("sla.breached"))
      : h("span", { class: "badge sla-ok" }, t("sla.met"));
  }
  return h("span", { class: "muted" }, t("sla.none"));
}

// -- page pieces ------------------------------------------------------------------------

export function pageHeader(title, ...actions) {
  return h("div", { class: "page-header" }, h("h1", { tabindex: "-1" }, title), actions.length ? h("div", { class: "page-actions" }, actions) : null);
}

export function loading() {
  return h("p", { class: "loading", role: "status" }, t("app.loading"));
}

/** A table with a header row; rows are arrays of cells (nodes or text). */
export function table({ caption, columns, rows, empty, className }) {
  if (!rows.length) return h("p", { class: "empty" }, empty || t("common.empty"));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: ["table", className] },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", h("tr", columns.map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        rows.map((cells) => h("tr", cells.map((cell, i) => h("td", { "data-label": columns[i] }, cell)))),
      ),
    ),
  );
}

/**
 * A list paged with keyset cursors ({items, next_cursor}): the first page, then a "load
 * more" button while next_cursor is set. `fetchPage(cursor, size)` gets one page (cursor null
 * for the first; size only when refreshing); `render(items)` draws everything loaded so far.
 * `reload()` starts over; `refresh()` fetches again as many items as are shown, in one page,
 * without a loading state (live updates: the list neither shrinks nor jumps).
 */
export function cursorList({ fetchPage, render, isCurrent = () => true }) {
  const body = h("div", loading());
  const more = h("button", { type: "button", class: "btn", hidden: true }, t("common.load_more"));
  let cursor = null;
  let items = [];
  let generation = 0;
  async function load(fresh) {
    if (fresh) {
      generation += 1;
      cursor = null;
      items = [];
    }
    const mine = generation;
    more.disabled = true;
    more.textContent = t("common.loading_more");
    try {
      const page = await fetchPage(cursor);
      if (!isCurrent() || mine !== generation) return;
      items = items.concat(page.items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      replace(body, render(items));
    } catch (err) {
      replace(body, errorBox(err));
    } finally {
      more.disabled = false;
      more.textContent = t("common.load_more");
    }
  }
  async function refresh() {
    if (!items.length) return load(true);
    generation += 1;
    const mine = generation;
    try {
      const page = await fetchPage(null, items.length);
      if (!isCurrent() || mine !== generation) return;
      items = page.items;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      replace(body, render(items));
    } catch (err) {
      if (isCurrent() && mine === generation) replace(body, errorBox(err));
    }
  }
  more.addEventListener("click", () => load(false));
  return { el: h("div", body, h("div", { class: "load-more" }, more)), load: () => load(true), reload: () => load(true), refresh };
}
