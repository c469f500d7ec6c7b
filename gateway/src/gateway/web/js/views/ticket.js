// One ticket (#/tickets/<id or number>): fields, SLA, its files (ticket/attachments.js), the
// timeline (comments, status changes, assignments, files), the comment box and the actions
// the API allows this user right now.
//
// Live: while the page is shown it follows the ticket's changes (ticket/live.js) and fetches
// the ticket, its timeline and its files again, updating them in place: what is typed in the
// comment box and an open dialog stay, the reader's place on the page stays, and a quiet
// "Diperbarui" line says who changed what. A dialog keeps the version it was opened with:
// sending it after someone else's change gets 412, which the dialog explains with the fresh
// data on the page (never a silent overwrite); sending again applies to the new version.
// Comments are Markdown, rendered and sanitised by the server (body_html, ticket/richtext.js).

import { api, ifMatch } from "../api.js";
import { h, replace } from "../dom.js";
import { downloadButton } from "../download.js";
import { channelLabel, has, lang, roleLabel, statusLabel, t } from "../i18n.js";
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
import { followTicket } from "./ticket/live.js";
import { richText } from "./ticket/richtext.js";

const base = (ref) => `/api/tickets/tickets/${encodeURIComponent(ref)}`;

// The order of the action buttons; the API decides which ones this user gets.
const ACTION_ORDER = ["accept", "claim", "assign", "reassign", "pending", "resume", "resolve", "confirm", "reopen", "reject", "close", "edit"];
const PRIMARY = new Set(["accept", "claim", "resolve", "confirm"]);
const DANGER = new Set(["reject"]);
// A result summary belongs to a finished ticket; after a reopen it stays on the timeline.
const FINISHED = new Set(["resolved", "closed"]);
// The services' limits (tickets/schemas.py), so that the form's own checks match them.
const TEXT_MAX = 10000;
const REASON = { min: 3, max: 2000 };
const PHONE_PATTERN = "\\+?[0-9 ()\\-]{5,30}";
// Timeline kinds that do not change the ticket's version.
const UNVERSIONED = (kind) => kind === "comment" || kind.startsWith("attachment_");

async function detail({ el, segments, isCurrent }) {
  const ref = segments[1];
  let ticket = await api(base(ref));
  if (!isCurrent()) return;
  const [categories, priorities] = await Promise.all([
    store.categories({ all: true }).catch(() => []),
    store.priorities().catch(() => []),
  ]);
  const me = store.state.me || {};
  // An agent looking at a ticket someone else holds: its status changes and edits are the
  // holder's (allowed_actions leaves them out), which the action bar says.
  const heldByOther = () =>
    store.state.me?.role === "agent" && Boolean(ticket.assignee_id) && ticket.assignee_id !== store.state.me.id;

  el.classList.add("ticket-page");
  const notices = h("div", { class: "notices", "aria-live": "polite" });
  const cue = h("p", { class: "ticket-updated", role: "status", hidden: true });
  const head = h("div");
  const actionsBar = h("div", { class: "ticket-actions", role: "group", "aria-label": t("ticket.actions") });
  const side = h("aside", { class: "ticket-side card" });
  const main = h("div", { class: "ticket-main" });
  const description = h("section", { class: "card" });
  const result = h("div", { class: "result-slot" });
  const timelineList = h("ol", { class: "timeline" });
  const commentArea = h("div");
  const files = attachmentsSection({ ticket, isCurrent, onTimeline: () => loadTimeline() });

  main.append(
    description,
    result,
    files.el,
    h("section", { class: "card", "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title" }, t("ticket.timeline")), timelineList, commentArea),
  );
  el.append(
    h("p", { class: "breadcrumb" }, h("a", { href: "#/tickets" }, t("app.back_to_tickets"))),
    head,
    cue,
    notices,
    actionsBar,
    h("div", { class: "ticket-layout" }, main, side),
  );

  function notice(node) {
    replace(notices, node);
  }

  // -- fetching again, in place ---------------------------------------------------------------

  /** The ticket, its timeline and its files again; returns the new timeline entries. */
  async function refreshAll({ filesToo = true } = {}) {
    const mine = ++timelineRun; // a timeline fetched before this one is not drawn after it
    const [fresh, entries] = await Promise.all([api(base(ticket.id)), api(`${base(ticket.id)}/timeline`)]);
    if (!isCurrent()) return [];
    let added = [];
    keepInPlace(() => {
      // An answer overtaken by an action's own (newer) answer does not set the page back.
      if (fresh.version >= ticket.version) ticket = fresh;
      render();
      if (mine === timelineRun) added = drawTimeline(entries);
    });
    if (filesToo) files.refresh();
    return added;
  }

  /** A live change: fetch again and say so quietly when it was someone else's. */
  async function onLiveChange(change) {
    const version = ticket.version;
    if (change?.kind === "changed" && change.event?.startsWith("attachment.")) files.changed();
    const added = await refreshAll({ filesToo: !change?.event?.startsWith("attachment.") });
    const theirs = added.filter((entry) => entry.actor_id !== me.id);
    if (theirs.length) showCue(theirs[theirs.length - 1]);
    else if (ticket.version > version) showCue(null);
    warnOpenDialogs(theirs);
  }

  /** "Diperbarui" with who and what when the timeline tells, else when. */
  function showCue(entry) {
    const at = entry?.at || ticket.updated_at;
    replace(
      cue,
      h("span", { class: "ticket-updated-dot", "aria-hidden": "true" }),
      entry ? t("ticketpage.updated_by", { who: entry.actor_name, what: verbOf(entry) }) : t("ticketpage.updated"),
      " · ",
      timeEl(at, fmtDateTime(at)),
    );
    cue.hidden = false;
    cue.classList.remove("flash");
    void cue.offsetWidth; // restart the highlight
    cue.classList.add("flash");
  }

  /**
   * Run an update without moving what the reader looks at: the focused control or the first
   * lasting part of the page on screen keeps its place (new lines above it push nothing).
   */
  function keepInPlace(update) {
    const anchor = anchorOnScreen();
    const before = anchor?.getBoundingClientRect().top;
    update();
    if (!anchor || !anchor.isConnected) return;
    const shift = anchor.getBoundingClientRect().top - before;
    if (Math.abs(shift) >= 1) window.scrollBy(0, shift);
  }

  function anchorOnScreen() {
    const onScreen = (node) => {
      const r = node.getBoundingClientRect();
      return r.height > 0 && r.bottom > 0 && r.top < window.innerHeight;
    };
    const active = document.activeElement;
    if (active && active !== document.body && main.contains(active) && onScreen(active)) return active;
    return [description, result, files.el, ...timelineList.children, commentArea].find(onScreen) || null;
  }

  // -- actions --------------------------------------------------------------------------------

  // Open dialogs and the version each was opened with.
  const openDialogs = new Set();

  function openDialog(spec, held) {
    const pending = formDialog(spec);
    // formDialog appends its <dialog> to the body and opens it before returning.
    const dialog = [...document.querySelectorAll("body > dialog[open]")].pop();
    const entry = { dialog, held };
    openDialogs.add(entry);
    return pending.finally(() => openDialogs.delete(entry));
  }

  /** A dialog opened on an older version hears of the change at once, before sending. */
  function warnOpenDialogs(theirs) {
    for (const { dialog, held } of openDialogs) {
      if (!dialog || held.version >= ticket.version || held.warned === ticket.version) continue;
      held.warned = ticket.version;
      const box = dialog.querySelector(".form-alert");
      if (box) replace(box, h("div", { class: "alert alert-warning stale-note", role: "alert" }, changedText(lastVersioned(theirs))));
    }
  }

  /** Run an action; 412 (changed since the dialog opened) is explained in the dialog. */
  async function act(action, request, version) {
    try {
      ticket = await request();
    } catch (err) {
      if (err.status === 412) return stale(action, version);
      if (err.status === 409) {
        // 409: the action no longer fits the ticket as it is now.
        notice(h("div", { class: "alert alert-warning", role: "alert" }, `${errorText(err)} ${t("ticket.reloaded")}`));
        await refreshAll().catch(() => {});
        return true;
      }
      throw err;
    }
    notice(null);
    keepInPlace(render);
    await loadTimeline();
    toast(t("ticket.done", { action: t(`action.${action}`) }));
    return true;
  }

  /**
   * Someone changed the ticket since the dialog opened: the fresh data goes on the page, the
   * dialog says what changed and keeps what was typed; sending again applies to the new
   * version. An action the ticket no longer allows closes the dialog with the explanation.
   */
  async function stale(action, version) {
    await refreshAll().catch(() => {});
    const since = timelineEntries.filter((e) => e.id > version.lastEntryId);
    const text = changedText(lastVersioned(since));
    version.version = ticket.version;
    if (!ticket.allowed_actions.includes(action)) {
      notice(h("div", { class: "alert alert-warning", role: "alert" }, text, " ", t("ticketpage.stale_gone", { action: t(`action.${action}`) })));
      return true;
    }
    throw Object.assign(new Error(`${text} ${t("ticketpage.stale_retry")}`), { status: 412, code: "ticket_changed_while_open" });
  }

  function changedText(entry) {
    if (!entry) return t("ticketpage.stale");
    return t("ticketpage.stale_by", { who: entry.actor_name, what: verbOf(entry), when: fmtDateTime(entry.at) });
  }

  function lastVersioned(entries) {
    return [...entries].reverse().find((e) => !UNVERSIONED(e.kind)) || null;
  }

  const post = (action, version, body) => () =>
    api(`${base(ticket.id)}/${action}`, { method: "POST", body: body ?? {}, headers: ifMatch(version.version) });

  /** What a dialog holds from its opening: the version it acts on, the last line seen. */
  function opened() {
    return { version: ticket.version, lastEntryId: Math.max(0, ...timelineEntries.map((e) => e.id)) };
  }

  async function reasonDialog(action, { required = true, hint, name = "reason", label } = {}) {
    const version = opened();
    const summary = name === "result_summary";
    await openDialog(
      {
        title: `${t(`action.${action}`)}: ${ticket.number}`,
        fields: [
          field({
            name,
            label: label || (required ? t("action.reason") : t("action.reason_optional")),
            textarea: true,
            rows: 4,
            required,
            hint,
            // A reason: 3 to 2,000 characters (when given); a result summary: up to 10,000.
            attrs: summary ? { maxlength: TEXT_MAX } : { minlength: REASON.min, maxlength: REASON.max },
          }),
        ],
        submitLabel: t(`action.${action}`),
        danger: DANGER.has(action),
        onSubmit: (values) => {
          const body = values[name] ? { [name]: values[name] } : {};
          return act(action, post(action, version, body), version);
        },
      },
      version,
    );
  }

  async function simpleAction(action) {
    const version = opened();
    const message = has(`action.${action}.confirm`) ? t(`action.${action}.confirm`) : null;
    await openDialog(
      {
        title: `${t(`action.${action}`)}: ${ticket.number}`,
        intro: message,
        submitLabel: t(`action.${action}`),
        onSubmit: () => act(action, post(action, version), version),
      },
      version,
    );
  }

  async function assignDialog(action) {
    const agents = await store.agents();
    const version = opened();
    const options = agents
      .filter((a) => a.id !== ticket.assignee_id)
      .map((a) => ({ value: a.id, label: a.full_name }));
    await openDialog(
      {
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
        onSubmit: (values) => act(action, post("assign", version, { assignee_id: values.assignee_id }), version),
      },
      version,
    );
  }

  async function editDialog() {
    const active = categories.filter((c) => c.is_active || c.id === ticket.category_id);
    const original = ticket;
    const version = opened();
    await openDialog(
      {
        title: `${t("action.edit")}: ${ticket.number}`,
        wide: true,
        fields: [
          field({ name: "title", label: t("new.title_label"), value: ticket.title, required: true, attrs: { minlength: 3, maxlength: 200 } }),
          field({ name: "description", label: t("new.description"), value: ticket.description, textarea: true, rows: 6, required: true, attrs: { maxlength: TEXT_MAX } }),
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
            field({ name: "contact_name", label: t("new.contact_name"), value: ticket.contact_name, attrs: { maxlength: 200, autocomplete: "name" } }),
            field({
              name: "contact_phone",
              label: t("new.contact_phone"),
              type: "tel",
              value: ticket.contact_phone,
              attrs: { maxlength: 30, pattern: PHONE_PATTERN, "data-pattern-message": t("forms.phone"), autocomplete: "tel" },
            }),
            field({ name: "contact_email", label: t("new.contact_email"), type: "email", value: ticket.contact_email, attrs: { autocomplete: "email" } }),
          ),
        ],
        onSubmit: (values) => {
          // Only what this user changed is sent: someone else's change to another field stays.
          const changes = {};
          for (const [key, value] of Object.entries(values)) {
            if ((original[key] ?? null) !== value) changes[key] = value;
          }
          if (!Object.keys(changes).length) return true;
          return act("edit", () => api(base(ticket.id), { method: "PATCH", body: changes, headers: ifMatch(version.version) }), version);
        },
      },
      version,
    );
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

  // -- drawing ----------------------------------------------------------------------------------

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
          h("button", { type: "button", class: "btn", onclick: () => refreshAll().catch((e) => notice(errorBox(e))) }, t("ticket.reload")),
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
            dataset: { action: a },
            onclick: () => HANDLERS[a]().catch((e) => notice(errorBox(e))),
          },
          t(`action.${a}`),
        ),
      ),
      !ticket.allowed_actions.length ? h("p", { class: "muted" }, t("ticket.readonly")) : null,
      // An agent who does not hold the ticket: why its status buttons are missing.
      heldByOther() ? h("p", { class: "muted held-note" }, t("ticket.held_by_other", { holder: ticket.assignee_name || "" })) : null,
    );

    const row = (label, value) => [h("dt", label), h("dd", value ?? t("common.none"))];
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
        row(t("ticket.contact"), contactLines(ticket)),
        row(t("ticket.assignee"), ticket.assignee_name || h("span", { class: "muted" }, t("tickets.unassigned"))),
        row(t("ticket.created_at"), timeEl(ticket.created_at)),
        row(t("ticket.first_response_due"), dueValue(ticket.first_response_due_at, ticket.first_response_at, ticket.first_response_breached)),
        ticket.first_response_at ? row(t("ticket.first_response_at"), timeEl(ticket.first_response_at)) : null,
        row(t("ticket.resolution_due"), ticket.sla_paused ? [dueValue(ticket.resolution_due_at, ticket.resolved_at, ticket.resolution_breached), " ", h("span", { class: "badge sla-paused" }, t("sla.paused"))] : dueValue(ticket.resolution_due_at, ticket.resolved_at, ticket.resolution_breached)),
        ticket.resolved_at ? row(t("ticket.resolved_at"), timeEl(ticket.resolved_at)) : null,
        ticket.closed_at ? row(t("ticket.closed_at"), timeEl(ticket.closed_at)) : null,
        ticket.reopen_count ? row(t("ticket.reopen_count"), `${ticket.reopen_count}×`) : null,
        row(t("ticket.channel"), h("span", { class: "channel-label", dataset: { channel: ticket.channel } }, channelLabel(ticket.channel))),
        row(t("ticket.updated_at"), timeEl(ticket.updated_at, fmtRelative(ticket.updated_at))),
      ),
    );

    replace(description, h("h2", t("ticket.description")), h("p", { class: "prewrap" }, ticket.description));
    replace(
      result,
      ticket.result_summary && FINISHED.has(ticket.status)
        ? h("section", { class: "card result" }, h("h2", t("ticket.result_summary")), h("p", { class: "prewrap" }, ticket.result_summary))
        : null,
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

  // The comment box is built once and kept while the right to comment stays the same, so a
  // live update never loses what is being typed.
  let commentRights = null;
  function renderCommentBox() {
    const canComment = ticket.allowed_actions.includes("comment");
    const canInternal = ticket.allowed_actions.includes("comment_internal");
    const rights = `${canComment}/${canInternal}`;
    if (rights === commentRights) return;
    const previous = commentArea.querySelector("textarea")?.value || "";
    commentRights = rights;
    if (!canComment) {
      replace(commentArea);
      return;
    }
    const form = h(
      "form",
      { class: "comment-form", novalidate: true },
      h("div", { class: "form-alert" }),
      field({
        name: "body",
        label: t("ticket.comment_label"),
        textarea: true,
        rows: 3,
        required: true,
        value: previous,
        hint: t("ticketpage.markdown_hint"),
        attrs: { maxlength: TEXT_MAX },
      }),
      h(
        "div",
        { class: "comment-actions" },
        canInternal ? field({ name: "internal", label: t("ticket.comment_internal"), type: "checkbox" }) : h("span"),
        h("button", { type: "submit", class: "btn btn-primary" }, t("ticket.comment_submit")),
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const ok = await submitting(form, async () => {
        const values = formValues(form);
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

  /** Name, phone and e-mail on lines of their own; the address breaks only after @ and dots. */
  function contactLines(of) {
    const lines = [];
    if (of.contact_name) lines.push(of.contact_name);
    if (of.contact_phone) lines.push(of.contact_phone);
    if (of.contact_email) lines.push(h("a", { class: "contact-email", href: `mailto:${of.contact_email}` }, breakAfterDots(of.contact_email)));
    return lines.length ? lines.map((line, i) => [i ? h("br") : null, line]) : null;
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

  /** A comment's body: the server's sanitised HTML; plain text from an older server. */
  function commentBody(entry) {
    if (typeof entry.body_html === "string") return h("div", { class: "bubble md" }, richText(entry.body_html));
    return h("div", { class: "bubble prewrap" }, entry.after?.body ?? "");
  }

  function timelineItem(entry) {
    const isComment = entry.kind === "comment";
    const internal = entry.internal || entry.after?.internal === true;
    const system = entry.actor_role === "system";
    const summary = entry.kind === "resolve" && entry.after?.result_summary ? h("div", { class: "bubble prewrap" }, entry.after.result_summary) : null;
    return h(
      "li",
      { class: ["tl-item", `tl-${entry.kind}`, internal && "tl-internal", system && "tl-system"], dataset: { entryId: entry.id } },
      h(
        "div",
        { class: "tl-head" },
        h("strong", entry.actor_name),
        entry.actor_role && !system ? h("span", { class: "muted" }, ` (${roleLabel(entry.actor_role)})`) : null,
        " ",
        verbOf(entry),
        internal ? h("span", { class: "badge badge-internal" }, t("ticket.internal")) : null,
        h("span", { class: "tl-time" }, timeEl(entry.at, fmtDateTime(entry.at))),
      ),
      isComment ? commentBody(entry) : null,
      summary,
      timelineFile(entry),
      changes(entry),
      entry.note ? h("p", { class: "tl-note prewrap" }, entry.note) : null,
    );
  }

  // The timeline is drawn by entry: lines already shown keep their elements (a timeline line
  // never changes), new ones are added in place.
  let timelineEntries = [];
  let drawn = new Map();
  let firstDraw = true;

  /** Draw the entries; returns those not shown before (none on the first drawing). */
  function drawTimeline(entries) {
    const added = firstDraw ? [] : entries.filter((e) => !drawn.has(e.id));
    const next = new Map();
    const items = entries.map((entry) => {
      const node = drawn.get(entry.id) || timelineItem(entry);
      if (!firstDraw && !drawn.has(entry.id)) node.classList.add("tl-new");
      next.set(entry.id, node);
      return node;
    });
    firstDraw = false;
    drawn = next;
    timelineEntries = entries;
    if (!items.length) {
      replace(timelineList, h("li", { class: "empty" }, t("ticket.timeline_empty")));
      return added;
    }
    for (const child of [...timelineList.children]) if (!items.includes(child)) child.remove();
    items.forEach((node, i) => {
      if (timelineList.children[i] !== node) timelineList.insertBefore(node, timelineList.children[i] || null);
    });
    return added;
  }

  let timelineRun = 0;
  async function loadTimeline() {
    // The files' polling reloads it too: only the latest answer is drawn.
    const mine = ++timelineRun;
    try {
      const entries = await api(`${base(ticket.id)}/timeline`);
      if (mine !== timelineRun || !isCurrent()) return;
      let added = [];
      keepInPlace(() => {
        added = drawTimeline(entries);
      });
      const theirs = added.filter((entry) => entry.actor_id !== me.id);
      if (theirs.length) showCue(theirs[theirs.length - 1]);
    } catch (err) {
      replace(timelineList, h("li", errorBox(err)));
    }
  }

  render();
  await Promise.all([loadTimeline(), files.load()]);
  if (!isCurrent()) return;
  followTicket({ el, isCurrent, shown: () => ticket, refresh: onLiveChange });
}

function verbOf(entry) {
  const internal = entry.internal || entry.after?.internal === true;
  const key = entry.kind === "comment" && internal ? "timeline.comment_internal" : `timeline.${entry.kind}`;
  return has(key) ? t(key) : entry.kind;
}

/** "siti.rahma@dinas.go.id" with break opportunities (<wbr>) after "@" and each ".". */
function breakAfterDots(text) {
  return text.split(/(?<=[@.])/).map((part, i) => (i ? [h("wbr"), part] : part));
}

function priorityText(source) {
  const key = `ticket.priority_source.${source}`;
  return has(key) ? t(key) : source;
}

export const views = { detail };
