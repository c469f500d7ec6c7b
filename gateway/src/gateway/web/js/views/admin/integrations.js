// Intake channels and integrations (the integrations service): mailboxes polled over IMAP,
// chat channels whose signed webhooks become tickets, and outbound webhooks with their
// delivery log. Each has a list (#/admin/<section>) and a page of its own with its log
// (#/admin/<section>/<id>). Secrets and passwords are write-only: the API says only whether
// one is set, and an empty field on an edit keeps it.

import { api } from "../../api.js";
import { h, icon, replace } from "../../dom.js";
import { t } from "../../i18n.js";
import { navigate } from "../../nav.js";
import * as store from "../../store.js";
import {
  activeBadge,
  cursorList,
  errorBox,
  errorText,
  field,
  fmtDateTime,
  fmtRelative,
  formDialog,
  infoDialog,
  loading,
  table,
  timeEl,
  toast,
} from "../../ui.js";

const I = "/api/integrations";
const PAGE = 25;

// -- shared pieces ------------------------------------------------------------------------

/**
 * PATCH a saved item with the version it was read at: a change made meanwhile is refused
 * (412 version_mismatch, said as "changed by someone else"), never overwritten.
 */
async function patch(path, item, body) {
  try {
    return await api(path, { method: "PATCH", body: { ...body, version: item.version } });
  } catch (err) {
    if (err.code === "version_mismatch") err.code = "integration_changed";
    throw err;
  }
}

/** The fields whose values differ from the item's (what a PATCH sends). */
function changed(item, values, keys) {
  const body = {};
  for (const key of keys) if ((item[key] ?? null) !== (values[key] ?? null)) body[key] = values[key];
  return body;
}

/**
 * table() whose cells may be several nodes: each such cell is wrapped in one element, so that
 * on a phone (cells as "label: value" rows) its parts stay together beside the label.
 */
function grid(spec) {
  return table({ ...spec, rows: spec.rows.map((cells) => cells.map((c) => (Array.isArray(c) ? h("div", c) : c))) });
}

function small(label, onclick, { danger = false, dataset } = {}) {
  return h("button", { type: "button", class: ["btn btn-small", danger && "btn-danger-outline"], onclick, dataset }, label);
}

const label = (prefix, code) => {
  const key = `${prefix}.${code}`;
  const text = t(key);
  return text === key ? code : text;
};

const STATE_CLASS = {
  ok: "badge-ok",
  active: "badge-ok",
  succeeded: "badge-ok",
  failing: "badge-failed",
  failed: "badge-failed",
  disabled: "badge-muted",
  inactive: "badge-muted",
  never_polled: "badge-info",
  pending: "delivery-pending",
  retrying: "delivery-pending",
};

function stateBadge(prefix, state) {
  return h("span", { class: ["badge", STATE_CLASS[state] || "badge-muted"], dataset: { state } }, label(prefix, state));
}

const OUTCOME_CLASS = { ticket: "badge-ok", comment: "badge-info", failed: "badge-failed", refused: "badge-failed", throttled: "delivery-pending" };

function outcomeBadge(outcome) {
  return h("span", { class: ["badge", OUTCOME_CLASS[outcome] || "badge-muted"], dataset: { outcome } }, label("intg.outcome", outcome));
}

function ticketLink(id, number) {
  if (!id) return t("common.none");
  return h("a", { href: `#/tickets/${encodeURIComponent(id)}` }, number || t("intg.col.ticket"));
}

/** Units and categories for the default pickers (active ones, plus the item's own if inactive). */
async function pickers() {
  const [units, categories] = await Promise.all([store.units(), store.categories()]);
  return { units, categories };
}

function unitField(units, value) {
  const shown = units.filter((u) => u.is_active || u.id === value);
  return field({
    name: "default_unit_id",
    label: t("intg.default_unit"),
    value: value || "",
    required: true,
    hint: t("intg.default_unit_hint"),
    options: [{ value: "", label: t("intg.choose") }, ...shown.map((u) => ({ value: u.id, label: `${u.name} (${u.code})` }))],
  });
}

function categoryField(categories, value) {
  return field({
    name: "default_category_id",
    label: t("intg.default_category"),
    value: value || "",
    required: true,
    options: [{ value: "", label: t("intg.choose") }, ...categories.map((c) => ({ value: c.id, label: c.name }))],
  });
}

/** A read-only text with a copy button (the clipboard API needs HTTPS; else select + execCommand). */
function copyBox(text, { name, multiline = false } = {}) {
  const control = multiline
    ? h("textarea", { class: "copy-text", readonly: true, rows: Math.min(12, text.split("\n").length + 1), "aria-label": name, spellcheck: "false" })
    : h("input", { class: "copy-text", type: "text", readonly: true, "aria-label": name, spellcheck: "false" });
  control.value = text;
  const button = h("button", { type: "button", class: "btn btn-small" }, t("intg.copy"));
  // The selection's copy as well: it works on a plain-HTTP intranet address and where
  // the browser refuses the clipboard API.
  const copySelection = () => {
    control.focus();
    control.select();
    return document.execCommand("copy");
  };
  button.addEventListener("click", async () => {
    let copied = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        copied = true;
      }
    } catch {
      copied = false;
    }
    if (!copied) copied = copySelection();
    if (copied) toast(t("intg.copied"));
    else {
      control.select();
      toast(t("intg.copy_failed"), "error");
    }
  });
  return h("div", { class: ["copy-box", multiline && "copy-box-multi"] }, control, button);
}

/** Delete after a confirmation; the request runs inside the dialog (progress, refusals). */
async function confirmDelete(path, item) {
  const done = await formDialog({
    title: t("common.delete"),
    intro: t("intg.delete_confirm", { name: item.name }),
    submitLabel: t("common.delete"),
    danger: true,
    onSubmit: async () => {
      await api(path, { method: "DELETE" });
      return true;
    },
  });
  if (done) toast(t("intg.deleted"));
  return Boolean(done);
}

/** A page of its own for one item: the back link, then what `draw` builds (errors as a box). */
async function itemPage(el, { section, path, draw }) {
  const back = h("p", h("a", { href: `#/admin/${section}` }, "← ", t("intg.back")));
  const body = h("div", loading());
  el.append(back, body);
  let item;
  try {
    item = await api(path);
  } catch (err) {
    replace(body, errorBox(err));
    return;
  }
  replace(body);
  await draw(item, body);
}

/** A processing log ({items, next_cursor}) filtered by outcome, as a table. */
function messageLog({ path, query, section, id, isCurrent, outcomes, columns, row }) {
  const outcome = query.get("outcome") || "";
  const filter = field({
    name: "outcome",
    label: t("intg.filter_outcome"),
    value: outcome,
    options: [{ value: "", label: t("common.all") }, ...outcomes.map((o) => ({ value: o, label: label("intg.outcome", o) }))],
    class: "compact",
  });
  filter.querySelector("select").addEventListener("change", (e) => navigate(`/admin/${section}/${id}`, { outcome: e.target.value }));
  const list = cursorList({
    isCurrent,
    fetchPage: (cursor, size) => api(path, { query: { outcome: outcome || null, limit: size || PAGE, cursor } }),
    render: (items) => grid({ caption: t("intg.log"), columns, rows: items.map(row), empty: t("intg.log_empty"), className: "intg-log" }),
  });
  const refresh = h("button", { type: "button", class: "btn" }, icon("refresh"), t("common.refresh"));
  refresh.addEventListener("click", () => list.reload());
  return { el: h("section", { class: "intg-section" }, h("h2", t("intg.log")), h("div", { class: "toolbar" }, filter, refresh), list.el), load: list.load };
}

// -- mailboxes ----------------------------------------------------------------------------

const SECURITY = ["ssl", "starttls", "none"];
const UNKNOWN = ["create_ticket", "reply_once"];
const MAIL_OUTCOMES = ["ticket", "comment", "ignored", "refused", "throttled", "failed"];
const DEFAULT_PORTS = { ssl: 993, starttls: 143, none: 143 };

function mailboxFields(m, { units, categories }) {
  const fields = [
    field({ name: "name", label: t("mbx.name"), value: m.name, required: true, attrs: { maxlength: 120 } }),
    h(
      "div",
      { class: "grid-3" },
      field({
        name: "host",
        label: t("mbx.host"),
        value: m.host,
        required: true,
        class: "span-2",
        attrs: { maxlength: 253, pattern: "[A-Za-z0-9._:\\[\\]\\-]+", "data-pattern-message": t("mbx.host_pattern"), autocomplete: "off" },
      }),
      field({ name: "port", label: t("mbx.port"), type: "number", value: m.port ?? 993, required: true, attrs: { min: 1, max: 65535, step: 1 } }),
    ),
    field({ name: "security", label: t("mbx.security"), value: m.security || "ssl", options: SECURITY.map((s) => ({ value: s, label: t(`mbx.security.${s}`) })) }),
    h(
      "div",
      { class: "grid-2" },
      field({ name: "username", label: t("mbx.username"), value: m.username, required: true, attrs: { maxlength: 320, autocomplete: "off" } }),
      field({
        name: "password",
        label: t("mbx.password"),
        type: "password",
        required: !m.id,
        hint: m.id ? (m.has_password ? t("mbx.password_set") : t("mbx.password_unset")) : null,
        attrs: { autocomplete: "new-password", maxlength: 500 },
      }),
    ),
    h(
      "div",
      { class: "grid-2" },
      field({ name: "folder", label: t("mbx.folder"), value: m.folder || "INBOX", required: true, attrs: { maxlength: 200, pattern: '[^"\\\\]+', "data-pattern-message": t("mbx.folder_pattern") } }),
      field({ name: "poll_interval_seconds", label: t("mbx.poll_interval"), type: "number", value: m.poll_interval_seconds ?? 60, required: true, attrs: { min: 10, max: 86400, step: 1 } }),
    ),
    h("div", { class: "grid-2" }, unitField(units, m.default_unit_id), categoryField(categories, m.default_category_id)),
    field({ name: "unknown_senders", label: t("mbx.unknown_senders"), value: m.unknown_senders || "create_ticket", options: UNKNOWN.map((u) => ({ value: u, label: t(`mbx.unknown.${u}`) })) }),
    field({ name: "is_active", label: t("intg.active"), type: "checkbox", value: m.is_active ?? true, hint: t("intg.active_hint") }),
  ];
  return fields;
}

/** The security choice moves the port along while it is still a default one. */
function followPort(form) {
  const security = form.elements.security;
  const port = form.elements.port;
  if (!security || !port) return;
  security.addEventListener("change", () => {
    if (Object.values(DEFAULT_PORTS).map(String).includes(port.value)) port.value = String(DEFAULT_PORTS[security.value]);
  });
}

const MAILBOX_KEYS = ["name", "host", "port", "security", "username", "folder", "default_unit_id", "default_category_id", "unknown_senders", "is_active", "poll_interval_seconds"];

function mailboxBody(v) {
  const body = {};
  for (const key of MAILBOX_KEYS) body[key] = v[key];
  body.port = Number(v.port);
  body.poll_interval_seconds = Number(v.poll_interval_seconds);
  body.is_active = Boolean(v.is_active);
  return body;
}

async function mailboxDialog(m = {}) {
  const data = await pickers();
  const fields = mailboxFields(m, data);
  const pending = formDialog({
    title: m.id ? t("mbx.edit", { name: m.name }) : t("mbx.new"),
    fields,
    wide: true,
    submitLabel: m.id ? t("common.save") : t("common.create"),
    onSubmit: (v) => {
      const body = mailboxBody(v);
      if (!m.id) {
        body.password = v.password;
        return api(`${I}/mailboxes`, { method: "POST", body });
      }
      const changes = changed(m, body, MAILBOX_KEYS);
      // Write-only: given, it is set; left empty, the saved one stays.
      if (v.password) changes.password = v.password;
      return Object.keys(changes).length ? patch(`${I}/mailboxes/${m.id}`, m, changes) : m;
    },
  });
  const form = fields[0].closest("form");
  if (form) followPort(form);
  return pending;
}

/** When something happens next: "sebentar lagi" within the minute (or when already due), else relative. */
function soon(value) {
  return new Date(value).getTime() - Date.now() < 60000 ? t("intg.soon") : fmtRelative(value);
}

/** The mailbox's status in a few lines: the state, and when failing the error and since when. */
function mailboxStatus(m) {
  const s = m.status || {};
  const state = s.state || (m.is_active ? "never_polled" : "inactive");
  const lines = [stateBadge("mbx.state", state)];
  if (state === "failing") {
    if (s.last_error) lines.push(h("small", { class: "text-danger intg-error" }, s.last_error));
    if (s.failing_since) lines.push(h("small", { class: "muted" }, t("mbx.failing_since", { when: fmtDateTime(s.failing_since), n: s.consecutive_failures ?? "?" })));
  }
  if (s.last_polled_at) lines.push(h("small", { class: "muted" }, `${t("mbx.last_polled")}: `, timeEl(s.last_polled_at, fmtRelative(s.last_polled_at))));
  if (state !== "inactive" && s.next_attempt_at) {
    const next = state === "failing" ? t("mbx.next_attempt") : t("mbx.next_check");
    lines.push(h("small", { class: "muted" }, `${next}: `, timeEl(s.next_attempt_at, soon(s.next_attempt_at))));
  }
  return h("div", { class: "intg-status" }, lines);
}

async function checkMailbox(m, button) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = t("mbx.checking");
  try {
    const r = await api(`${I}/mailboxes/${m.id}/check`, { method: "POST" });
    infoDialog({
      title: `${t("mbx.check")}: ${m.name}`,
      body: r.ok
        ? h("p", { class: "alert alert-info check-result", role: "status", dataset: { ok: "true" } }, t("mbx.check_ok", { n: r.message_count ?? "?" }))
        : h("p", { class: "alert alert-error check-result", role: "alert", dataset: { ok: "false" } }, t("mbx.check_failed", { error: r.error || "?" })),
    });
  } catch (err) {
    toast(errorText(err), "error");
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}

async function mailboxes(ctx) {
  if (ctx.segments[2]) return mailboxPage(ctx, ctx.segments[2]);
  const { el, isCurrent } = ctx;
  const add = h("button", { type: "button", class: "btn btn-primary" }, icon("plus"), t("mbx.new"));
  // The status changes as the poller works: "Muat ulang" reads it again.
  const again = h("button", { type: "button", class: "btn" }, icon("refresh"), t("common.refresh"));
  el.append(h("p", { class: "callout" }, t("mbx.intro")), h("div", { class: "section-actions" }, again, add));
  const list = cursorList({
    isCurrent,
    fetchPage: (cursor, size) => api(`${I}/mailboxes`, { query: { limit: size || PAGE, cursor } }),
    render: (items) =>
      grid({
        caption: t("admin.mailboxes"),
        columns: [t("mbx.name"), t("mbx.server"), t("mbx.status"), t("common.actions")],
        empty: t("mbx.empty"),
        className: "intg-table",
        rows: items.map((m) => {
          const check = small(t("mbx.check"), null, { dataset: { action: "check" } });
          check.addEventListener("click", async () => {
            await checkMailbox(m, check);
            list.refresh();
          });
          return [
            [h("a", { href: `#/admin/mailboxes/${encodeURIComponent(m.id)}`, class: "intg-name" }, m.name), h("small", { class: "muted" }, m.username)],
            [h("code", `${m.host}:${m.port}`), h("small", { class: "muted" }, ` ${t(`mbx.security.${m.security}`)} · ${m.folder}`)],
            mailboxStatus(m),
            h(
              "div",
              { class: "row-actions" },
              small(t("common.edit"), () => edit(m)),
              check,
              h("a", { class: "btn btn-small", href: `#/admin/mailboxes/${encodeURIComponent(m.id)}` }, t("intg.log")),
              small(t("common.delete"), () => remove(m), { danger: true }),
            ),
          ];
        }),
      }),
  });
  el.append(list.el);
  again.addEventListener("click", () => list.refresh());

  add.addEventListener("click", async () => {
    const created = await mailboxDialog();
    if (created) {
      toast(t("common.saved"));
      list.reload();
    }
  });
  async function edit(m) {
    const updated = await mailboxDialog(m);
    if (updated) {
      toast(t("common.saved"));
      list.refresh();
    }
  }
  async function remove(m) {
    if (await confirmDelete(`${I}/mailboxes/${m.id}`, m)) list.reload();
  }
  await list.load();
}

async function mailboxPage({ el, query, isCurrent }, id) {
  await itemPage(el, {
    section: "mailboxes",
    path: `${I}/mailboxes/${encodeURIComponent(id)}`,
    draw: async (m, body) => {
      const s = m.status || {};
      const check = h("button", { type: "button", class: "btn", dataset: { action: "check" } }, t("mbx.check"));
      check.addEventListener("click", () => checkMailbox(m, check));
      const row = (name, value) => [h("dt", name), h("dd", value ?? t("common.none"))];
      body.append(
        h(
          "section",
          { class: "card intg-summary" },
          h("div", { class: "card-head" }, h("h2", m.name), check),
          h(
            "dl",
            { class: "details" },
            row(t("mbx.server"), h("code", `${m.host}:${m.port} (${t(`mbx.security.${m.security}`)})`)),
            row(t("mbx.username"), m.username),
            row(t("mbx.folder"), m.folder),
            row(t("mbx.status"), mailboxStatus(m)),
            row(t("mbx.last_success"), s.last_success_at ? timeEl(s.last_success_at) : null),
            row(t("mbx.unknown_senders"), t(`mbx.unknown.${m.unknown_senders}`)),
          ),
        ),
      );
      const log = messageLog({
        path: `${I}/mailboxes/${encodeURIComponent(id)}/messages`,
        query,
        section: "mailboxes",
        id,
        isCurrent,
        outcomes: MAIL_OUTCOMES,
        columns: [t("intg.col.received"), t("intg.col.sender"), t("intg.col.subject"), t("intg.col.outcome"), t("intg.col.reason"), t("intg.col.ticket"), t("intg.col.attachments")],
        row: (msg) => [
          timeEl(msg.received_at || msg.processed_at, fmtRelative(msg.received_at || msg.processed_at)),
          [msg.from_name ? h("div", msg.from_name) : null, h("small", { class: "muted" }, msg.from_address || t("common.none"))],
          h("span", { class: "intg-subject" }, msg.subject || t("common.none")),
          outcomeBadge(msg.outcome),
          msg.reason ? h("small", msg.reason) : t("common.none"),
          ticketLink(msg.ticket_id, msg.ticket_number),
          msg.attachments_stored || msg.attachments_refused ? t("intg.attachments", { stored: msg.attachments_stored || 0, refused: msg.attachments_refused || 0 }) : t("common.none"),
        ],
      });
      body.append(log.el);
      await log.load();
    },
  });
}

// -- chat channels --------------------------------------------------------------------------

const PROVIDERS = ["generic", "whatsapp"];
const CHAT_OUTCOMES = ["ticket", "comment", "refused"];
const CHANNEL_KEYS = ["name", "provider", "default_unit_id", "default_category_id", "is_active"];

function channelFields(c, { units, categories }) {
  const provider = c.provider || "generic";
  const secret = field({
    name: "secret",
    label: t("chn.secret"),
    type: "password",
    required: !c.id,
    hint: c.id ? `${t(`chn.secret_hint.${provider}`)} ${c.has_secret ? t("chn.secret_keep") : ""}` : t(`chn.secret_hint.${provider}`),
    attrs: { autocomplete: "new-password", minlength: 16, maxlength: 500 },
  });
  const verify = field({
    name: "verify_token",
    label: t("chn.verify_token"),
    type: "password",
    hint: c.id ? `${t("chn.verify_token_hint")} ${t("chn.secret_keep")}` : t("chn.verify_token_hint"),
    attrs: { autocomplete: "new-password", minlength: 8, maxlength: 200 },
  });
  const providerField = field({
    name: "provider",
    label: t("chn.provider"),
    value: provider,
    options: PROVIDERS.map((p) => ({ value: p, label: t(`chn.provider.${p}`) })),
    attrs: c.id ? { disabled: true } : {},
  });
  // The verify token is WhatsApp's subscription handshake: asked only for WhatsApp.
  const sync = () => {
    const p = providerField.querySelector("select").value;
    verify.hidden = p !== "whatsapp";
    verify.querySelector("input").disabled = p !== "whatsapp";
    verify.querySelector("input").required = p === "whatsapp" && !c.id;
    secret.querySelector(".hint").textContent = c.id && c.has_secret ? `${t(`chn.secret_hint.${p}`)} ${t("chn.secret_keep")}` : t(`chn.secret_hint.${p}`);
  };
  providerField.querySelector("select").addEventListener("change", sync);
  sync();
  return [
    field({ name: "name", label: t("common.name"), value: c.name, required: true, attrs: { maxlength: 120 } }),
    providerField,
    secret,
    verify,
    h("div", { class: "grid-2" }, unitField(units, c.default_unit_id), categoryField(categories, c.default_category_id)),
    field({ name: "is_active", label: t("intg.active"), type: "checkbox", value: c.is_active ?? true, hint: t("intg.active_hint") }),
  ];
}

async function channelDialog(c = {}) {
  const data = await pickers();
  return formDialog({
    title: c.id ? t("chn.edit", { name: c.name }) : t("chn.new"),
    fields: channelFields(c, data),
    wide: true,
    submitLabel: c.id ? t("common.save") : t("common.create"),
    onSubmit: (v) => {
      const body = { name: v.name, default_unit_id: v.default_unit_id, default_category_id: v.default_category_id, is_active: Boolean(v.is_active) };
      if (!c.id) {
        body.provider = v.provider;
        body.secret = v.secret;
        if (v.provider === "whatsapp") body.verify_token = v.verify_token;
        return api(`${I}/channels`, { method: "POST", body });
      }
      const changes = changed(c, body, CHANNEL_KEYS);
      if (v.secret) changes.secret = v.secret;
      if (c.provider === "whatsapp" && v.verify_token) changes.verify_token = v.verify_token;
      return Object.keys(changes).length ? patch(`${I}/channels/${c.id}`, c, changes) : c;
    },
  });
}

const webhookUrl = (c) => `${window.location.origin}${c.webhook_path || `${I}/hooks/${c.id}`}`;

/** How to send to the channel, with a curl example that signs the request the way the service checks it. */
function howToSend(c) {
  const url = webhookUrl(c);
  let example;
  if (c.provider === "whatsapp") {
    example = [
      `# ${t("chn.example.verify")}`,
      `curl "${url}?hub.mode=subscribe&hub.verify_token=$VERIFY_TOKEN&hub.challenge=12345"`,
      "",
      `# ${t("chn.example.message")}`,
      `BODY='{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"contacts":[{"wa_id":"6281234567890","profile":{"name":"Budi"}}],"messages":[{"id":"wamid.1","from":"6281234567890","timestamp":"'$(date +%s)'","type":"text","text":{"body":"Printer di ruang rapat macet"}}]}}]}]}'`,
      `SIG=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$APP_SECRET" | sed 's/^.* //')`,
      `curl -X POST "${url}" -H "Content-Type: application/json" \\`,
      `  -H "X-Hub-Signature-256: sha256=$SIG" --data "$BODY"`,
    ].join("\n");
  } else {
    example = [
      `BODY='{"message_id":"m-1","conversation_id":"c-1","sender":{"id":"u-1","name":"Budi","email":"budi@example.go.id"},"text":"Printer di ruang rapat macet"}'`,
      "TS=$(date +%s)",
      `SIG=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')`,
      `curl -X POST "${url}" -H "Content-Type: application/json" \\`,
      `  -H "X-Helpdesk-Timestamp: $TS" -H "X-Helpdesk-Signature: sha256=$SIG" --data "$BODY"`,
    ].join("\n");
  }
  return h(
    "section",
    { class: "card intg-how" },
    h("h2", t("chn.how")),
    h("p", t(`chn.how.${c.provider === "whatsapp" ? "whatsapp" : "generic"}`)),
    h("h3", t("chn.example")),
    copyBox(example, { name: t("chn.example"), multiline: true }),
  );
}

async function channels(ctx) {
  if (ctx.segments[2]) return channelPage(ctx, ctx.segments[2]);
  const { el, isCurrent } = ctx;
  const add = h("button", { type: "button", class: "btn btn-primary" }, icon("plus"), t("chn.new"));
  el.append(h("p", { class: "callout" }, t("chn.intro")), h("div", { class: "section-actions" }, add));
  const list = cursorList({
    isCurrent,
    fetchPage: (cursor, size) => api(`${I}/channels`, { query: { limit: size || PAGE, cursor } }),
    render: (items) =>
      grid({
        caption: t("admin.channels"),
        columns: [t("common.name"), t("chn.provider"), t("common.status"), t("chn.last_message"), t("common.actions")],
        empty: t("chn.empty"),
        className: "intg-table",
        rows: items.map((c) => [
          h("a", { href: `#/admin/channels/${encodeURIComponent(c.id)}`, class: "intg-name" }, c.name),
          label("chn.provider", c.provider),
          activeBadge(c.is_active),
          c.last_message_at ? timeEl(c.last_message_at, fmtRelative(c.last_message_at)) : t("common.none"),
          h(
            "div",
            { class: "row-actions" },
            small(t("common.edit"), () => edit(c)),
            h("a", { class: "btn btn-small", href: `#/admin/channels/${encodeURIComponent(c.id)}` }, t("intg.log")),
            small(t("common.delete"), () => remove(c), { danger: true }),
          ),
        ]),
      }),
  });
  el.append(list.el);

  add.addEventListener("click", async () => {
    const created = await channelDialog();
    if (created) {
      toast(t("common.saved"));
      // Its page says where to send and how to sign.
      navigate(`/admin/channels/${created.id}`);
    }
  });
  async function edit(c) {
    if (await channelDialog(c)) {
      toast(t("common.saved"));
      list.refresh();
    }
  }
  async function remove(c) {
    if (await confirmDelete(`${I}/channels/${c.id}`, c)) list.reload();
  }
  await list.load();
}

async function channelPage({ el, query, isCurrent }, id) {
  await itemPage(el, {
    section: "channels",
    path: `${I}/channels/${encodeURIComponent(id)}`,
    draw: async (c, body) => {
      const edit = h("button", { type: "button", class: "btn" }, t("common.edit"));
      edit.addEventListener("click", async () => {
        if (await channelDialog(c)) {
          toast(t("common.saved"));
          navigate(`/admin/channels/${c.id}`);
        }
      });
      const row = (name, value) => [h("dt", name), h("dd", value ?? t("common.none"))];
      body.append(
        h(
          "section",
          { class: "card intg-summary" },
          h("div", { class: "card-head" }, h("h2", c.name), edit),
          h(
            "dl",
            { class: "details" },
            row(t("chn.provider"), label("chn.provider", c.provider)),
            row(t("common.status"), activeBadge(c.is_active)),
            row(t("chn.last_message"), c.last_message_at ? timeEl(c.last_message_at) : null),
          ),
          h("h3", t("chn.webhook_url")),
          copyBox(webhookUrl(c), { name: t("chn.webhook_url") }),
        ),
        howToSend(c),
      );
      const log = messageLog({
        path: `${I}/channels/${encodeURIComponent(id)}/messages`,
        query,
        section: "channels",
        id,
        isCurrent,
        outcomes: CHAT_OUTCOMES,
        columns: [t("intg.col.received"), t("chn.sender"), t("chn.conversation"), t("intg.col.outcome"), t("intg.col.reason"), t("intg.col.ticket")],
        row: (msg) => [
          timeEl(msg.received_at, fmtRelative(msg.received_at)),
          [msg.sender_name ? h("div", msg.sender_name) : null, msg.sender_contact ? h("small", { class: "muted" }, msg.sender_contact) : null],
          h("code", { class: "intg-subject" }, msg.conversation_id || t("common.none")),
          outcomeBadge(msg.outcome),
          msg.reason ? h("small", msg.reason) : t("common.none"),
          ticketLink(msg.ticket_id, msg.ticket_number),
        ],
      });
      body.append(log.el);
      await log.load();
    },
  });
}

// -- outbound webhooks ----------------------------------------------------------------------

const DELIVERY_STATUSES = ["pending", "retrying", "succeeded", "failed"];
const WEBHOOK_KEYS = ["name", "url", "is_active"];

const EVENT_ORDER = [
  "ticket.created",
  "ticket.assigned",
  "ticket.status_changed",
  "ticket.commented",
  "ticket.updated",
  "ticket.resolved",
  "ticket.closed",
  "ticket.reopened",
  "ticket.sla_warning",
  "ticket.sla_breached",
  "ticket.escalated",
];

/** GET /webhooks/event-types ([{event_type, description}]) as [{type, description}], in a reading order. */
async function eventTypes() {
  const raw = await api(`${I}/webhooks/event-types`);
  const list = (Array.isArray(raw) ? raw : raw.items || []).map((e) => ({ type: e.event_type, description: e.description || "" }));
  // Tickets' events first, in their life's order; others (attachments, new ones) after.
  const rank = (type) => (EVENT_ORDER.includes(type) ? EVENT_ORDER.indexOf(type) : EVENT_ORDER.length);
  return list.sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type));
}

/** An event type in the user's language (the API's English description for one this client does not know). */
function eventLabel(type, description) {
  const key = `whk.event.${type}`;
  const text = t(key);
  return text === key ? description || type : text;
}

/** The event types as checkboxes; at least one must be ticked (said under the first). */
function eventChecks(types, chosen) {
  const boxes = types.map((e) =>
    field({
      name: "event_types",
      label: [eventLabel(e.type, e.description), " ", h("code", { class: "event-code" }, e.type)],
      type: "checkbox",
      value: chosen.includes(e.type),
      attrs: { value: e.type, title: e.description || null },
    }),
  );
  const inputs = boxes.map((b) => b.querySelector("input"));
  const sync = () => {
    const none = !inputs.some((i) => i.checked);
    inputs[0]?.setCustomValidity(none ? t("whk.events_required") : "");
    const first = inputs[0];
    if (first && !none && first.getAttribute("aria-invalid")) {
      const slot = document.getElementById(`${first.id}-err`);
      if (slot) {
        slot.textContent = "";
        slot.hidden = true;
      }
      first.removeAttribute("aria-invalid");
      delete first.dataset.marked;
    }
  };
  inputs.forEach((i) => i.addEventListener("change", sync));
  sync();
  return h("fieldset", { class: "intg-events" }, h("legend", t("whk.events")), h("p", { class: "hint" }, t("whk.events_hint")), h("div", { class: "check-list event-list" }, boxes));
}

async function webhookDialog(w = {}) {
  const types = await eventTypes();
  return formDialog({
    title: w.id ? t("whk.edit", { name: w.name }) : t("whk.new"),
    wide: true,
    submitLabel: w.id ? t("common.save") : t("common.create"),
    fields: [
      field({ name: "name", label: t("common.name"), value: w.name, required: true, attrs: { maxlength: 200 } }),
      field({
        name: "url",
        label: t("whk.url"),
        type: "url",
        value: w.url,
        required: true,
        hint: t("whk.url_hint"),
        attrs: { minlength: 10, maxlength: 2000, pattern: "[Hh][Tt][Tt][Pp][Ss]?://\\S+", "data-pattern-message": t("whk.url_pattern") },
      }),
      field({
        name: "secret",
        label: t("whk.secret"),
        type: "password",
        hint: w.id ? t("whk.secret_keep") : t("whk.secret_hint"),
        attrs: { autocomplete: "new-password", minlength: 16, maxlength: 500 },
      }),
      eventChecks(types, w.event_types || []),
      field({ name: "is_active", label: t("intg.active"), type: "checkbox", value: w.is_active ?? true }),
    ],
    onSubmit: (v, form) => {
      const chosen = Array.from(form.querySelectorAll("input[name=event_types]:checked"), (i) => i.value);
      const body = { name: v.name, url: v.url, is_active: Boolean(v.is_active), event_types: chosen };
      if (!w.id) {
        if (v.secret) body.secret = v.secret;
        return api(`${I}/webhooks`, { method: "POST", body });
      }
      const changes = changed(w, body, WEBHOOK_KEYS);
      if (JSON.stringify([...(w.event_types || [])].sort()) !== JSON.stringify([...chosen].sort())) changes.event_types = chosen;
      if (v.secret) changes.secret = v.secret;
      return Object.keys(changes).length ? patch(`${I}/webhooks/${w.id}`, w, changes) : w;
    },
  });
}

/** The generated secret, shown once after creating a webhook. */
function showSecretOnce(secret, then) {
  if (!secret) return then();
  infoDialog({
    title: t("whk.secret_title"),
    body: h("div", h("p", t("whk.secret_once")), copyBox(secret, { name: t("whk.secret") })),
  });
  const dialog = document.querySelector("dialog[open]:last-of-type");
  if (dialog) dialog.addEventListener("close", then, { once: true });
  else then();
}

async function webhooks(ctx) {
  if (ctx.segments[2]) return webhookPage(ctx, ctx.segments[2]);
  const { el, isCurrent } = ctx;
  const add = h("button", { type: "button", class: "btn btn-primary" }, icon("plus"), t("whk.new"));
  el.append(h("p", { class: "callout" }, t("whk.intro")), h("div", { class: "section-actions" }, add));
  const list = cursorList({
    isCurrent,
    fetchPage: (cursor, size) => api(`${I}/webhooks`, { query: { limit: size || PAGE, cursor } }),
    render: (items) =>
      grid({
        caption: t("admin.webhooks"),
        columns: [t("common.name"), t("whk.url"), t("whk.events"), t("whk.state"), t("whk.last_success"), t("common.actions")],
        empty: t("whk.empty"),
        className: "intg-table",
        rows: items.map((w) => [
          h("a", { href: `#/admin/webhooks/${encodeURIComponent(w.id)}`, class: "intg-name" }, w.name),
          h("code", { class: "intg-url" }, w.url),
          h("span", { title: (w.event_types || []).join(", ") }, t("whk.events_count", { n: (w.event_types || []).length })),
          webhookState(w),
          w.last_success_at ? timeEl(w.last_success_at, fmtRelative(w.last_success_at)) : t("common.none"),
          h(
            "div",
            { class: "row-actions" },
            small(t("common.edit"), () => edit(w)),
            h("a", { class: "btn btn-small", href: `#/admin/webhooks/${encodeURIComponent(w.id)}` }, t("whk.deliveries")),
            small(t("common.delete"), () => remove(w), { danger: true }),
          ),
        ]),
      }),
  });
  el.append(list.el);

  add.addEventListener("click", async () => {
    const created = await webhookDialog();
    if (created) {
      toast(t("common.saved"));
      showSecretOnce(created.secret, () => navigate(`/admin/webhooks/${created.id}`));
    }
  });
  async function edit(w) {
    if (await webhookDialog(w)) {
      toast(t("common.saved"));
      list.refresh();
    }
  }
  async function remove(w) {
    if (await confirmDelete(`${I}/webhooks/${w.id}`, w)) list.reload();
  }
  await list.load();
}

function webhookState(w) {
  const lines = [stateBadge("whk.state", w.state || (w.is_active ? "active" : "disabled"))];
  if (w.state !== "active" && w.last_error) lines.push(h("small", { class: "text-danger intg-error" }, w.last_error));
  if (w.state === "failing" && w.failing_since) lines.push(h("small", { class: "muted" }, `${t("whk.failing_since")}: `, timeEl(w.failing_since, fmtRelative(w.failing_since))));
  if (w.state === "disabled" && w.disabled_reason) lines.push(h("small", { class: "text-danger intg-error" }, w.disabled_reason));
  return h("div", { class: "intg-status" }, lines);
}

async function showDelivery(w, d) {
  try {
    const full = await api(`${I}/webhooks/${w.id}/deliveries/${d.id}`);
    let request = full.request_body ?? full.body ?? null;
    if (request && typeof request !== "string") request = JSON.stringify(request, null, 2);
    else if (request) {
      try {
        request = JSON.stringify(JSON.parse(request), null, 2);
      } catch {
        // Not JSON: shown as it is.
      }
    }
    const response = full.response_excerpt ?? full.response_body ?? null;
    const row = (name, value) => [h("dt", name), h("dd", value ?? t("common.none"))];
    infoDialog({
      title: t("whk.delivery", { event: eventLabel(full.event_type) }),
      body: h(
        "div",
        { class: "intg-delivery" },
        h(
          "dl",
          { class: "details" },
          row(t("whk.col.status"), stateBadge("whk.status", full.status)),
          row(t("whk.col.attempts"), String(full.attempts ?? 0)),
          row(t("whk.col.code"), full.last_status_code ? String(full.last_status_code) : null),
          row(t("whk.duration"), full.duration_ms !== null && full.duration_ms !== undefined ? `${full.duration_ms} ms` : null),
          full.last_error ? row(t("whk.col.error"), h("span", { class: "text-danger" }, full.last_error)) : null,
          row(t("whk.col.next"), full.next_attempt_at ? timeEl(full.next_attempt_at) : null),
        ),
        request ? [h("h3", t("whk.request_body")), h("pre", { class: "mail-body" }, request)] : null,
        response ? [h("h3", t("whk.response")), h("pre", { class: "mail-body" }, String(response))] : null,
      ),
    });
  } catch (err) {
    toast(errorText(err), "error");
  }
}

async function webhookPage({ el, query, isCurrent }, id) {
  await itemPage(el, {
    section: "webhooks",
    path: `${I}/webhooks/${encodeURIComponent(id)}`,
    draw: async (w, body) => {
      const reload = () => navigate(`/admin/webhooks/${w.id}`, query.get("status") ? { status: query.get("status") } : {});
      const edit = h("button", { type: "button", class: "btn" }, t("common.edit"));
      edit.addEventListener("click", async () => {
        if (await webhookDialog(w)) {
          toast(t("common.saved"));
          reload();
        }
      });
      const ping = h("button", { type: "button", class: "btn", dataset: { action: "ping" } }, t("whk.ping"));
      ping.addEventListener("click", async () => {
        ping.disabled = true;
        try {
          await api(`${I}/webhooks/${w.id}/ping`, { method: "POST" });
          toast(t("whk.pinged"));
          deliveries.refresh();
        } catch (err) {
          toast(errorText(err), "error");
        } finally {
          ping.disabled = false;
        }
      });
      const enabled = w.is_active && w.state !== "disabled";
      const toggle = h("button", { type: "button", class: ["btn", enabled ? "btn-danger-outline" : "btn-primary"], dataset: { action: enabled ? "disable" : "enable" } }, enabled ? t("whk.disable") : t("whk.enable"));
      toggle.addEventListener("click", async () => {
        toggle.disabled = true;
        try {
          await patch(`${I}/webhooks/${w.id}`, w, { is_active: !enabled });
          toast(enabled ? t("common.saved") : t("whk.enabled"));
          reload();
        } catch (err) {
          toast(errorText(err), "error");
          toggle.disabled = false;
        }
      });
      const row = (name, value) => [h("dt", name), h("dd", value ?? t("common.none"))];
      body.append(
        h(
          "section",
          { class: "card intg-summary" },
          h("div", { class: "card-head" }, h("h2", w.name), h("div", { class: "row-actions" }, edit, ping, toggle)),
          h(
            "dl",
            { class: "details" },
            row(t("whk.url"), h("code", { class: "intg-url" }, w.url)),
            row(t("whk.state"), webhookState(w)),
            w.disabled_at ? row(t("whk.disabled_at"), timeEl(w.disabled_at)) : null,
            w.disabled_reason ? row(t("whk.disabled_reason"), w.disabled_reason) : null,
            row(t("whk.last_success"), w.last_success_at ? timeEl(w.last_success_at) : null),
            row(t("whk.events"), h("div", { class: "badges intg-event-badges" }, (w.event_types || []).map((e) => h("span", { class: "badge badge-muted", title: e }, eventLabel(e))))),
          ),
        ),
      );

      const status = query.get("status") || "";
      const filter = field({
        name: "status",
        label: t("common.status"),
        value: status,
        options: [{ value: "", label: t("common.all") }, ...DELIVERY_STATUSES.map((s) => ({ value: s, label: t(`whk.status.${s}`) }))],
        class: "compact",
      });
      filter.querySelector("select").addEventListener("change", (e) => navigate(`/admin/webhooks/${w.id}`, { status: e.target.value }));
      const refresh = h("button", { type: "button", class: "btn" }, icon("refresh"), t("common.refresh"));

      async function redeliver(d, button) {
        button.disabled = true;
        try {
          await api(`${I}/webhooks/${w.id}/deliveries/${d.id}/redeliver`, { method: "POST" });
          toast(t("whk.redelivered"));
          deliveries.refresh();
        } catch (err) {
          toast(errorText(err), "error");
          button.disabled = false;
        }
      }

      const deliveries = cursorList({
        isCurrent,
        fetchPage: (cursor, size) => api(`${I}/webhooks/${w.id}/deliveries`, { query: { status: status || null, limit: size || PAGE, cursor } }),
        render: (items) =>
          grid({
            caption: t("whk.deliveries"),
            columns: [t("whk.col.created"), t("whk.col.event"), t("whk.col.status"), t("whk.col.attempts"), t("whk.col.code"), t("whk.col.error"), t("whk.col.next"), t("common.actions")],
            empty: t("intg.log_empty"),
            className: "intg-log",
            rows: items.map((d) => {
              const again = d.status === "succeeded" || d.status === "failed" ? small(t("whk.redeliver"), null, { dataset: { action: "redeliver" } }) : null;
              again?.addEventListener("click", () => redeliver(d, again));
              return [
                timeEl(d.created_at, fmtRelative(d.created_at)),
                [h("span", { title: d.event_type }, eventLabel(d.event_type)), d.ticket_id ? h("div", h("a", { href: `#/tickets/${encodeURIComponent(d.ticket_id)}`, class: "small" }, t("intg.col.ticket"))) : null],
                stateBadge("whk.status", d.status),
                String(d.attempts ?? 0),
                d.last_status_code ? h("code", String(d.last_status_code)) : t("common.none"),
                d.last_error ? h("small", { class: "text-danger intg-error" }, d.last_error) : t("common.none"),
                d.next_attempt_at && (d.status === "pending" || d.status === "retrying") ? timeEl(d.next_attempt_at, soon(d.next_attempt_at)) : t("common.none"),
                h("div", { class: "row-actions" }, small(t("common.show"), () => showDelivery(w, d)), again),
              ];
            }),
          }),
      });
      refresh.addEventListener("click", () => deliveries.reload());
      body.append(h("section", { class: "intg-section" }, h("h2", t("whk.deliveries")), h("div", { class: "toolbar" }, filter, refresh), deliveries.el));
      await deliveries.load();
    },
  });
}

export const sections = { mailboxes, channels, webhooks };
