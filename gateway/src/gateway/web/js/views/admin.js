// Administration (#/admin/<section>): a tab list of sections, each in its own module.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { pageHeader } from "../ui.js";

const SECTIONS = [
  ["users", () => import("./admin/people.js"), "users"],
  ["units", () => import("./admin/people.js"), "units"],
  ["organisation", () => import("./admin/organisation.js"), "organisation"],
  ["categories", () => import("./admin/masterdata.js"), "categories"],
  ["priorities", () => import("./admin/masterdata.js"), "priorities"],
  ["rules", () => import("./admin/masterdata.js"), "rules"],
  ["calendar", () => import("./admin/masterdata.js"), "calendar"],
  ["smtp", () => import("./admin/mail.js"), "smtp"],
  ["deliveries", () => import("./admin/mail.js"), "deliveries"],
  ["mailboxes", () => import("./admin/integrations.js"), "mailboxes"],
  ["channels", () => import("./admin/integrations.js"), "channels"],
  ["webhooks", () => import("./admin/integrations.js"), "webhooks"],
  ["triage", () => import("./admin/triage.js"), "triage"],
  ["audit", () => import("./admin/audit.js"), "audit"],
  ["exports", () => import("./admin/exports.js"), "exports"],
];

export async function render(ctx) {
  const name = ctx.segments[1] || "users";
  const section = SECTIONS.find(([key]) => key === name);
  const tabs = h(
    "nav",
    { class: "subnav", "aria-label": t("nav.admin_sections") },
    h(
      "ul",
      SECTIONS.map(([key]) =>
        h("li", h("a", { href: `#/admin/${key}`, "aria-current": key === name ? "page" : null }, t(`admin.${key}`))),
      ),
    ),
  );
  ctx.el.append(pageHeader(`${t("admin.title")}: ${section ? t(`admin.${name}`) : "?"}`), tabs);
  // The tab list scrolls sideways on a narrow screen: the current tab in view.
  tabs.querySelector("[aria-current=page]")?.scrollIntoView({ block: "nearest", inline: "nearest" });
  if (!section) {
    ctx.el.append(h("p", t("app.not_found")));
    return;
  }
  const body = h("div", { class: "admin-body" });
  ctx.el.append(body);
  const module = await section[1]();
  if (!ctx.isCurrent()) return;
  await module.sections[section[2]]({ ...ctx, el: body });
}
