// Scheduled reports (#/schedules, #/schedules/new, #/schedules/<id>): leaders and
// administrators have the reports service e-mail a report (PDF) weekly or monthly to
// chosen people. A leader sees their own schedules, an administrator everyone's.

import { api } from "../api.js";
import { h, icon, replace } from "../dom.js";
import { t } from "../i18n.js";
import * as store from "../store.js";
import { activeBadge, confirmDialog, cursorList, errorText, fmtDate, fmtDateTime, pageHeader, table, timeEl, toast } from "../ui.js";
import { asPage, cadenceLabel, reportLabel, SCHEDULES, scheduleForm } from "./schedules/form.js";

const PAGE = 50;

function nextSend(s) {
  if (!s.is_active) return h("span", { class: "muted" }, t("sched.paused"));
  return [
    h("div", timeEl(s.due_at, fmtDateTime(s.due_at))),
    s.next_period_from ? h("small", { class: "muted" }, t("sched.period", { from: fmtDate(s.next_period_from), to: fmtDate(s.next_period_to) })) : null,
  ];
}

async function list({ el, isCurrent }) {
  const admin = store.state.me.role === "admin";
  el.append(
    pageHeader(t("sched.title"), h("a", { class: "btn btn-primary", href: "#/schedules/new", dataset: { action: "new-schedule" } }, icon("plus"), t("sched.new"))),
    h("p", { class: "intro" }, t(admin ? "sched.intro_admin" : "sched.intro")),
  );

  async function toggle(s) {
    try {
      await api(`${SCHEDULES}/${s.id}`, { method: "PATCH", body: { is_active: !s.is_active, version: s.version } });
      toast(s.is_active ? t("sched.disabled") : t("sched.enabled"));
      schedules.refresh();
    } catch (err) {
      toast(err.code === "version_mismatch" ? t("err.schedule_changed") : errorText(err), "error");
      schedules.refresh();
    }
  }

  async function remove(s) {
    const ok = await confirmDialog({ title: t("sched.delete"), message: t("sched.delete_confirm", { name: s.name }), confirmLabel: t("common.delete"), danger: true });
    if (!ok) return;
    try {
      await api(`${SCHEDULES}/${s.id}`, { method: "DELETE" });
      toast(t("sched.deleted"));
      schedules.reload();
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  const columns = [
    t("common.name"),
    t("sched.report"),
    t("sched.cadence"),
    t("sched.next"),
    t("sched.recipients"),
    t("common.status"),
    ...(admin ? [t("sched.owner")] : []),
    t("common.actions"),
  ];
  const schedules = cursorList({
    isCurrent,
    fetchPage: async (cursor, size) => asPage(await api(SCHEDULES, { query: { cursor, limit: Math.min(100, size || PAGE) } })),
    render: (items) =>
      table({
        caption: t("sched.title"),
        columns,
        empty: t("sched.empty"),
        className: "schedules-table",
        rows: items.map((s) => [
          h("a", { href: `#/schedules/${encodeURIComponent(s.id)}`, class: "schedule-name", dataset: { schedule: s.id } }, s.name),
          reportLabel(s.report),
          cadenceLabel(s.cadence),
          nextSend(s),
          String(s.recipient_ids?.length ?? 0),
          [activeBadge(s.is_active), s.last_error ? h("small", { class: "text-danger schedule-error" }, t("sched.last_error", { error: s.last_error })) : null],
          ...(admin ? [s.owner_name || t("common.none")] : []),
          h(
            "div",
            { class: "row-actions" },
            h("a", { class: "btn btn-small", href: `#/schedules/${encodeURIComponent(s.id)}` }, t("common.edit")),
            h("button", { type: "button", class: "btn btn-small", onclick: () => toggle(s) }, s.is_active ? t("sched.disable") : t("sched.enable")),
            h("button", { type: "button", class: "btn btn-small btn-danger-outline", onclick: () => remove(s) }, t("common.delete")),
          ),
        ]),
      }),
  });
  el.append(schedules.el);
  await schedules.load();
}

async function runs(schedule, { isCurrent }) {
  const columns = [t("sched.run.period"), t("common.status"), t("sched.run.at"), t("sched.recipients"), t("sched.run.file"), t("sched.run.detail")];
  const history = cursorList({
    isCurrent,
    fetchPage: async (cursor) => asPage(await api(`${SCHEDULES}/${schedule.id}/runs`, { query: { cursor, limit: PAGE } })),
    render: (items) =>
      table({
        caption: t("sched.runs"),
        columns,
        empty: t("sched.runs_empty"),
        rows: items.map((r) => [
          t("sched.period", { from: fmtDate(r.period_from), to: fmtDate(r.period_to) }),
          h("span", { class: ["badge", `run-${r.status}`] }, t(`sched.run.status.${r.status}`)),
          timeEl(r.generated_at, fmtDateTime(r.generated_at)),
          String(r.recipient_count ?? 0),
          r.filename ? [h("div", { class: "file-name" }, r.filename), r.size_bytes ? h("small", { class: "muted" }, `${Math.max(1, Math.round(r.size_bytes / 1024))} KB`) : null] : t("common.none"),
          r.detail ? h("small", { class: r.status === "failed" ? "text-danger" : "muted" }, r.detail) : t("common.none"),
        ]),
      }),
  });
  const section = h("section", { class: "card schedule-runs", "aria-labelledby": "sched-runs-title" }, h("h2", { id: "sched-runs-title" }, t("sched.runs")), h("p", { class: "muted" }, t("sched.runs_intro")), history.el);
  return { el: section, load: () => history.load() };
}

async function edit({ el, segments, isCurrent }) {
  const id = segments[1];
  const schedule = id === "new" ? null : await api(`${SCHEDULES}/${encodeURIComponent(id)}`);
  if (!isCurrent()) return;
  el.append(
    h("p", { class: "breadcrumb" }, h("a", { href: "#/schedules" }, t("sched.back"))),
    pageHeader(schedule ? t("sched.edit", { name: schedule.name }) : t("sched.new")),
    schedule
      ? h(
          "p",
          { class: "intro schedule-next" },
          schedule.is_active
            ? t("sched.next_line", { when: fmtDateTime(schedule.due_at), from: fmtDate(schedule.next_period_from), to: fmtDate(schedule.next_period_to) })
            : t("sched.inactive_line"),
          schedule.last_error ? h("span", { class: "text-danger" }, " ", t("sched.last_error", { error: schedule.last_error })) : null,
        )
      : h("p", { class: "intro" }, t("sched.new_intro")),
  );
  const form = await scheduleForm({ schedule, isCurrent });
  if (!isCurrent()) return;
  el.append(form);
  if (schedule) {
    const history = await runs(schedule, { isCurrent });
    el.append(history.el);
    await history.load();
  }
}

export async function render(ctx) {
  if (ctx.segments.length > 1) return edit(ctx);
  return list(ctx);
}
