// My account (#/account): profile, preferred language, password change (also where users
// with a temporary password are sent first).

import { api, session } from "../api.js";
import { h } from "../dom.js";
import { lang, roleLabel, setLanguage, t } from "../i18n.js";
import { navigate, userChanged } from "../nav.js";
import * as store from "../store.js";
import { field, formValues, pageHeader, showErrors, submitting, toast, validateForm } from "../ui.js";

const AUTH = "/api/identity/auth";

export async function render({ el }) {
  const me = store.state.me;

  const profile = h(
    "form",
    { class: "card form-card", novalidate: true, "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title" }, t("account.profile")),
    h(
      "dl",
      { class: "details" },
      h("dt", t("account.username")),
      h("dd", me.username),
      h("dt", t("account.role")),
      h("dd", roleLabel(me.role)),
      h("dt", t("account.unit")),
      h("dd", me.unit ? `${me.unit.name} (${me.unit.code})` : t("common.none")),
    ),
    h("div", { class: "form-alert" }),
    field({ name: "full_name", label: t("account.full_name"), value: me.full_name, required: true, attrs: { autocomplete: "name", maxlength: 200 } }),
    field({ name: "email", label: t("common.email"), type: "email", value: me.email || "", attrs: { autocomplete: "email" } }),
    field({
      name: "language",
      label: t("account.language"),
      value: me.language,
      options: [
        { value: "id", label: t("common.lang.id") },
        { value: "en", label: t("common.lang.en") },
      ],
    }),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("common.save"))),
  );
  profile.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!validateForm(profile)) return;
    const values = formValues(profile);
    const body = {};
    for (const key of ["full_name", "email", "language"]) {
      if ((me[key] ?? null) !== values[key] && !(key === "email" && !values[key] && !me.email)) body[key] = values[key];
    }
    if (!Object.keys(body).length) return toast(t("common.saved"));
    const updated = await submitting(profile, () => api(`${AUTH}/me`, { method: "PATCH", body }));
    if (updated) {
      toast(t("common.saved"));
      userChanged(updated);
      if (body.language && body.language !== lang()) setLanguage(body.language);
    }
  });

  const password = h(
    "form",
    { class: "card form-card", novalidate: true, "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, t("account.password")),
    me.must_change_password ? h("div", { class: "alert alert-warning", role: "alert" }, t("account.must_change")) : null,
    h("div", { class: "form-alert" }),
    field({ name: "current_password", label: t("account.current_password"), type: "password", required: true, attrs: { autocomplete: "current-password", maxlength: 1024 } }),
    field({ name: "new_password", label: t("account.new_password"), type: "password", required: true, hint: t("account.new_password_hint"), attrs: { autocomplete: "new-password", minlength: 8, maxlength: 256 } }),
    field({ name: "confirm_password", label: t("account.confirm_password"), type: "password", required: true, attrs: { autocomplete: "new-password", minlength: 8, maxlength: 256 } }),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("account.password"))),
  );
  password.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!validateForm(password)) return;
    const values = formValues(password, { keepEmpty: true });
    if (values.new_password !== values.confirm_password) {
      showErrors(password, { code: "validation_error", status: 422, fields: [{ field: "confirm_password", message: t("account.password_mismatch") }] });
      return;
    }
    const pair = await submitting(password, () =>
      api(`${AUTH}/me/password`, {
        method: "POST",
        body: { current_password: values.current_password, new_password: values.new_password },
      }),
    );
    if (pair) {
      session.store(pair);
      password.reset();
      toast(t("account.password_changed"));
      const wasForced = me.must_change_password;
      userChanged(pair.user);
      if (wasForced) navigate("/");
    }
  });

  const notificationSettings = h("a", { class: "btn", href: "#/account/notifications" }, t("prefs.account_link"));
  el.append(pageHeader(t("account.title"), notificationSettings), h("div", { class: "grid-2 align-start" }, profile, password));
  if (me.must_change_password) password.elements.current_password.focus();
}
