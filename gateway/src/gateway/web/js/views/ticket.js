// One ticket (#/tickets/<id or number>): fields, SLA, its files (ticket/attachments.js), the
// timeline (comments, status changes, assignments, files), the comment box and the actions
// the API allows this user right now.
// Every change sends If-Match with the ticket's version; 409/412 reloads it.

import { api, ifMatch } from "../api.js";
import { h, replace } from "../dom.js";
import { downloadButton } from "../download.js";
import { has, lang, roleLabel, statusLabel, t } from "../i18n.js";
import * as store from "../store.js";
import {
  errorBox,
  errorText,
  field,
  fmtDateTime,
  fmtRelative,
  formDialog,
  priorityBadge,
  slaBadge,
  statusBadge,
  submitting,
  timeEl,
  toast,
  formValues,
} from "../ui.js";
import { attachmentsSection, timelineFile } from "./ticket/attachments.js";

const base = (ref) => `/api/tickets/tickets/${encodeURIComponent(ref)}`;

// The order of the action buttons; the API decides which ones this user gets.
const ACTION_ORDER = ["accept", "claim", "assign", "reassign", "pending", "resume", "resolve", "confirm", "reopen", "reject", "close", "edit"];
const PRIMARY = new Set(["accept", "claim", "resolve", "confirm"]);
const DANGER = new Set(["reject"]);

async function detail({ el, segments, isCurrent }) {
  const ref = segments[1];
  let ticket = await api(base(ref));
  if (!isCurrent()) return;
  const [categories, priorities] = await Promise.all([
    store.categories({ all: true }).catch(() => []),
    store.priorities().catch(() => []),
  ]);

  const notices = h("div", { class: "notices", "aria-live": "polite" });
  const head = h("div");
  const actionsBar = h("div", { class: "ticket-actions", role: "group", "aria-label": t("ticket.actions") });
  const side = h("aside", { class: "ticket-side card" });
  const main = h("div", { class: "ticket-main" });
  const timelineList = h("ol", { class: "timeline" });
  const commentArea = h("div");
  const files = attachmentsSection({ ticket, isCurrent, onTimeline: () => loadTimeline() });

  el.append(
    h("p", { class: "breadcrumb" }, h("a", { href: "#/tickets" }, t("app.back_to_tickets"))),
    head,
    notices,
    actionsBar,
    h(
      "div",
      { class: "ticket-layout" },
      main,
      side,
    ),
  );

  function notice(node) {
    replace(notices, node);
  }

  async function reload() {
    ticket = await api(base(ticket.id));
    render();
    await loadTimeline();
  }

  /** Run an action; a conflict (someone changed the ticket) closes the dialog and reloads. */
  async function act(action, request) {
    try {
      ticket = await request();
      notice(null);
      render();
      await loadTimeline();
      toast(t("ticket.done", { action: t(`action.${action}`) }));
      return true;
    } catch (err) {
      if (err.status === 409 || err.status === 412) {
        // 412: someone changed the ticket since it was loaded; 409: the action no longer fits.
        const text = err.status === 412 ? t("ticket.conflict") : `${errorText(err)} ${t("ticket.reloaded")}`;
        notice(h("div", { class: "alert alert-warning", role: "alert" }, text));
        await reload().catch(() => {});
        return true;
      }
      throw err;
    }
  }

  const post = (action, body) => () =>
    api(`${base(ticket.id)}/${action}`, { method: "POST", body: body ?? {}, headers: ifMatch(ticket.version) });

  async function reasonDialog(action, { required = true, hint, name = "reason", label } = {}) {
    await formDialog({
      title: `${t(`action.${action}`)}: ${ticket.number}`,
      fields: [
        field({
          name,
          label: label || (required ? t("action.reason") : t("action.reason_optional")),
          textarea: true,
          rows: 4,
          required,
          hint,
          attrs: { minlength: required ? 3 : null, maxlength: name === "result_summary" ? 10000 : 2000 },
        }),
      ],
      submitLabel: t(`action.${action}`),
      danger: DANGER.has(action),
      onSubmit: (values) => {
        const body = values[name] ? { [name]: values[name] } : {};
        return act(action, post(action, body));
      },
    });
  }

  async function simpleAction(action) {
    const message = has(`action.${action}.confirm`) ? t(`action.${action}.confirm`) : null;
    await formDialog({
      title: `${t(`action.${action}`)}: ${ticket.number}`,
      intro: message,
      submitLabel: t(`action.${action}`),
      onSubmit: () => act(action, post(action)),
    });
  }

  async function assignDialog(action) {
    const agents = await store.agents();
    const options = agents
      .filter((a) => a.id !== ticket.assignee_id)
      .map((a) => ({ value: a.id, label: a.full_name }));
    await formDialog({
      title: `${t(`action.${action}`)}: ${ticket.number}`,
      fields: [
        field({
          name: "assignee_id",
          label: t("action.agent"),
          required: true,
          options: [{ value: "", label: t("new.choose") }, ...options],
        }),
      ],
      submitLabel: t(`action.${action}`),
      // The API has one endpoint for both: /assign.
      onSubmit: (values) => act(action, post("assign", { assignee_id: values.assignee_id })),
    });
  }

  async function editDialog() {
    const active = categories.filter((c) => c.is_active || c.id === ticket.category_id);
    const original = ticket;
    await formDialog({
      title: `${t("action.edit")}: ${ticket.number}`,
      wide: true,
      fields: [
        field({ name: "title", label: t("new.title_label"), value: ticket.title, required: true, attrs: { minlength: 3, maxlength: 200 } }),
        field({ name: "description", label: t("new.description"), value: ticket.description, textarea: true, rows: 6, required: true }),
        h(
          "div",
          { class: "grid-2" },
          field({ name: "category_id", label: t("new.category"), value: ticket.category_id, required: true, options: active.map((c) => ({ value: c.id, label: c.name })) }),
          field({
            name: "priority",
            label: t("new.priority"),
            value: ticket.priority,
            required: true,
            options: priorities.filter((p) => p.is_active || p.code === ticket.priority).map((p) => ({ value: p.code, label: p.name })),
          }),
        ),
        h(
          "div",
          { class: "grid-3" },
          field({ name: "contact_name", label: t("new.contact_name"), value: ticket.contact_name }),
          field({ name: "contact_phone", label: t("new.contact_phone"), type: "tel", value: ticket.contact_phone }),
          field({ name: "contact_email", label: t("new.contact_email"), type: "email", value: ticket.contact_email }),
        ),
      ],
      onSubmit: (values) => {
        const changes = {};
        for (const [key, value] of Object.entries(values)) {
          if ((original[key] ?? null) !== value) changes[key] = value;
        }
        if (!Object.keys(changes).length) return true;
        return act("edit", () => api(base(ticket.id), { method: "PATCH", body: changes, headers: ifMatch(ticket.version) }));
      },
    });
  }

  const HANDLERS = {
    accept: () => simpleAction("accept"),
    claim: () => simpleAction("claim"),
    assign: () => assignDialog("assign"),
    reassign: () => assignDialog("reassign"),
    reject: () => reasonDialog("reject", { hint: t("action.reject.hint") }),
    pending: () => reasonDialog("pending", { hint: t("action.pending.hint") }),
    resume: () => reasonDialog("resume", { required: false }),
    resolve: () => reasonDialog("resolve", { name: "result_summary", label: t("action.result_summary"), hint: t("action.resolve.hint") }),
    confirm: () => simpleAction("confirm"),
    reopen: () => reasonDialog("reopen", { hint: t("action.reopen.hint") }),
    close: () => reasonDialog("close", { required: false }),
    edit: () => editDialog(),
  };

  function render() {
    files.update(ticket);
    document.title = `${ticket.number} · ${t("app.name")}`;
    replace(
      head,
      h(
        "div",
        { class: "page-header ticket-head" },
        h(
          "div",
          h("p", { class: "ticket-number-big" }, ticket.number),
          h("h1", { tabindex: "-1" }, ticket.title),
          h(
            "div",
            { class: "badges" },
            statusBadge(ticket.status),
            priorityBadge(ticket.priority, ticket.priority_name),
            slaBadge(ticket),
            ticket.escalation_level > 0 ? h("span", { class: "badge sla-overdue" }, t("sla.escalated", { n: ticket.escalation_level })) : null,
          ),
        ),
        h(
          "div",
          { class: "ticket-head-actions" },
          documents(),
          h("button", { type: "button", class: "btn", onclick: () => reload().catch((e) => notice(errorBox(e))) }, t("ticket.reload")),
        ),
      ),
    );

    const actions = ACTION_ORDER.filter((a) => ticket.allowed_actions.includes(a));
    replace(
      actionsBar,
      actions.map((a) =>
        h(
          "button",
          {
            type: "button",
            class: ["btn", PRIMARY.has(a) ? "btn-primary" : DANGER.has(a) ? "btn-danger-outline" : null],
            onclick: () => HANDLERS[a]().catch((e) => notice(errorBox(e))),
          },
          t(`action.${a}`),
        ),
      ),
      !ticket.allowed_actions.length ? h("p", { class: "muted" }, t("ticket.readonly")) : null,
    );

    const row = (label, value) => [h("dt", label), h("dd", value ?? t("common.none"))];
    const contact = [ticket.contact_name, ticket.contact_phone, ticket.contact_email].filter(Boolean);
    replace(
      side,
      h("h2", t("ticket.details")),
      h(
        "dl",
        { class: "details" },
        row(t("common.status"), statusBadge(ticket.status)),
        ticket.status_reason ? row(t("ticket.status_reason"), ticket.status_reason) : null,
        row(t("tickets.priority"), [ticket.priority_name, " ", h("span", { class: "muted" }, `(${priorityText(ticket.priority_source)})`)]),
        row(t("tickets.category"), ticket.category_name),
        row(t("tickets.unit"), ticket.unit_name),
        row(t("ticket.requester"), ticket.requester_name),
        ticket.created_by_id !== ticket.requester_id ? row(t("ticket.created_by"), ticket.created_by_name) : null,
        row(t("ticket.contact"), contact.length ? contact.map((c, i) => [i ? h("br") : null, c]) : null),
        row(t("ticket.assignee"), ticket.assignee_name || h("span", { class: "muted" }, t("tickets.unassigned"))),
        row(t("ticket.created_at"), timeEl(ticket.created_at)),
        row(t("ticket.first_response_due"), dueValue(ticket.first_response_due_at, ticket.first_response_at, ticket.first_response_breached)),
        ticket.first_response_at ? row(t("ticket.first_response_at"), timeEl(ticket.first_response_at)) : null,
        row(t("ticket.resolution_due"), ticket.sla_paused ? [dueValue(ticket.resolution_due_at, ticket.resolved_at, ticket.resolution_breached), " ", h("span", { class: "badge sla-paused" }, t("sla.paused"))] : dueValue(ticket.resolution_due_at, ticket.resolved_at, ticket.resolution_breached)),
        ticket.resolved_at ? row(t("ticket.resolved_at"), timeEl(ticket.resolved_at)) : null,
        ticket.closed_at ? row(t("ticket.closed_at"), timeEl(ticket.closed_at)) : null,
        ticket.reopen_count ? row(t("ticket.reopen_count"), `${ticket.reopen_count}×`) : null,
        row(t("ticket.channel"), ticket.channel),
        row(t("ticket.updated_at"), timeEl(ticket.updated_at, fmtRelative(ticket.updated_at))),
      ),
    );

    replace(
      main,
      h("section", { class: "card" }, h("h2", t("ticket.description")), h("p", { class: "prewrap" }, ticket.description)),
      ticket.result_summary
        ? h("section", { class: "card result" }, h("h2", t("ticket.result_summary")), h("p", { class: "prewrap" }, ticket.result_summary))
        : null,
      files.el,
      h("section", { class: "card", "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title" }, t("ticket.timeline")), timelineList, commentArea),
    );
    renderCommentBox();
  }

  /** The ticket's documents: the submission form always, the berita acara once resolved. */
  function documents() {
    const docs = `${base(ticket.id)}/documents`;
    const finished = ticket.status === "resolved" || (ticket.status === "closed" && Boolean(ticket.result_summary));
    const onError = (err) => notice(errorBox(err));
    return h(
      "div",
      { class: "ticket-docs", role: "group", "aria-label": t("ticket.documents") },
      downloadButton({
        label: t("ticket.doc.form"),
        dataset: { doc: "submission-form" },
        path: `${docs}/submission-form.pdf`,
        query: () => ({ lang: lang() }),
        onError,
      }),
      finished
        ? downloadButton({
            label: t("ticket.doc.berita_acara"),
            dataset: { doc: "berita-acara" },
            path: `${docs}/berita-acara.pdf`,
            query: () => ({ lang: lang() }),
            onError,
          })
        : null,
    );
  }

  function dueValue(due, doneAt, breached) {
    if (!due) return t("common.none");
    const late = breached || (!doneAt && new Date(due) < new Date());
    return h("span", { class: late ? "text-danger" : null }, timeEl(due), late ? ` (${t("sla.breached")})` : null);
  }

  function renderCommentBox() {
    if (!ticket.allowed_actions.includes("comment")) {
      replace(commentArea);
      return;
    }
    const canInternal = ticket.allowed_actions.includes("comment_internal");
    const form = h(
      "form",
      { class: "comment-form", novalidate: true },
      h("div", { class: "form-alert" }),
      field({ name: "body", label: t("ticket.comment_label"), textarea: true, rows: 3, required: true, attrs: { maxlength: 10000 } }),
      h(
        "div",
        { class: "comment-actions" },
        canInternal ? field({ name: "internal", label: t("ticket.comment_internal"), type: "checkbox" }) : h("span"),
        h("button", { type: "submit", class: "btn btn-primary" }, t("ticket.comment_submit")),
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      const values = formValues(form);
      const ok = await submitting(form, async () => {
        await api(`${base(ticket.id)}/comments`, { method: "POST", body: { body: values.body, internal: Boolean(values.internal) } });
        return true;
      });
      if (ok) {
        form.reset();
        toast(t("ticket.comment_sent"));
        await loadTimeline();
        form.elements.body.focus();
      }
    });
    replace(commentArea, h("h3", { class: "comment-heading" }, t("ticket.comment")), form);
  }

  function categoryName(id) {
    return categories.find((c) => c.id === id)?.name || id;
  }

  function fieldValue(key, value) {
    if (value === null || value === undefined || value === "") return t("common.none");
    if (key === "status") return statusLabel(value);
    if (key === "category_id") return categoryName(value);
    if (key === "priority") return priorities.find((p) => p.code === value)?.name || String(value);
    if (key.endsWith("_at")) return fmtDateTime(value);
    return String(value);
  }

  function changes(entry) {
    const before = entry.before || {};
    const after = entry.after || {};
    const keys = ["status", "assignee_name", "priority", "category_id", "title", "contact_name", "contact_phone", "contact_email", "resolution_due_at"];
    const items = keys
      .filter((k) => k in after && (entry.kind !== "created" || k === "status"))
      .filter((k) => before[k] !== after[k])
      .map((k) =>
        h(
          "li",
          h("span", { class: "muted" }, `${t(`timeline.field.${k}`)}: `),
          k in before ? [h("span", { class: "old" }, fieldValue(k, before[k])), " → "] : null,
          h("strong", fieldValue(k, after[k])),
        ),
      );
    if (entry.kind === "edit" && "description" in after) items.push(h("li", h("span", { class: "muted" }, `${t("timeline.field.description")}: `), t("common.edit").toLowerCase()));
    return items.length ? h("ul", { class: "changes" }, items) : null;
  }

  function timelineItem(entry) {
    const isComment = entry.kind === "comment";
    const internal = entry.internal || entry.after?.internal === true;
    const verbKey = isComment && internal ? "timeline.comment_internal" : `timeline.${entry.kind}`;
    const verb = has(verbKey) ? t(verbKey) : entry.kind;
    const system = entry.actor_role === "system";
    const body = isComment ? h("div", { class: "bubble prewrap" }, entry.after?.body ?? "") : null;
    const summary = entry.kind === "resolve" && entry.after?.result_summary ? h("div", { class: "bubble prewrap" }, entry.after.result_summary) : null;
    return h(
      "li",
      { class: ["tl-item", `tl-${entry.kind}`, internal && "tl-internal", system && "tl-system"] },
      h(
        "div",
        { class: "tl-head" },
        h("strong", entry.actor_name),
        entry.actor_role && !system ? h("span", { class: "muted" }, ` (${roleLabel(entry.actor_role)})`) : null,
        " ",
        verb,
        internal ? h("span", { class: "badge badge-internal" }, t("ticket.internal")) : null,
        h("span", { class: "tl-time" }, timeEl(entry.at, fmtDateTime(entry.at))),
      ),
      body,
      summary,
      timelineFile(entry),
      changes(entry),
      entry.note ? h("p", { class: "tl-note prewrap" }, entry.note) : null,
    );
  }

  let timelineRun = 0;
  async function loadTimeline() {
    // The files' polling reloads it too: only the latest answer is drawn.
    const mine = ++timelineRun;
    try {
      const entries = await api(`${base(ticket.id)}/timeline`);
      if (mine !== timelineRun) return;
      replace(timelineList, entries.length ? entries.map(timelineItem) : h("li", { class: "empty" }, t("ticket.timeline_empty")));
    } catch (err) {
      replace(timelineList, h("li", errorBox(err)));
    }
  }

  render();
  await Promise.all([loadTimeline(), files.load()]);
}

function priorityText(source) {
  const key = `ticket.priority_source.${source}`;
  return has(key) ? t(key) : source;
}

export const views = { detail };
