// The form of a scheduled report: what (report, layout, filters from the dashboard's
// dimension lists), how often, in which language, and to whom (people from the directory).

import { ApiError, api } from "../../api.js";
import { h, uniqueId } from "../../dom.js";
import { roleLabel, t } from "../../i18n.js";
import { navigate } from "../../nav.js";
import * as store from "../../store.js";
import { field, formValues, showErrors, submitting, toast, validateForm } from "../../ui.js";
import { channelLabel } from "../dashboard/format.js";

export const SCHEDULES = "/api/reports/schedules";
export const REPORTS = ["full", "summary", "trend", "breakdown", "completed"];
const CADENCES = ["weekly", "monthly"];
const GROUPS = ["day", "week", "month"];
const DIMENSIONS = ["unit", "category", "priority", "channel", "agent"];
const FILTERS = ["unit_id", "category_id", "priority", "agent_id", "channel"];
const MAX_RECIPIENTS = 20;
const NO_DIMENSIONS = { units: [], categories: [], priorities: [], channels: [], agents: [] };

/** A list answer as a page: the API pages with cursors; a plain array is one whole page. */
export function asPage(answer) {
  return Array.isArray(answer) ? { items: answer, next_cursor: null } : answer;
}

export const reportLabel = (report) => t(`sched.report.${report}`);
export const cadenceLabel = (cadence) => t(`sched.cadence.${cadence}`);

function choices(items, value, none) {
  const list = items.map((i) => ({ value: i.id, label: i.name }));
  // A filter whose value left the lists (a unit deactivated since): kept, named as unknown.
  if (value && !list.some((o) => String(o.value) === String(value))) list.push({ value, label: t("dash.unknown") });
  return [{ value: "", label: none }, ...list];
}

/** The recipients: a searchable checkbox list of the people reports may be sent to. */
function recipientPicker(people, chosen) {
  const selected = new Set(chosen);
  const ids = people.map(() => uniqueId("rcpt"));
  const count = h("span", { class: "badge badge-info recipient-count", "aria-live": "polite" });
  const search = h("input", { type: "search", class: "recipient-search", placeholder: t("sched.recipients_search"), "aria-label": t("sched.recipients_search") });
  const items = people.map((p, i) =>
    h(
      "li",
      { class: "recipient", dataset: { user: p.id, search: `${p.full_name} ${p.email || ""} ${roleLabel(p.role)}`.toLowerCase() } },
      h("input", { type: "checkbox", id: ids[i], name: "recipient_ids", value: p.id, checked: selected.has(p.id) }),
      h("label", { for: ids[i] }, h("span", { class: "recipient-name" }, p.full_name), h("small", { class: "muted" }, [roleLabel(p.role), p.email].filter(Boolean).join(" · "))),
    ),
  );
  const list = h("ul", { class: "recipient-list" }, items);
  const empty = h("p", { class: "empty", hidden: true }, t("sched.recipients_none_match"));
  function paintCount() {
    const n = list.querySelectorAll("input:checked").length;
    count.textContent = t("sched.recipients_count", { n, max: MAX_RECIPIENTS });
  }
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    for (const item of items) {
      item.hidden = Boolean(q) && !item.dataset.search.includes(q);
      if (!item.hidden) shown += 1;
    }
    empty.hidden = shown > 0;
  });
  list.addEventListener("change", paintCount);
  paintCount();
  const errId = ids.length ? `${ids[0]}-err` : uniqueId("rcpt-err");
  return h(
    "fieldset",
    { class: "recipients" },
    h("legend", t("sched.recipients"), h("span", { class: "req", "aria-hidden": "true" }, " *")),
    h("p", { class: "hint" }, t("sched.recipients_hint")),
    h("div", { class: "recipient-tools" }, search, count),
    people.length ? list : h("p", { class: "empty" }, t("sched.recipients_empty")),
    empty,
    h("p", { class: "field-error", id: errId, hidden: true }),
  );
}

/** Server field names ("filters.unit_id", "recipient_ids.3") as the form's control names. */
function normalised(err) {
  // The ticket's words for a stale version do not fit a schedule.
  if (err.code === "version_mismatch") err.code = "schedule_changed";
  if (!err.fields?.length) return err;
  err.fields = err.fields.map((f) => ({ ...f, field: f.field.replace(/^(recipient_ids)\.\d+$/, "$1") }));
  return err;
}

function invalid(fields) {
  return new ApiError({ status: 422, code: "validation_error", message: t("err.form"), fields });
}

/** scheduleForm({schedule}) -> the form (a new schedule when `schedule` is null). */
export async function scheduleForm({ schedule }) {
  const [dimensions, people] = await Promise.all([
    api("/api/reports/dimensions").catch(() => NO_DIMENSIONS),
    api(`${SCHEDULES}/recipients`),
  ]);
  const me = store.state.me;
  const s = schedule || {
    name: "",
    report: "full",
    cadence: "monthly",
    filters: {},
    options: { by: "unit" },
    recipient_ids: people.some((p) => p.id === me.id) ? [me.id] : [],
    language: me.language === "en" ? "en" : "id",
    is_active: true,
  };
  const filters = s.filters || {};
  const options = s.options || {};
  const channels = (dimensions.channels || []).map((c) => ({ id: c.id, name: channelLabel(c.id) }));
  const all = t("common.all");

  const groupField = field({
    name: "options.group_by",
    label: t("dash.group_by"),
    value: options.group_by || "",
    options: [{ value: "", label: t("sched.group_auto") }, ...GROUPS.map((g) => ({ value: g, label: t(`dash.group.${g}`) }))],
  });
  const byField = field({
    name: "options.by",
    label: t("sched.by"),
    value: options.by || "unit",
    options: DIMENSIONS.map((d) => ({ value: d, label: t(`sched.by.${d}`) })),
  });

  const form = h(
    "form",
    { class: "card form-card schedule-form", novalidate: true },
    h("div", { class: "form-alert" }),
    field({ name: "name", label: t("sched.name"), value: s.name, required: true, hint: t("sched.name_hint"), attrs: { maxlength: 120 } }),
    h(
      "div",
      { class: "grid-2" },
      field({ name: "report", label: t("sched.report"), value: s.report, required: true, options: REPORTS.map((r) => ({ value: r, label: reportLabel(r) })) }),
      field({ name: "cadence", label: t("sched.cadence"), value: s.cadence, required: true, hint: t("sched.cadence_hint"), options: CADENCES.map((c) => ({ value: c, label: cadenceLabel(c) })) }),
    ),
    h("div", { class: "grid-2" }, groupField, byField),
    h(
      "fieldset",
      h("legend", t("sched.filters")),
      h(
        "div",
        { class: "grid-3" },
        field({ name: "filters.unit_id", label: t("dash.unit"), value: filters.unit_id, options: choices(dimensions.units || [], filters.unit_id, all) }),
        field({ name: "filters.category_id", label: t("dash.category"), value: filters.category_id, options: choices(dimensions.categories || [], filters.category_id, all) }),
        field({ name: "filters.priority", label: t("dash.priority"), value: filters.priority, options: choices(dimensions.priorities || [], filters.priority, all) }),
        field({ name: "filters.agent_id", label: t("dash.agent"), value: filters.agent_id, options: choices(dimensions.agents || [], filters.agent_id, all) }),
        field({ name: "filters.channel", label: t("dash.channel"), value: filters.channel, options: choices(channels, filters.channel, all) }),
      ),
    ),
    recipientPicker(people, s.recipient_ids || []),
    h(
      "div",
      { class: "grid-2" },
      field({ name: "language", label: t("sched.language"), value: s.language, options: ["id", "en"].map((l) => ({ value: l, label: t(`common.lang.${l}`) })) }),
      field({ name: "is_active", label: t("sched.active"), type: "checkbox", value: s.is_active, hint: t("sched.active_hint") }),
    ),
    h(
      "div",
      { class: "form-actions" },
      h("a", { class: "btn", href: "#/schedules" }, t("common.cancel")),
      h("button", { type: "submit", class: "btn btn-primary" }, schedule ? t("common.save") : t("sched.create")),
    ),
  );

  // Only the report's own layout choice is shown: the trend's grouping, the breakdown's dimension.
  const reportSelect = form.elements.namedItem("report");
  function paintOptions() {
    const report = reportSelect.value;
    groupField.hidden = !(report === "trend" || report === "full");
    byField.hidden = report !== "breakdown";
  }
  reportSelect.addEventListener("change", paintOptions);
  paintOptions();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = formValues(form);
    const recipients = Array.from(form.querySelectorAll("input[name=recipient_ids]:checked")).map((b) => b.value);
    // What the server would refuse, said under the fields before asking it: the recipients
    // (a group of boxes the browser cannot check), then the fields' own checks.
    const problems = [];
    if (!recipients.length) problems.push({ field: "recipient_ids", message: t("sched.err.no_recipients") });
    else if (recipients.length > MAX_RECIPIENTS) problems.push({ field: "recipient_ids", message: t("sched.err.too_many", { max: MAX_RECIPIENTS }) });
    if (problems.length) showErrors(form, invalid(problems));
    const fieldsPass = validateForm(form);
    if (problems.length || !fieldsPass) return;
    const body = {
      name: v.name,
      report: v.report,
      cadence: v.cadence,
      filters: Object.fromEntries(FILTERS.map((k) => [k, v[`filters.${k}`] || null])),
      options: {
        group_by: v.report === "trend" || v.report === "full" ? v["options.group_by"] || null : null,
        by: v["options.by"] || "unit",
      },
      recipient_ids: recipients,
      language: v.language,
      is_active: Boolean(v.is_active),
    };
    const saved = await submitting(form, async () => {
      try {
        if (schedule) return await api(`${SCHEDULES}/${schedule.id}`, { method: "PATCH", body: { ...body, version: schedule.version } });
        return await api(SCHEDULES, { method: "POST", body });
      } catch (err) {
        throw normalised(err);
      }
    });
    if (saved) {
      toast(schedule ? t("common.saved") : t("sched.created", { name: saved.name }));
      navigate("/schedules");
    }
  });
  return form;
}
