// Who hears of a new ticket (#/admin/triage): every active agent, or a triage group whose
// members each have optional duty hours (weekdays, from-to, in the office time zone).

import { api } from "../../api.js";
import { h, replace, uniqueId } from "../../dom.js";
import { roleLabel, t } from "../../i18n.js";
import { errorBox, fmtDateTime, loading, submitting, toast, zoneLabel } from "../../ui.js";

const PATH = "/api/notifications/notifications/triage";
const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7];
const OFFICE_DAYS = [1, 2, 3, 4, 5];

const hhmm = (value) => String(value || "").slice(0, 5);

/** An error slot for a control, found by showErrors() through `${control.id}-err`. */
function errorSlot(control) {
  return h("p", { class: "field-error", id: `${control.id}-err`, hidden: true });
}

function memberRow(member, index, { names, onRemove }) {
  const base = `members.${index}`;
  const person = names.get(member.user_id);
  const name = person ? person.full_name : member.full_name || t("triage.unknown_member");
  const hidden = h("input", { type: "hidden", name: `${base}.user_id`, value: member.user_id, id: uniqueId("triage-user") });
  const hasDuty = h("input", { type: "checkbox", id: uniqueId("triage-duty"), checked: Boolean(member.duty) });
  const days = new Set(member.duty?.weekdays ?? OFFICE_DAYS);
  const dayBoxes = WEEKDAYS.map((d) => h("input", { type: "checkbox", name: `${base}.duty.weekdays`, value: String(d), id: uniqueId(`triage-day${d}`), checked: days.has(d) }));
  const from = h("input", { type: "time", name: `${base}.duty.from`, id: uniqueId("triage-from"), value: hhmm(member.duty?.from) || "08:00", required: true });
  const to = h("input", { type: "time", name: `${base}.duty.to`, id: uniqueId("triage-to"), value: hhmm(member.duty?.to) || "16:00", required: true });
  const duty = h(
    "div",
    { class: "triage-duty", hidden: !member.duty },
    h(
      "fieldset",
      { class: "triage-days" },
      h("legend", t("triage.weekdays")),
      dayBoxes.map((box, i) => h("label", { class: "triage-day" }, box, h("span", t(`triage.weekday.${WEEKDAYS[i]}`)))),
      errorSlot(dayBoxes[0]),
    ),
    h("div", { class: "field compact" }, h("label", { for: from.id }, t("triage.from")), from, errorSlot(from)),
    h("div", { class: "field compact" }, h("label", { for: to.id }, t("triage.to")), to, errorSlot(to)),
  );
  hasDuty.addEventListener("change", () => {
    duty.hidden = !hasDuty.checked;
  });
  // Known for saved members only (a member just added or edited shows no state yet).
  let state = member.duty ? null : t("triage.always");
  if (member.duty && "on_duty_now" in member) state = member.on_duty_now ? t("triage.on_duty") : t("triage.off_duty");
  const remove = h("button", { type: "button", class: "btn btn-small", "aria-label": t("triage.remove", { name }) }, t("common.delete"));
  remove.addEventListener("click", onRemove);
  return h(
    "li",
    { class: "triage-member", dataset: { userId: member.user_id } },
    h(
      "div",
      { class: "triage-member-head" },
      h("div", h("strong", name), " ", h("span", { class: "muted" }, person ? roleLabel(person.role) : ""), " ", state ? h("span", { class: ["badge", member.on_duty_now === false ? "badge-muted" : "badge-ok"] }, state) : null),
      remove,
    ),
    hidden,
    errorSlot(hidden),
    h("div", { class: "field-check" }, hasDuty, h("label", { for: hasDuty.id }, t("triage.has_duty"))),
    duty,
  );
}

/** The members as the form holds them now (to send, or to redraw after an add/remove). */
function membersOf(form) {
  return [...form.querySelectorAll(".triage-member")].map((li) => {
    const user_id = li.dataset.userId;
    const dutyOn = li.querySelector(".field-check input").checked;
    if (!dutyOn) return { user_id, duty: null };
    const weekdays = [...li.querySelectorAll(".triage-days input:checked")].map((box) => Number(box.value));
    return {
      user_id,
      duty: { weekdays, from: li.querySelector('input[type="time"][name$=".from"]').value, to: li.querySelector('input[type="time"][name$=".to"]').value },
    };
  });
}

function renderForm(box, data) {
  const names = new Map(data.candidates.map((c) => [c.user_id, c]));
  for (const m of data.members) if (!names.has(m.user_id) && m.full_name) names.set(m.user_id, { full_name: m.full_name, role: m.role });
  let members = data.members.map((m) => ({ ...m }));

  const modeName = uniqueId("triage-mode");
  const modes = ["all_agents", "triage_group"].map((mode) => {
    const input = h("input", { type: "radio", name: "mode", value: mode, id: `${modeName}-${mode}`, checked: data.mode === mode });
    return h("div", { class: "field-check" }, input, h("label", { for: input.id }, t(`triage.mode.${mode}`)));
  });
  const list = h("ul", { class: "triage-members" });
  const listError = h("p", { class: "field-error", id: "triage-members-err", hidden: true });
  const membersAnchor = h("input", { type: "hidden", name: "members", id: "triage-members" });
  const picker = h("select", { "aria-label": t("triage.add") });
  const add = h("button", { type: "button", class: "btn" }, t("triage.add"));
  const group = h(
    "section",
    { class: "triage-group", "aria-labelledby": "triage-members-title" },
    h("h2", { id: "triage-members-title" }, t("triage.members")),
    h("p", { class: "muted" }, t("triage.mode_hint.triage_group"), " ", t("triage.timezone", { zone: zoneLabel(data.timezone) })),
    membersAnchor,
    listError,
    list,
    h("div", { class: "toolbar triage-add" }, picker, add),
  );
  const alerted = data.alerted_now.map((id) => names.get(id)?.full_name).filter(Boolean);
  const form = h(
    "form",
    { class: "card form-card triage-form", novalidate: true },
    h("p", { class: "muted" }, t("triage.intro")),
    data.revision ? h("p", { class: "muted small" }, t("triage.updated", { when: fmtDateTime(data.updated_at), rev: data.revision })) : null,
    h("div", { class: "form-alert" }),
    h("fieldset", { class: "triage-modes" }, h("legend", t("triage.mode")), modes),
    group,
    data.mode === "triage_group" && alerted.length ? h("p", { class: "alert alert-info" }, t("triage.alerted_now", { names: alerted.join(", ") })) : null,
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("common.save"))),
  );

  function draw() {
    const taken = new Set(members.map((m) => m.user_id));
    replace(
      list,
      members.length
        ? members.map((m, i) =>
            memberRow(m, i, {
              names,
              onRemove: () => {
                members = membersOf(form).filter((_, j) => j !== i);
                draw();
              },
            }),
          )
        : h("li", { class: "empty" }, t("triage.no_members")),
    );
    replace(
      picker,
      h("option", { value: "" }, t("triage.choose")),
      data.candidates.filter((c) => !taken.has(c.user_id)).map((c) => h("option", { value: c.user_id }, `${c.full_name} (${roleLabel(c.role)})`)),
    );
    add.disabled = picker.options.length <= 1;
  }
  const syncMode = () => {
    group.hidden = form.elements.mode.value !== "triage_group";
  };
  add.addEventListener("click", () => {
    if (!picker.value) return picker.focus();
    members = [...membersOf(form), { user_id: picker.value, duty: null }];
    draw();
  });
  for (const radio of form.querySelectorAll('input[name="mode"]')) radio.addEventListener("change", syncMode);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const mode = form.elements.mode.value;
    const body = { mode, members: mode === "triage_group" ? membersOf(form) : [] };
    // The duty fields are named after the API's fields (members.0.duty.to, ...) so that its
    // 422s land next to them.
    const saved = await submitting(form, () => api(PATH, { method: "PUT", body }));
    if (saved) {
      toast(t("triage.saved"));
      renderForm(box, saved);
    }
  });
  draw();
  syncMode();
  replace(box, form);
}

async function triage({ el }) {
  const box = h("div", loading());
  el.append(box);
  try {
    renderForm(box, await api(PATH));
  } catch (err) {
    replace(box, errorBox(err));
  }
}

export const sections = { triage };
