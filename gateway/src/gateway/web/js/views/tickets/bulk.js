// Bulk actions on the ticket list (agents and admins): the bar that appears while tickets are
// selected (assign to an officer, change the priority, close), and the dialog that reports
// each ticket's outcome (POST /tickets/bulk answers one result per ticket).

import { api } from "../../api.js";
import { h, uniqueId } from "../../dom.js";
import { statusLabel, t } from "../../i18n.js";
import { errorText, field, formDialog, infoDialog, toast } from "../../ui.js";

const BULK = "/api/tickets/tickets/bulk";

function resultItem(result) {
  const label = result.number || result.id || t("queues.result_unknown");
  const what = result.ok
    ? t("queues.result_status", { status: statusLabel(result.status) })
    : errorText({ code: result.error?.code, message: result.error?.message });
  return h(
    "li",
    { class: ["bulk-result", result.ok ? "is-ok" : "is-failed"], dataset: { ticket: result.id, ok: String(result.ok) } },
    h("span", { class: ["badge", result.ok ? "badge-ok" : "badge-failed"] }, t(result.ok ? "queues.result_ok" : "queues.result_failed")),
    result.number ? h("a", { class: "ticket-number", href: `#/tickets/${encodeURIComponent(result.id)}` }, label) : h("span", { class: "ticket-number" }, label),
    h("span", { class: "bulk-result-text" }, what),
  );
}

/** The outcome of each ticket, failures first (those need a look). */
export function showResults(results) {
  const ok = results.filter((r) => r.ok).length;
  const failed = results.length - ok;
  const ordered = [...results.filter((r) => !r.ok), ...results.filter((r) => r.ok)];
  infoDialog({
    title: failed ? t("queues.result_title", { ok, failed }) : t("queues.result_title_ok", { ok }),
    body: h("ul", { class: "bulk-results" }, ordered.map(resultItem)),
  });
}

/**
 * bulkBar({agents, priorities, selected(), onDone(results)}) -> {el, update(n)}
 * selected() gives the chosen tickets as [{id, number, version}].
 */
export function bulkBar({ agents, priorities, selected, onClear, onDone }) {
  const count = h("strong", { class: "bulk-count", role: "status" });
  const agentId = uniqueId("bulk-agent");
  const priorityId = uniqueId("bulk-priority");
  const agentSelect = h(
    "select",
    { id: agentId, name: "assignee_id" },
    h("option", { value: "" }, t("queues.bulk_agent_choose")),
    agents.map((a) => h("option", { value: a.id }, a.full_name)),
  );
  const prioritySelect = h(
    "select",
    { id: priorityId, name: "priority" },
    h("option", { value: "" }, t("queues.bulk_priority_choose")),
    priorities.filter((p) => p.is_active !== false).map((p) => h("option", { value: p.code }, p.name)),
  );
  const assign = h("button", { type: "button", class: "btn btn-primary btn-small", dataset: { action: "bulk-assign" } }, t("queues.bulk_assign"));
  const setPriority = h("button", { type: "button", class: "btn btn-small", dataset: { action: "bulk-priority" } }, t("queues.bulk_set_priority"));
  const close = h("button", { type: "button", class: "btn btn-small", dataset: { action: "bulk-close" } }, t("queues.bulk_close"));
  const clear = h("button", { type: "button", class: "btn btn-small btn-ghost", dataset: { action: "bulk-clear" } }, t("queues.bulk_clear"));
  const el = h(
    "section",
    { class: "bulk-bar", "aria-label": t("queues.bulk"), hidden: true },
    count,
    h("div", { class: "bulk-group" }, h("label", { for: agentId, class: "visually-hidden" }, t("queues.bulk_agent")), agentSelect, assign),
    h("div", { class: "bulk-group" }, h("label", { for: priorityId, class: "visually-hidden" }, t("queues.bulk_priority")), prioritySelect, setPriority),
    h("div", { class: "bulk-group" }, close, clear),
  );
  const buttons = [assign, setPriority, close, clear];

  async function send(body) {
    const tickets = selected().map((tk) => ({ id: tk.id, version: tk.version }));
    const { results } = await api(BULK, { method: "POST", body: { ...body, tickets } });
    return results;
  }

  async function finish(results) {
    showResults(results);
    await onDone(results);
  }

  async function run(body) {
    buttons.forEach((b) => (b.disabled = true));
    count.textContent = t("queues.bulk_busy", { n: selected().length });
    try {
      await finish(await send(body));
    } catch (err) {
      toast(errorText(err), "error");
    } finally {
      buttons.forEach((b) => (b.disabled = false));
      update(selected().length);
    }
  }

  assign.addEventListener("click", () => {
    if (!agentSelect.value) return toast(t("queues.bulk_choose_first"), "error");
    run({ action: "assign", assignee_id: agentSelect.value });
  });
  setPriority.addEventListener("click", () => {
    if (!prioritySelect.value) return toast(t("queues.bulk_choose_first"), "error");
    run({ action: "priority", priority: prioritySelect.value });
  });
  close.addEventListener("click", async () => {
    const n = selected().length;
    // Sent from the dialog, so that a refused reason is shown at its field.
    const results = await formDialog({
      title: t("queues.bulk_close_title", { n }),
      intro: t("queues.bulk_close_intro"),
      fields: [field({ name: "reason", label: t("queues.bulk_reason"), textarea: true, rows: 2, attrs: { maxlength: 2000 } })],
      submitLabel: t("queues.bulk_close"),
      onSubmit: (values) => send({ action: "close", ...(values.reason ? { reason: values.reason } : {}) }),
    });
    if (results) await finish(results);
  });
  clear.addEventListener("click", onClear);

  function update(n) {
    el.hidden = n === 0;
    count.textContent = t("queues.selected", { n });
  }
  return { el, update };
}
