// The row of views over the ticket list: the built-in views of the user's role and the views
// they saved, each a link to the list with its filters and the number of tickets it holds;
// "Simpan tampilan" saves the current filters, and the active saved view can be renamed,
// moved earlier or deleted.

import { api } from "../../api.js";
import { h } from "../../dom.js";
import { locale, t } from "../../i18n.js";
import { navigate } from "../../nav.js";
import { confirmDialog, field, formDialog, toast } from "../../ui.js";

const VIEWS = "/api/tickets/views";
export const OPEN = "new,in_progress,pending";
export const DEFAULT_SORT = "-created_at";

/** A number as the language writes it (10.000 / 10,000). */
export function fmtCount(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

/** "123" or "10.000+" for a capped count. */
export function countText(count, exact) {
  return exact ? fmtCount(count) : `${fmtCount(count)}+`;
}

/** The API's parameters without empty values and the default sort, in a stable order. */
export function canonical(params) {
  const out = {};
  for (const key of Object.keys(params).sort()) {
    const value = params[key];
    if (value === undefined || value === null || value === "") continue;
    if (key === "sort" && value === DEFAULT_SORT) continue;
    out[key] = String(value);
  }
  return out;
}

/** The list's API parameters (query-string text) as a saved view's filters: the API takes
 * each with the list's type, so statuses are a list and "overdue" a boolean. */
export function filtersOf(params) {
  const out = {};
  for (const [key, value] of Object.entries(canonical(params))) {
    if (key === "status") out.status = [value];
    else if (key === "overdue") out.overdue = value === "true" || value === "1";
    else out[key] = value;
  }
  return out;
}

const same = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

/** The list's address (#/tickets?...) for a view's API parameters. */
export function addressOf(params) {
  const query = {};
  for (const [key, value] of Object.entries(canonical(params))) {
    if (key === "status" && value === OPEN) query.status = "open";
    else if (key === "overdue") query.overdue = value === "true" ? "1" : undefined;
    else query[key] = value;
  }
  return query;
}

function viewName(view) {
  return view.builtin ? t(`queues.view.${view.key}`) : view.name;
}

function nameField(value) {
  return field({ name: "name", label: t("queues.name"), value, required: true, attrs: { maxlength: 60, autocomplete: "off" } });
}

/**
 * viewStrip({current}) -> {el, refresh()}: `current` is the list's API parameters now.
 * refresh() fetches the views and their counts again (live updates).
 */
export function viewStrip({ current }) {
  const list = h("ul", { class: "view-tabs", role: "list" });
  const tools = h("div", { class: "view-tools" });
  const el = h("nav", { class: "views-bar", "aria-label": t("queues.views") }, list, tools);
  let views = [];

  function chip(view) {
    const active = same(view.params, current);
    const count = view.count === null ? null : countText(view.count, view.count_exact);
    const title = view.count === null ? null : t(view.count_exact ? "queues.count_title" : "queues.count_more_title", { n: fmtCount(view.count) });
    const link = h(
      "a",
      {
        class: ["view-tab", view.builtin ? "is-builtin" : "is-saved"],
        href: `#/tickets${queryString(addressOf(view.params))}`,
        "aria-current": active ? "page" : null,
        dataset: { view: view.key || view.id },
        title,
      },
      h("span", { class: "view-name" }, viewName(view)),
      count === null ? null : h("span", { class: "view-count", dataset: { count: String(view.count), exact: String(view.count_exact) } }, count),
    );
    return h("li", link);
  }

  function render() {
    list.replaceChildren(...views.map(chip));
    const active = views.find((v) => !v.builtin && same(v.params, current));
    const matchesAny = views.some((v) => same(v.params, current));
    const save = h("button", { type: "button", class: "btn btn-small", dataset: { action: "save-view" } }, t("queues.save"));
    save.addEventListener("click", saveCurrent);
    tools.replaceChildren(...[matchesAny ? null : save, active ? savedTools(active) : null].filter(Boolean));
  }

  function savedTools(view) {
    const index = views.filter((v) => !v.builtin).indexOf(view);
    const rename = h("button", { type: "button", class: "btn btn-small btn-ghost", dataset: { action: "rename-view" } }, t("queues.rename"));
    const left = h("button", { type: "button", class: "btn btn-small btn-ghost", dataset: { action: "move-view" }, disabled: index <= 0 }, t("queues.move_left"));
    const remove = h("button", { type: "button", class: "btn btn-small btn-ghost btn-danger-outline", dataset: { action: "delete-view" } }, t("queues.delete"));
    rename.addEventListener("click", async () => {
      const done = await formDialog({
        title: t("queues.rename_title"),
        fields: [nameField(view.name)],
        onSubmit: (values) => api(`${VIEWS}/${encodeURIComponent(view.id)}`, { method: "PATCH", body: { name: values.name } }),
      });
      if (done) {
        toast(t("queues.renamed"));
        await refresh();
      }
    });
    left.addEventListener("click", async () => {
      await api(`${VIEWS}/${encodeURIComponent(view.id)}`, { method: "PATCH", body: { position: index - 1 } }).catch((err) => toast(err.message, "error"));
      await refresh();
    });
    remove.addEventListener("click", async () => {
      const ok = await confirmDialog({ title: t("queues.delete_title", { name: view.name }), message: t("queues.delete_intro"), confirmLabel: t("common.delete"), danger: true });
      if (!ok) return;
      try {
        await api(`${VIEWS}/${encodeURIComponent(view.id)}`, { method: "DELETE" });
        toast(t("queues.deleted"));
        navigate("/tickets", {});
      } catch (err) {
        toast(err.message, "error");
      }
    });
    return h("div", { class: "view-actions", role: "group", "aria-label": t("queues.view_actions", { name: view.name }) }, rename, left, remove);
  }

  async function saveCurrent() {
    const saved = await formDialog({
      title: t("queues.save_title"),
      intro: t("queues.save_intro"),
      fields: [nameField("")],
      onSubmit: (values) => api(VIEWS, { method: "POST", body: { name: values.name, params: filtersOf(current) } }),
    });
    if (saved) {
      toast(t("queues.saved", { name: saved.name }));
      await refresh();
    }
  }

  async function refresh() {
    try {
      views = await api(VIEWS);
    } catch {
      // The list works without its views: they come back with the next refresh.
      return;
    }
    render();
  }

  return { el, refresh };
}

function queryString(query) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== "")).toString();
  return q ? `?${q}` : "";
}
