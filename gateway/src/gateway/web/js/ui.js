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
  else if (code === "ticket_held_by_other") text = t("err.ticket_held_by_other", { holder: err.data?.holder?.name || "" });
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

/** The services' e-mail check (one @, a dotted domain, no spaces; at most 254 characters). */
export const EMAIL_PATTERN = "[^@\\s]+@[^@\\s]+\\.[^@\\s]+";
const EMAIL_ATTRS = { pattern: EMAIL_PATTERN, maxlength: 254 };

/**
 * field({name, label, type, value, options, required, hint, textarea, rows, attrs})
 * -> <div class="field"> with label, control, hint and an error slot (aria-describedby).
 * options: [{value, label}]; type "checkbox" puts the label after the box. An e-mail field
 * gets the services' e-mail check unless attrs say otherwise; attrs["data-pattern-message"]
 * is what a pattern mismatch says under the field.
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
    ...(spec.type === "email" ? EMAIL_ATTRS : {}),
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

// -- the fields' own checks, in the user's language ---------------------------------------
//
// One mechanism for every form: the browser's constraint checks (required, minlength,
// pattern, type=email, min/max, ...) still decide, but their `invalid` events are caught at
// the document (capturing: they do not bubble) and default-prevented, so no English bubble
// appears; the message goes into the field's error slot instead, in the user's language and
// with the field's limits. Installed once by app.js; formDialog and submitting() check too.

const TEXT_TYPES = new Set(["text", "search", "tel", "email", "url"]);

function isControl(el) {
  return el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement;
}

/** A date or time limit as people read it ("2025-01-31" -> "31 Jan 2025"). */
function limitText(control, value) {
  if (control.type === "date" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return fmtDate(value);
  return value;
}

/**
 * The services strip surrounding spaces before they count characters: "   " is empty there
 * and " ab " two characters long. Said the same way here (a custom validity the browser's
 * checks do not know), for text controls that are required or have a minimum length.
 */
function trimProblem(control) {
  if (!(control instanceof HTMLTextAreaElement || (control instanceof HTMLInputElement && TEXT_TYPES.has(control.type)))) return "";
  const raw = control.value;
  const trimmed = raw.trim();
  if (raw === trimmed) return "";
  if (control.required && !trimmed) return t("field.required");
  if (trimmed && control.minLength > 0 && trimmed.length < control.minLength) {
    return t("forms.too_short", { n: control.minLength, len: trimmed.length });
  }
  return "";
}

function syncTrimCheck(control) {
  const problem = trimProblem(control);
  if (problem) {
    control.setCustomValidity(problem);
    control.dataset.trimCheck = "1";
  } else if (control.dataset.trimCheck) {
    control.setCustomValidity("");
    delete control.dataset.trimCheck;
  }
}

/** What is wrong with a control, in the current language ("" when nothing is). */
export function validationMessage(control) {
  const v = control.validity;
  if (v.valid) return "";
  const type = control.type;
  if (control.dataset.trimCheck) return trimProblem(control) || control.validationMessage;
  if (v.valueMissing) {
    if (control instanceof HTMLSelectElement || type === "radio") return t("forms.choose");
    if (type === "checkbox") return t("forms.check");
    if (type === "file") return t("forms.file");
    return t("field.required");
  }
  if (v.badInput) {
    if (type === "number") return t("forms.number");
    if (type === "time") return t("field.time");
    if (type === "date" || type.startsWith("datetime")) return t("field.date");
    return t("field.pattern");
  }
  if (v.typeMismatch) return type === "url" ? t("field.url") : type === "email" ? t("field.email") : t("field.pattern");
  if (v.tooShort) return t("forms.too_short", { n: control.minLength, len: control.value.length });
  if (v.tooLong) return t("forms.too_long", { n: control.maxLength, len: control.value.length });
  if (v.patternMismatch) {
    if (control.dataset.patternMessage) return control.dataset.patternMessage;
    return type === "email" ? t("field.email") : type === "url" ? t("field.url") : t("field.pattern");
  }
  if (v.rangeUnderflow) return type === "number" || type === "range" ? t("field.gte", { n: control.min }) : t("forms.not_before", { v: limitText(control, control.min) });
  if (v.rangeOverflow) return type === "number" || type === "range" ? t("field.lte", { n: control.max }) : t("forms.not_after", { v: limitText(control, control.max) });
  if (v.stepMismatch) {
    const step = control.getAttribute("step");
    return type === "number" && (!step || Number(step) === 1) ? t("field.int") : t("forms.step", { n: step || 1 });
  }
  return control.validationMessage;
}

/** The control's error slot: field()'s `<id>-err`, or one added after a control built by hand. */
function errorSlot(control) {
  if (!control.id) control.id = uniqueId(`f-${control.name || "control"}`);
  const existing = document.getElementById(`${control.id}-err`);
  if (existing) return existing;
  const slot = h("p", { class: "field-error", id: `${control.id}-err`, hidden: true });
  control.after(slot);
  const described = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  control.setAttribute("aria-describedby", [...described, slot.id].join(" "));
  return slot;
}

/**
 * Show `message` under the control, marked as this module's (data-marked: "client" for the
 * form's own check, "server" for a refusal): only these marks are re-checked as the value
 * changes, never an error another part of the client shows itself (e.g. the file checks).
 */
function markField(control, message, { client = true } = {}) {
  const slot = errorSlot(control);
  slot.textContent = message;
  slot.hidden = false;
  control.setAttribute("aria-invalid", "true");
  control.dataset.marked = client ? "client" : "server";
}

function unmarkField(control) {
  const slot = control.id ? document.getElementById(`${control.id}-err`) : null;
  if (slot) {
    slot.textContent = "";
    slot.hidden = true;
  }
  control.removeAttribute("aria-invalid");
  delete control.dataset.marked;
}

/** A marked field is checked again as it changes: the message follows, or goes. */
function recheck(control) {
  if (control.validity.valid) unmarkField(control);
  else markField(control, validationMessage(control));
}

// The controls found invalid by one check (reportValidity, checkValidity or a submission
// fire their `invalid` events together); the first is focused once they have all been seen.
let checkPass = null;

function finishCheckPass() {
  const controls = checkPass;
  checkPass = null;
  // Fields marked by an earlier check that are fine now lose their message.
  for (const form of new Set(controls.map((c) => c.form).filter(Boolean))) {
    for (const el of form.elements) if (isControl(el) && el.dataset.marked === "client" && el.validity.valid) unmarkField(el);
  }
  const first = controls.find((c) => c.isConnected && !c.disabled && c.getClientRects().length > 0);
  if (first && document.activeElement !== first) first.focus();
}

function onInvalid(event) {
  const control = event.target;
  if (!isControl(control)) return;
  event.preventDefault(); // no browser bubble: the message is ours, under the field
  markField(control, validationMessage(control));
  if (!checkPass) {
    checkPass = [];
    queueMicrotask(finishCheckPass);
  }
  checkPass.push(control);
}

function onEdit(event) {
  const control = event.target;
  if (!isControl(control)) return;
  syncTrimCheck(control);
  // A server's message goes too once the value changes and passes the form's own checks.
  if (control.dataset.marked) recheck(control);
}

function onLeave(event) {
  const control = event.target;
  if (isControl(control) && control.dataset.marked === "client") recheck(control);
}

let validationInstalled = false;

/** Catch every form's `invalid` events at the document (call once, at start). */
export function installFormValidation(root = document) {
  if (validationInstalled) return;
  validationInstalled = true;
  root.addEventListener("invalid", onInvalid, true);
  root.addEventListener("input", onEdit, true);
  root.addEventListener("change", onEdit, true);
  root.addEventListener("focusout", onLeave, true);
}

/** Check a form's fields (messages under the invalid ones, the first focused); true when all pass. */
export function validateForm(form) {
  installFormValidation();
  for (const el of form.elements) if (isControl(el)) syncTrimCheck(el);
  const ok = form.checkValidity();
  if (ok) for (const el of form.elements) if (isControl(el) && el.dataset.marked === "client") unmarkField(el);
  return ok;
}

export function clearErrors(form) {
  for (const el of $$(".field-error", form)) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of $$("[aria-invalid]", form)) {
    el.removeAttribute("aria-invalid");
    delete el.dataset.marked;
  }
  const box = $(".form-alert", form);
  if (box) replace(box);
}

/**
 * The control a server's field path names: the name itself ("filters.unit_id" is a control's
 * name in the schedule form), else without list positions and the path's last name, the
 * position choosing among same-named controls ("days.2.end" -> the third "end").
 */
function controlFor(form, path) {
  const pick = (item, index) => {
    if (!item) return null;
    if (!(item instanceof RadioNodeList)) return item;
    return (index !== null && item[index]) || item[0] || null;
  };
  const exact = form.elements.namedItem(path);
  if (exact) return pick(exact, null);
  const parts = path.split(".");
  const positions = parts.filter((p) => /^\d+$/.test(p)).map(Number);
  const index = positions.length ? positions[positions.length - 1] : null;
  const names = parts.filter((p) => !/^\d+$/.test(p));
  for (const name of [names.join("."), names[names.length - 1]]) {
    const found = name ? form.elements.namedItem(name) : null;
    if (found) return pick(found, index);
  }
  return null;
}

/**
 * Put the API's field errors next to their fields; the rest in the form's alert box.
 * fieldMap: {serverField: controlName} where the names differ (e.g. {body: "keyword"} for a
 * rule about the whole body that one field best answers).
 */
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
    const el = controlFor(form, fieldMap[f.field] || f.field);
    // A business error names its field: show its translation there, not the English text.
    const message = err.code !== "validation_error" && has(`err.${err.code}`) ? t(`err.${err.code}`) : fieldMessage(f.message);
    if (el && isControl(el) && el.type !== "hidden") {
      markField(el, message, { client: false });
      first = first || el;
    } else {
      // "body": a rule about the whole form (e.g. one target shorter than another); a
      // business error's translation needs no field name before it.
      unplaced.push(f.field === "body" || err.code !== "validation_error" ? message : `${f.field}: ${message}`);
    }
  }
  const summary = first !== null ? t("err.form") : errorText(err);
  const alert = h("div", { class: "alert alert-error", role: "alert", tabindex: "-1" }, summary);
  const rest = unplaced.filter((u) => u !== summary);
  if (rest.length) alert.append(h("ul", rest.map((u) => h("li", u))));
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

/**
 * Submitting: check the fields (messages under them; nothing sent while one is wrong), then
 * disable the buttons, run fn, show errors, re-enable. What was typed stays either way.
 */
export async function submitting(form, fn, options) {
  if (!validateForm(form)) return undefined;
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
 * A modal form. onSubmit(values, form) returns a promise; an error is shown in the dialog
 * (fieldMap as for showErrors), what was typed kept; success closes it. Resolves with
 * onSubmit's result, or undefined when cancelled.
 */
export function formDialog({ title, intro, fields = [], submitLabel, danger = false, onSubmit, wide = false, fieldMap }) {
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
      // novalidate: the fields are checked by submitting(), their messages under them.
      const done = await submitting(
        form,
        async () => {
          result = await onSubmit(formValues(form), form);
          return true;
        },
        { fieldMap },
      );
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

/** The status: a filled pill with a dot in the status colour. */
export function statusBadge(status) {
  return h("span", { class: `badge status status-${status}` }, h("span", { class: "status-dot", "aria-hidden": "true" }), statusLabel(status));
}

/** The priority: an outlined tag with a level mark (arrows), so it never reads as a status. */
export function priorityBadge(code, name) {
  return h("span", { class: `badge prio prio-${code}`, title: `${t("tickets.priority")}: ${name || code}` }, h("span", { class: "prio-mark", "aria-hidden": "true" }), name || code);
}

export function activeBadge(active) {
  return h("span", { class: ["badge", active ? "badge-ok" : "badge-muted"] }, active ? t("common.active") : t("common.inactive"));
}

// -- the office's time zone ---------------------------------------------------------------
//
// Times are shown as the office reads them (its working hours, its SLA deadlines), wherever
// the browser is; a time shown in a browser whose clock differs names the zone ("14.05 WIB").
// The zone is the tickets service's setting (GET /api/tickets/office-hours), read by app.js
// after sign-in; until then, and if it cannot be read, the default below.

export const DEFAULT_OFFICE_TIME_ZONE = "Asia/Jakarta";
const ZONE_LABELS = { "Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT" };
let officeZone = DEFAULT_OFFICE_TIME_ZONE;
const formatters = new Map();

export const officeTimeZone = () => officeZone;

/** The name Indonesians use for a zone ("WIB"), else the zone's id as it is. */
export const zoneLabel = (zone) => ZONE_LABELS[zone] || zone;

/** Use the office's zone from the server; true when it changed (what is shown needs redrawing). */
export function setOfficeTimeZone(zone) {
  if (!zone || zone === officeZone) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
  } catch {
    return false; // a zone this browser does not know: keep the default
  }
  officeZone = zone;
  formatters.clear();
  return true;
}

function formatter(options) {
  const key = `${locale()}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale(), options);
    formatters.set(key, f);
  }
  return f;
}

/** Minutes the office's clock is ahead of UTC at this instant. */
function officeOffsetMinutes(date) {
  const parts = {};
  for (const p of formatter({ timeZone: officeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" }).formatToParts(date)) {
    parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute);
  return Math.round((asUtc - Math.floor(date.getTime() / 60000) * 60000) / 60000);
}

/** " WIB" when the browser's clock differs from the office's at this instant, else "". */
function zoneSuffix(date) {
  if (officeOffsetMinutes(date) === -date.getTimezoneOffset()) return "";
  const label = ZONE_LABELS[officeZone] || formatter({ timeZone: officeZone, timeZoneName: "short" }).formatToParts(date).find((p) => p.type === "timeZoneName")?.value;
  return label ? ` ${label}` : "";
}

/** A date and time in the office's zone ("12 Mei 2025, 14.05", "… 14.05 WIB" elsewhere). */
export function fmtDateTime(value) {
  if (!value) return t("common.none");
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return formatter({ dateStyle: "medium", timeStyle: "short", timeZone: officeZone }).format(d) + zoneSuffix(d);
}

/** A time of day in the office's zone ("14.05", with seconds "14.05.09"; the zone named elsewhere). */
export function fmtTime(value, { seconds = false } = {}) {
  if (!value) return t("common.none");
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return formatter({ timeStyle: seconds ? "medium" : "short", timeZone: officeZone }).format(d) + zoneSuffix(d);
}

/** A day: "YYYY-MM-DD" is a calendar day as it is (office-local already); an instant, its office-local day. */
export function fmtDate(value) {
  if (!value) return t("common.none");
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return formatter({ dateStyle: "medium", timeZone: "UTC" }).format(new Date(`${value}T00:00:00Z`));
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return formatter({ dateStyle: "medium", timeZone: officeZone }).format(d);
}

/** The instant an office-local day ("YYYY-MM-DD") starts, in ISO 8601 ("2026-03-02T00:00:00+07:00"). */
export function officeDayStart(day) {
  // How far the office is ahead of UTC at the day's noon: no zone moves its clock by half a day.
  const ahead = officeOffsetMinutes(new Date(`${day}T12:00:00Z`));
  const abs = Math.abs(ahead);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  return `${day}T00:00:00${ahead < 0 ? "-" : "+"}${hhmm}`;
}

/** Today in the office's zone, as "YYYY-MM-DD" (what a date filter's "today" means). */
export function officeToday() {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-GB", { timeZone: officeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date())) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}`;
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
