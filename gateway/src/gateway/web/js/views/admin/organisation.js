// The organisation's identity (#/admin/organisation): the letterhead of every generated
// document (name, parent body, address, contact lines) and its logo (PNG, JPEG or SVG).

import { ApiError, api, fetchFile } from "../../api.js";
import { h, icon, replace } from "../../dom.js";
import { t } from "../../i18n.js";
import { confirmDialog, errorBox, errorText, field, fmtDateTime, formValues, loading, showErrors, submitting, toast } from "../../ui.js";

const ORG = "/api/identity/organisation";
const LOGO_TYPES = ["image/png", "image/jpeg", "image/svg+xml"];
const LOGO_MAX_BYTES = 256 * 1024;
const TYPE_NAMES = { "image/png": "PNG", "image/jpeg": "JPEG", "image/svg+xml": "SVG" };
const kilobytes = (n) => `${Math.max(1, Math.round(n / 1024))} KB`;
const TEXT_FIELDS = ["name", "parent_name", "address", "phone", "email", "website"];

// The logo's refusals (413 logo_too_large, 415 unsupported_logo_type or unsafe_svg, 422
// invalid_logo) in words; anything else as the server said it.
function logoError(err) {
  if (err.code === "logo_too_large" || err.code === "payload_too_large" || err.status === 413) return t("org.logo.too_large", { max: "256 KB" });
  if (err.code === "unsafe_svg") return t("org.logo.unsafe_svg");
  if (err.code === "unsupported_logo_type" || err.status === 415) return t("org.logo.wrong_type");
  if (err.code === "invalid_logo") return t("org.logo.unreadable", { detail: err.message.replace(/^The logo cannot be used: /, "") });
  return errorText(err);
}

async function organisation({ el, isCurrent }) {
  const box = h("div", loading());
  el.append(box);
  let previewUrl = null;

  function forgetPreview() {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
  }

  async function load() {
    let org;
    try {
      org = await api(ORG);
    } catch (err) {
      replace(box, errorBox(err));
      return;
    }
    if (!isCurrent()) return;
    replace(box, h("div", { class: "grid-2 align-start org-grid" }, identityForm(org), logoCard(org)));
  }

  function identityForm(org) {
    const source = org.updated_at
      ? t("org.source", { rev: org.revision, when: fmtDateTime(org.updated_at) })
      : t("org.source_default");
    const form = h(
      "form",
      { class: "card form-card org-form", novalidate: true },
      h("h2", t("org.identity")),
      h("p", { class: "muted" }, source),
      h("div", { class: "form-alert" }),
      field({ name: "parent_name", label: t("org.parent_name"), value: org.parent_name || "", hint: t("org.parent_name_hint"), attrs: { maxlength: 200 } }),
      field({ name: "name", label: t("org.name"), value: org.name || "", required: true, hint: t("org.name_hint"), attrs: { maxlength: 200 } }),
      field({ name: "address", label: t("org.address"), value: org.address || "", textarea: true, rows: 3, attrs: { maxlength: 500 } }),
      h(
        "div",
        { class: "grid-2" },
        field({ name: "phone", label: t("org.phone"), type: "tel", value: org.phone || "", attrs: { maxlength: 50 } }),
        field({ name: "email", label: t("org.email"), type: "email", value: org.email || "" }),
      ),
      field({
        name: "website",
        label: t("org.website"),
        type: "url",
        value: org.website || "",
        hint: t("org.website_hint"),
        // The server takes http(s) addresses only (the browser's type=url takes any scheme).
        attrs: { maxlength: 200, pattern: "[Hh][Tt][Tt][Pp][Ss]?://[^\\s\\/]+\\S*", "data-pattern-message": t("field.url") },
      }),
      h("p", { class: "hint" }, t("org.used_in")),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("common.save"))),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      // The fields' checks (submitting(): a web address with its scheme, an e-mail address,
      // the lengths) and the server's refusals are said under the fields in the user's
      // language, rather than in the browser's bubbles.
      const values = formValues(form);
      const body = Object.fromEntries(TEXT_FIELDS.map((k) => [k, values[k] ?? null]));
      const saved = await submitting(form, () => api(ORG, { method: "PUT", body }));
      if (saved) {
        toast(t("common.saved"));
        load();
      }
    });
    return form;
  }

  function logoCard(org) {
    const preview = h("div", { class: "logo-preview", dataset: { state: org.has_logo ? "loading" : "none" } });
    const input = h("input", {
      type: "file",
      id: "org-logo-file",
      name: "logo",
      accept: LOGO_TYPES.join(","),
      "aria-describedby": "org-logo-file-hint org-logo-file-err",
    });
    const form = h(
      "form",
      { class: "card form-card logo-form", novalidate: true },
      h("h2", t("org.logo")),
      preview,
      h("div", { class: "form-alert" }),
      h(
        "div",
        { class: "field" },
        h("label", { for: "org-logo-file" }, org.has_logo ? t("org.logo.replace") : t("org.logo.choose")),
        input,
        h("p", { class: "hint", id: "org-logo-file-hint" }, t("org.logo.hint")),
        h("p", { class: "field-error", id: "org-logo-file-err", hidden: true }),
      ),
      h(
        "div",
        { class: "form-actions" },
        org.has_logo ? h("button", { type: "button", class: "btn btn-danger-outline", dataset: { action: "remove-logo" }, onclick: remove }, t("org.logo.remove")) : null,
        h("button", { type: "submit", class: "btn btn-primary" }, icon("upload"), t("org.logo.upload")),
      ),
    );

    function problem(message) {
      showErrors(form, new ApiError({ status: 422, code: "validation_error", message, fields: [{ field: "logo", message }] }));
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const file = input.files?.[0];
      if (!file) return problem(t("org.logo.none_chosen"));
      if (file.type && !LOGO_TYPES.includes(file.type)) return problem(t("org.logo.wrong_type"));
      if (file.size > LOGO_MAX_BYTES) return problem(t("org.logo.too_large", { max: "256 KB" }));
      const done = await submitting(form, async () => {
        try {
          return await api(`${ORG}/logo`, { method: "PUT", raw: file, headers: { "Content-Type": file.type || "application/octet-stream" } });
        } catch (err) {
          if (err.status === 413 || err.status === 415 || (err.status === 422 && !err.fields.length && err.code !== "validation_error")) {
            // Said under the file input, in words (the size limit, the allowed types).
            const message = logoError(err);
            throw new ApiError({ status: err.status, code: "validation_error", message, fields: [{ field: "logo", message }], requestId: err.requestId });
          }
          throw err;
        }
      });
      if (done !== undefined) {
        toast(t("org.logo.saved"));
        load();
      }
    });

    async function remove() {
      const ok = await confirmDialog({ title: t("org.logo.remove"), message: t("org.logo.remove_confirm"), confirmLabel: t("org.logo.remove"), danger: true });
      if (!ok) return;
      try {
        await api(`${ORG}/logo`, { method: "DELETE" });
        toast(t("org.logo.removed"));
        load();
      } catch (err) {
        toast(errorText(err), "error");
      }
    }

    showPreview(org, preview);
    return form;
  }

  async function showPreview(org, preview) {
    forgetPreview();
    if (!org.has_logo) {
      replace(preview, h("p", { class: "muted" }, t("org.logo.empty")));
      return;
    }
    replace(preview, h("p", { class: "loading", role: "status" }, t("app.loading")));
    try {
      const file = await fetchFile(`${ORG}/logo`);
      if (!isCurrent()) return;
      previewUrl = URL.createObjectURL(file.blob);
      const img = h("img", { src: previewUrl, alt: t("org.logo.alt", { name: org.name || "" }), class: "logo-img" });
      const type = TYPE_NAMES[org.logo_media_type || file.type] || org.logo_media_type || file.type;
      replace(preview, img, h("p", { class: "hint" }, t("org.logo.current", { type, size: kilobytes(file.blob.size) })));
      preview.dataset.state = "shown";
    } catch (err) {
      replace(preview, errorBox(err));
      preview.dataset.state = "error";
    }
  }

  await load();
}

export const sections = { organisation };
