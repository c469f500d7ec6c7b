// Notification settings (#/account/notifications), for every signed-in user: per event type
// that can reach their role, in-app on/off and e-mail instant / daily digest / off.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { errorBox, loading, pageHeader, submitting, toast, zoneLabel } from "../ui.js";

const PATH = "/api/notifications/notifications/preferences";
const EMAIL_MODES = ["instant", "digest", "off"];
function row(item) {
  const name = t(`prefs.event.${item.event}`);
  const inApp = h("input", { type: "checkbox", name: `in_app:${item.event}`, checked: item.in_app, "aria-label": t("prefs.in_app_for", { event: name }) });
  const email = h(
    "select",
    { name: `email:${item.event}`, "aria-label": t("prefs.email_for", { event: name }) },
    EMAIL_MODES.map((mode) => h("option", { value: mode, selected: mode === item.email }, t(`prefs.email.${mode}`))),
  );
  return h(
    "tr",
    { dataset: { event: item.event } },
    h("th", { scope: "row" }, h("span", { class: "pref-name" }, name), h("span", { class: "pref-hint" }, t(`prefs.hint.${item.event}`))),
    h("td", { class: "pref-in-app" }, h("label", { class: "pref-switch" }, inApp, h("span", { class: "pref-switch-label", "aria-hidden": "true" }, t("prefs.in_app")))),
    h("td", { class: "pref-email" }, email),
  );
}

function itemsOf(form, events) {
  return events.map((event) => ({
    event,
    in_app: form.elements.namedItem(`in_app:${event}`).checked,
    email: form.elements.namedItem(`email:${event}`).value,
  }));
}

function renderForm(box, prefs) {
  const events = prefs.items.map((i) => i.event);
  if (!events.length) {
    replace(box, h("p", { class: "empty" }, t("prefs.none")));
    return;
  }
  const time = String(prefs.digest_time).slice(0, 5);
  const form = h(
    "form",
    { class: "card form-card prefs-card", novalidate: true },
    h("p", { class: "muted" }, t("prefs.intro", { time, zone: zoneLabel(prefs.timezone) })),
    h("div", { class: "form-alert" }),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table prefs-table" },
        h("thead", h("tr", h("th", { scope: "col" }, t("prefs.event")), h("th", { scope: "col" }, t("prefs.in_app")), h("th", { scope: "col" }, t("prefs.email")))),
        h("tbody", prefs.items.map(row)),
      ),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("common.save"))),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const saved = await submitting(form, () => api(PATH, { method: "PUT", body: { items: itemsOf(form, events) } }));
    if (saved) {
      toast(t("prefs.saved"));
      renderForm(box, saved);
    }
  });
  replace(box, form);
}

export async function render({ el }) {
  const box = h("div", loading());
  el.append(pageHeader(t("prefs.title"), h("a", { class: "btn", href: "#/notifications" }, t("prefs.back"))), box);
  try {
    renderForm(box, await api(PATH));
  } catch (err) {
    replace(box, errorBox(err));
  }
}
