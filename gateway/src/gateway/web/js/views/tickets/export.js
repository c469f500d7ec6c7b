// "Ekspor CSV" on the ticket list: choose the columns (personal data only where the privacy
// policy allows this user's role), then download the tickets the list's filters select.

import { ApiError, api } from "../../api.js";
import { h, uniqueId } from "../../dom.js";
import { busy, download } from "../../download.js";
import { lang, t } from "../../i18n.js";
import { formDialog, toast } from "../../ui.js";

const T = "/api/tickets";
const REMEMBERED = "helpdesk.export.columns";

function remembered() {
  try {
    const value = JSON.parse(localStorage.getItem(REMEMBERED) || "null");
    return Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

function remember(keys) {
  try {
    localStorage.setItem(REMEMBERED, JSON.stringify(keys));
  } catch {
    // Private mode: chosen again next time.
  }
}

/** The column checkboxes in a fieldset, with "all" / "none" and an error slot for `columns`. */
function columnPicker(columns) {
  const saved = remembered();
  const boxes = [];
  const noteId = uniqueId("pdp-note");
  const items = columns.map((c) => {
    const id = uniqueId("col");
    const blocked = c.allowed === false;
    const box = h("input", {
      type: "checkbox",
      id,
      name: "columns",
      value: c.key,
      disabled: blocked,
      checked: !blocked && (saved ? saved.includes(c.key) : !c.personal),
      // Why a personal column cannot be chosen: the note under the list.
      "aria-describedby": blocked ? noteId : null,
    });
    boxes.push(box);
    return h(
      "li",
      { class: ["column-choice", blocked && "is-blocked"], dataset: { column: c.key } },
      box,
      h(
        "label",
        { for: id },
        c.label,
        c.personal
          ? [
              " ",
              h(
                "span",
                { class: ["badge", blocked ? "badge-muted" : "badge-personal"], title: blocked ? t("export.personal_blocked") : t("export.personal") },
                t("export.personal_short"),
              ),
            ]
          : null,
      ),
    );
  });
  const setAll = (checked) => boxes.forEach((b) => (b.checked = checked && !b.disabled));
  const errorSlot = h("p", { class: "field-error", id: `${boxes[0]?.id}-err`, hidden: true });
  const anyBlocked = columns.some((c) => c.personal && c.allowed === false);
  return h(
    "fieldset",
    { class: "column-picker" },
    h("legend", t("export.columns")),
    h(
      "div",
      { class: "column-tools" },
      h("button", { type: "button", class: "btn btn-small", onclick: () => setAll(true) }, t("export.all")),
      h("button", { type: "button", class: "btn btn-small", onclick: () => setAll(false) }, t("export.none")),
    ),
    h("ul", { class: "column-list" }, items),
    anyBlocked ? h("p", { class: "hint pdp-note", id: noteId }, t("export.personal_blocked")) : null,
    errorSlot,
  );
}

/** Open the dialog for the list's current filters (the tickets API's query); `button` is
 * busy while the columns load. */
export async function exportDialog({ query, button }) {
  const columns = await busy(button, () => api(`${T}/exports/columns`, { query: { lang: lang() } }));
  if (!columns) return;
  button.focus();
  const active = Object.entries(query).filter(([k, v]) => v && k !== "sort").length;
  await formDialog({
    title: t("export.title"),
    intro: active ? t("export.intro_filtered", { n: active }) : t("export.intro_all"),
    fields: [columnPicker(columns)],
    submitLabel: t("export.submit"),
    wide: true,
    onSubmit: async (_values, form) => {
      const chosen = Array.from(form.querySelectorAll("input[name=columns]:checked")).map((b) => b.value);
      if (!chosen.length) {
        const message = t("export.no_columns");
        throw new ApiError({ status: 422, code: "validation_error", message, fields: [{ field: "columns", message }] });
      }
      remember(chosen);
      const name = await download(`${T}/tickets/export.csv`, { query: { ...query, columns: chosen.join(","), lang: lang() }, fallbackName: "tiket.csv" });
      toast(t("doc.downloaded", { name }));
      return name;
    },
  });
}
