// E-mail: SMTP settings (the password is write-only) and the delivery queue with retries.

import { api } from "../../api.js";
import { h, icon, replace } from "../../dom.js";
import { t } from "../../i18n.js";
import { navigate } from "../../nav.js";
import { errorBox, errorText, field, fmtDateTime, fmtRelative, formValues, infoDialog, loading, submitting, table, timeEl, toast, validateForm } from "../../ui.js";

const N = "/api/notifications/admin";
const SECURITY = ["none", "starttls", "tls"];
const DELIVERY_STATUSES = ["failed", "pending", "sending", "sent"];

// -- SMTP settings ----------------------------------------------------------------------

async function smtp({ el }) {
  const box = h("div", loading());
  el.append(box);

  async function load() {
    let current;
    try {
      current = await api(`${N}/smtp-settings`);
    } catch (err) {
      replace(box, errorBox(err));
      return;
    }
    const source =
      current.source === "database"
        ? t("smtp.source.database", { rev: current.revision, when: fmtDateTime(current.updated_at) })
        : t("smtp.source.environment");
    const form = h(
      "form",
      { class: "card form-card", novalidate: true, autocomplete: "off" },
      h("p", { class: "muted" }, source),
      current.problem ? h("div", { class: "alert alert-warning", role: "alert" }, t("smtp.problem", { problem: current.problem })) : null,
      h("div", { class: "form-alert" }),
      h(
        "div",
        { class: "grid-3" },
        field({
          name: "host",
          label: t("smtp.host"),
          value: current.host,
          required: true,
          class: "span-2",
          attrs: { maxlength: 255, pattern: "[^\\s\\/]+", "data-pattern-message": t("forms.host") },
        }),
        field({ name: "port", label: t("smtp.port"), type: "number", value: current.port, required: true, attrs: { min: 1, max: 65535 } }),
      ),
      field({ name: "security", label: t("smtp.security"), value: current.security, options: SECURITY.map((s) => ({ value: s, label: t(`smtp.security.${s}`) })) }),
      h(
        "div",
        { class: "grid-2" },
        field({ name: "username", label: t("smtp.username"), value: current.username || "", attrs: { autocomplete: "off", maxlength: 320 } }),
        field({
          name: "password",
          label: t("smtp.password"),
          type: "password",
          hint: `${current.has_password ? t("smtp.password_set") : t("smtp.password_unset")}. ${t("smtp.password_keep")}`,
          attrs: { autocomplete: "new-password", maxlength: 1024 },
        }),
      ),
      current.has_password ? field({ name: "remove_password", label: t("smtp.password_remove"), type: "checkbox" }) : null,
      field({ name: "sender", label: t("smtp.sender"), value: current.sender, required: true, hint: t("smtp.sender_hint"), attrs: { minlength: 3, maxlength: 320 } }),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("common.save"))),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!validateForm(form)) return;
      const v = formValues(form, { keepEmpty: true });
      const body = {
        host: v.host.trim(),
        port: Number(v.port),
        security: v.security,
        username: v.username.trim() || null,
        sender: v.sender.trim(),
      };
      // Write-only: omitted keeps the saved password, "" removes it.
      if (v.remove_password) body.password = "";
      else if (v.password) body.password = v.password;
      const ok = await submitting(form, () => api(`${N}/smtp-settings`, { method: "PUT", body }));
      if (ok) {
        toast(t("common.saved"));
        load();
      }
    });

    const test = h(
      "form",
      { class: "card form-card", novalidate: true },
      h("h2", t("smtp.test")),
      h("div", { class: "form-alert" }),
      field({ name: "to", label: t("smtp.test_to"), type: "email", hint: t("smtp.test_to_hint"), attrs: { maxlength: 320 } }),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn" }, t("smtp.test"))),
    );
    test.addEventListener("submit", async (e) => {
      e.preventDefault();
      const to = test.elements.to.value.trim();
      const r = await submitting(test, () => api(`${N}/smtp-settings/test`, { method: "POST", body: to ? { to } : {} }));
      if (r) toast(t("smtp.test_sent", { to: r.recipient }));
    });
    replace(box, h("div", { class: "grid-2 align-start" }, form, test));
  }
  await load();
}

// -- deliveries -------------------------------------------------------------------------

async function deliveries({ el, query, isCurrent }) {
  const status = query.get("status") ?? "failed";
  const counts = h("div", { class: "stats" });
  const filter = field({
    name: "status",
    label: t("common.status"),
    value: status,
    options: [{ value: "all", label: t("common.all") }, ...DELIVERY_STATUSES.map((s) => ({ value: s, label: t(`deliveries.status.${s}`) }))],
    class: "compact",
  });
  filter.querySelector("select").addEventListener("change", (e) => navigate("/admin/deliveries", { status: e.target.value }));
  const retryAll = h("button", { type: "button", class: "btn btn-primary" }, icon("refresh"), t("deliveries.retry_all"));
  const list = h("div", loading());
  const more = h("button", { type: "button", class: "btn", hidden: true }, t("common.load_more"));
  el.append(counts, h("div", { class: "toolbar" }, filter, retryAll), list, h("div", { class: "load-more" }, more));

  async function loadCounts() {
    try {
      const c = await api(`${N}/deliveries/counts`);
      replace(
        counts,
        DELIVERY_STATUSES.map((s) =>
          h(
            "a",
            { class: ["stat card", s === "failed" && c.failed ? "stat-danger" : null], href: `#/admin/deliveries?status=${s}` },
            h("span", { class: "stat-value" }, String(c[s] ?? 0)),
            h("span", { class: "stat-label" }, t(`deliveries.status.${s}`)),
          ),
        ),
      );
      retryAll.disabled = !c.failed;
    } catch (err) {
      replace(counts, errorBox(err));
    }
  }

  async function showDetail(d) {
    try {
      const full = await api(`${N}/deliveries/${d.id}`);
      infoDialog({
        title: `${t("deliveries.detail")}: ${full.subject}`,
        body: h(
          "div",
          h("p", h("strong", `${t("deliveries.recipient")}: `), full.recipient_name ? `${full.recipient_name} <${full.recipient}>` : full.recipient),
          full.last_error ? h("p", { class: "text-danger" }, full.last_error) : null,
          h("pre", { class: "mail-body" }, full.body_text),
        ),
      });
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  async function retry(d) {
    try {
      await api(`${N}/deliveries/${d.id}/retry`, { method: "POST" });
      toast(t("deliveries.retried_one"));
      reload();
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  const columns = [t("deliveries.created"), t("deliveries.recipient"), t("deliveries.subject"), t("common.status"), t("deliveries.attempts"), t("deliveries.last_error"), t("common.actions")];
  let cursor = null;
  let rows = [];
  async function load() {
    more.disabled = true;
    try {
      const page = await api(`${N}/deliveries`, { query: { status: status === "all" ? null : status, limit: 50, cursor } });
      if (!isCurrent()) return;
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      replace(
        list,
        table({
          caption: t("admin.deliveries"),
          columns,
          rows: rows.map((d) => [
            timeEl(d.created_at, fmtRelative(d.created_at)),
            [d.recipient_name ? h("div", d.recipient_name) : null, h("small", { class: "muted" }, d.recipient)],
            d.ticket_id ? h("a", { href: `#/tickets/${encodeURIComponent(d.ticket_id)}` }, d.subject) : d.subject,
            h("span", { class: `badge delivery-${d.status}` }, t(`deliveries.status.${d.status}`)),
            String(d.attempts),
            d.last_error ? h("small", { class: "text-danger" }, d.last_error) : t("common.none"),
            h(
              "div",
              { class: "row-actions" },
              h("button", { type: "button", class: "btn btn-small", onclick: () => showDetail(d) }, t("common.show")),
              d.status === "failed" ? h("button", { type: "button", class: "btn btn-small", onclick: () => retry(d) }, t("common.retry")) : null,
            ),
          ]),
        }),
      );
    } catch (err) {
      replace(list, errorBox(err));
    } finally {
      more.disabled = false;
    }
  }

  function reload() {
    cursor = null;
    rows = [];
    loadCounts();
    load();
  }

  more.addEventListener("click", load);
  retryAll.addEventListener("click", async () => {
    try {
      const r = await api(`${N}/deliveries/retry-failed`, { method: "POST" });
      toast(t("deliveries.retried", { n: r.retried }));
      reload();
    } catch (err) {
      toast(errorText(err), "error");
    }
  });
  await Promise.all([loadCounts(), load()]);
}

export const sections = { smtp, deliveries };
