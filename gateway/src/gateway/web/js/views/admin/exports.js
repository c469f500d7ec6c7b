// Exports and privacy (#/admin/exports): which roles may export personal data (the contact
// person's name, phone and e-mail: UU PDP), and the log of every ticket export.

import { api } from "../../api.js";
import { h, replace, uniqueId } from "../../dom.js";
import { has, lang, roleLabel, statusLabel, t } from "../../i18n.js";
import * as store from "../../store.js";
import { cursorList, errorBox, fmtDate, fmtDateTime, loading, submitting, table, timeEl, toast } from "../../ui.js";

const X = "/api/tickets/exports";
const ROLES = ["agent", "leader", "admin", "requester"];
const PAGE = 50;

function policyForm(policy, reload) {
  const allowed = new Set(policy.contact_roles || []);
  const roles = [...ROLES, ...(policy.contact_roles || []).filter((r) => !ROLES.includes(r))];
  const ids = roles.map((role) => uniqueId(`role-${role}`));
  // The group's error slot: showErrors looks for "<the first box's id>-err".
  const errId = `${ids[0]}-err`;
  const boxes = roles.map((role, i) => {
    const id = ids[i];
    return h(
      "li",
      { class: "field-check" },
      h("input", { type: "checkbox", id, name: "contact_roles", value: role, checked: allowed.has(role), "aria-describedby": errId }),
      h("label", { for: id }, roleLabel(role)),
    );
  });
  const form = h(
    "form",
    { class: "card form-card policy-form", novalidate: true },
    h("h2", t("exports.policy")),
    h("p", { class: "muted" }, t("exports.policy_intro")),
    h("div", { class: "form-alert" }),
    h("fieldset", h("legend", t("exports.contact_roles")), h("ul", { class: "check-list" }, boxes), h("p", { class: "field-error", id: errId, hidden: true })),
    policy.updated_at
      ? h(
          "p",
          { class: "hint" },
          policy.updated_by_name
            ? t("exports.policy_saved_at", { when: fmtDateTime(policy.updated_at), who: policy.updated_by_name })
            : t("exports.policy_saved_at_default", { when: fmtDateTime(policy.updated_at) }),
        )
      : null,
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("common.save"))),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const contact_roles = Array.from(form.querySelectorAll("input[name=contact_roles]:checked")).map((b) => b.value);
    const body = { contact_roles };
    if (policy.version !== undefined) body.version = policy.version;
    const saved = await submitting(form, () => api(`${X}/policy`, { method: "PUT", body }));
    if (saved) {
      toast(t("common.saved"));
      reload();
    }
  });
  return form;
}

/** Names for the ids and codes an export's filters hold (what the list's filters showed). */
async function filterNames() {
  const [units, categories, priorities, agents] = await Promise.all([
    store.units().catch(() => []),
    store.categories({ all: true }).catch(() => []),
    store.priorities().catch(() => []),
    store.agents().catch(() => []),
  ]);
  const byId = (items, key = "id", name = "name") => new Map(items.map((i) => [String(i[key]), i[name]]));
  const names = {
    unit_id: byId(units),
    category_id: byId(categories),
    priority: byId(priorities, "code"),
    assignee: new Map([["me", t("tickets.assignee_me")], ["none", t("tickets.assignee_none")], ...byId(agents, "id", "full_name")]),
  };
  return (key, value) => {
    if (key === "status") return String(value).split(",").map(statusLabel).join(", ");
    if (key === "sort") return has(`tickets.sort.${value}`) ? t(`tickets.sort.${value}`) : String(value);
    if (key === "overdue") return value === true || value === "true" ? t("common.yes") : t("common.no");
    if (key === "created_from" || key === "created_to") return fmtDate(String(value));
    return names[key]?.get(String(value)) || String(value);
  };
}

function summariseFilters(filters, nameOf) {
  const entries = Object.entries(filters || {}).filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length));
  if (!entries.length) return h("span", { class: "muted" }, t("exports.no_filters"));
  return h(
    "ul",
    { class: "changes compact" },
    entries.map(([k, v]) =>
      h("li", h("span", { class: "muted" }, `${has(`exports.filter.${k}`) ? t(`exports.filter.${k}`) : k}: `), Array.isArray(v) ? v.map((x) => nameOf(k, x)).join(", ") : nameOf(k, v)),
    ),
  );
}

function statusBadge(status) {
  const kind = status === "completed" || status === "done" || status === "ok" ? "badge-ok" : status === "failed" ? "delivery-failed" : "badge-muted";
  return h("span", { class: ["badge", kind] }, has(`exports.status.${status}`) ? t(`exports.status.${status}`) : status);
}

async function exportsSection({ el, isCurrent }) {
  const policyBox = h("div", loading());
  const logBox = h("section", { class: "export-log", "aria-labelledby": "export-log-title" }, h("h2", { id: "export-log-title" }, t("exports.log")), h("p", { class: "muted" }, t("exports.log_intro")));
  el.append(policyBox, logBox);

  async function loadPolicy() {
    try {
      const policy = await api(`${X}/policy`);
      if (!isCurrent()) return;
      replace(policyBox, policyForm(policy, loadPolicy));
    } catch (err) {
      replace(policyBox, errorBox(err));
    }
  }

  const [nameOf, columnList] = await Promise.all([filterNames(), api(`${X}/columns`, { query: { lang: lang() } }).catch(() => [])]);
  const columnLabels = new Map(columnList.map((c) => [c.key, c.label]));
  const columns = [t("exports.col.when"), t("exports.col.user"), t("exports.col.filters"), t("exports.col.columns"), t("exports.col.rows"), t("common.status")];
  const list = cursorList({
    isCurrent,
    fetchPage: (cursor) => api(`${X}/log`, { query: { cursor, limit: PAGE } }),
    render: (items) =>
      table({
        caption: t("exports.log"),
        columns,
        empty: t("exports.log_empty"),
        className: "export-log-table",
        rows: items.map((e) => [
          timeEl(e.started_at, fmtDateTime(e.started_at)),
          [h("div", e.user_name), h("small", { class: "muted" }, roleLabel(e.user_role))],
          summariseFilters(e.filters, nameOf),
          h("span", { class: "column-names", title: (e.columns || []).join(", ") }, (e.columns || []).map((k) => columnLabels.get(k) || k).join(", ")),
          e.row_count === null || e.row_count === undefined ? t("common.none") : String(e.row_count),
          statusBadge(e.status),
        ]),
      }),
  });
  logBox.append(list.el);
  await Promise.all([loadPolicy(), list.load()]);
}

export const sections = { exports: exportsSection };
