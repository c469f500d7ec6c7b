// The helpdesk web client: sign-in and session, the page frame, and hash routing
// (#/tickets, #/tickets/<id>, #/new, #/admin/users, ...). No framework, no build step.

import { api, configureAuth, session } from "./js/api.js";
import { $, h, icon, replace } from "./js/dom.js";
import { initLanguage, lang, onLanguageChange, roleLabel, setLanguage, t } from "./js/i18n.js";
import { navigate } from "./js/nav.js";
import { invalidate, state } from "./js/store.js";
import { errorBox, field, formValues, installFormValidation, pageHeader, setOfficeTimeZone, submitting } from "./js/ui.js";
import { stopTicketChanges } from "./js/ticketsLive.js";
import { bell } from "./js/views/notifications.js";

const AUTH = "/api/identity/auth";

// -- session ----------------------------------------------------------------------------

async function refreshTokens() {
  const refreshToken = session.refresh;
  if (!refreshToken) return false;
  try {
    const pair = await api(`${AUTH}/refresh`, { method: "POST", body: { refresh_token: refreshToken }, auth: false });
    const before = state.me;
    session.store(pair);
    state.me = pair.user;
    // The services refuse a token from before a role or unit change (401 token_outdated);
    // the refreshed one carries the new rights: the menu follows them at once, and what
    // was cached under the old ones (agents, units) is read again.
    if (before && (before.role !== pair.user.role || before.unit_id !== pair.user.unit_id)) {
      invalidate();
      renderFrame();
    }
    return true;
  } catch {
    return false;
  }
}

let expiredNotice = null;

function sessionExpired() {
  if (!state.me && !session.access) return;
  session.clear();
  state.me = null;
  bell.stop();
  stopTicketChanges();
  expiredNotice = t("login.session_expired");
  goLogin();
}

configureAuth({ refresh: refreshTokens, expired: sessionExpired });

async function login(username, password) {
  const pair = await api(`${AUTH}/login`, { method: "POST", body: { username, password }, auth: false });
  session.store(pair);
  state.me = pair.user;
}

async function logout() {
  const refreshToken = session.refresh;
  try {
    if (refreshToken) await api(`${AUTH}/logout`, { method: "POST", body: { refresh_token: refreshToken } });
  } catch {
    // Signing out here matters even if the server could not be told.
  }
  session.clear();
  state.me = null;
  invalidate();
  bell.stop();
  stopTicketChanges();
  expiredNotice = t("login.logged_out");
  location.hash = "#/login";
}

async function loadMe() {
  state.me = await api(`${AUTH}/me`);
  return state.me;
}

// Times are shown in the office's zone: the tickets service's setting, read once signed in
// (any role may read the office hours). Until it answers, ui.js's default (Asia/Jakarta).
let officeZoneAsked = false;
function loadOfficeTimeZone() {
  if (officeZoneAsked) return;
  officeZoneAsked = true;
  api("/api/tickets/office-hours")
    .then((hours) => {
      if (setOfficeTimeZone(hours.timezone)) route();
    })
    .catch(() => {
      // Not reachable now: the default zone stays; asked again on the next page.
      officeZoneAsked = false;
    });
}

// -- routing ----------------------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [pathPart, queryPart = ""] = raw.split("?");
  const segments = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  return { path: `/${segments.join("/")}`, segments, query: new URLSearchParams(queryPart) };
}

function defaultPath() {
  return state.me?.role === "leader" ? "/dashboard" : "/tickets";
}

let returnTo = null;

function goLogin() {
  const current = location.hash;
  if (current && !current.startsWith("#/login")) returnTo = current;
  if (location.hash === "#/login") route();
  else location.hash = "#/login";
}

const ROUTES = [
  { match: (s) => s[0] === "tickets" && s.length === 1, load: () => import("./js/views/tickets.js"), view: "list" },
  { match: (s) => s[0] === "tickets" && s.length === 2, load: () => import("./js/views/ticket.js"), view: "detail" },
  { match: (s) => s[0] === "new", load: () => import("./js/views/newticket.js"), roles: ["requester", "agent"] },
  { match: (s) => s[0] === "dashboard", load: () => import("./js/views/dashboard.js") },
  { match: (s) => s[0] === "notifications", load: () => import("./js/views/notifications.js"), view: "page" },
  { match: (s) => s[0] === "account" && s[1] === "notifications", load: () => import("./js/views/preferences.js") },
  { match: (s) => s[0] === "account", load: () => import("./js/views/account.js") },
  { match: (s) => s[0] === "schedules" && s.length <= 2, load: () => import("./js/views/schedules.js"), roles: ["leader", "admin"] },
  { match: (s) => s[0] === "admin", load: () => import("./js/views/admin.js"), roles: ["admin"] },
];

let routeToken = 0;

async function route() {
  const token = ++routeToken;
  const { path, segments, query } = parseHash();
  const main = $("#main");

  if (!state.me) {
    if (session.access) {
      try {
        await loadMe();
      } catch {
        session.clear();
        state.me = null;
      }
      if (token !== routeToken) return;
    }
  }
  if (!state.me) {
    if (path !== "/login") return goLogin();
    renderFrame();
    return renderLogin(main);
  }
  initLanguageOnce();
  loadOfficeTimeZone();
  renderFrame();
  bell.start();

  if (path === "/login" || path === "/") {
    const target = returnTo?.replace(/^#/, "");
    returnTo = null;
    return navigate(target && !target.startsWith("/login") ? target : defaultPath());
  }
  if (state.me.must_change_password && path !== "/account") return navigate("/account");

  const entry = ROUTES.find((r) => r.match(segments));
  const view = h("div", { class: "view" });
  replace(main, view);
  highlightNav(segments[0]);
  if (!entry) {
    view.append(pageHeader(t("app.not_found")), h("p", h("a", { href: "#/tickets" }, t("app.back_to_tickets"))));
    return;
  }
  if (entry.roles && !entry.roles.includes(state.me.role)) {
    view.append(pageHeader(t("app.forbidden")), h("p", h("a", { href: `#${defaultPath()}` }, t("app.back_to_tickets"))));
    return;
  }
  view.append(h("p", { class: "loading", role: "status" }, t("app.loading")));
  try {
    const module = await entry.load();
    if (token !== routeToken) return;
    const render = entry.view ? module.views[entry.view] : module.render;
    view.replaceChildren();
    await render({ el: view, segments, query, path, isCurrent: () => token === routeToken });
  } catch (err) {
    if (token !== routeToken) return;
    replace(view, errorBox(err));
  }
  if (token === routeToken && (document.activeElement === document.body || !document.activeElement)) {
    view.querySelector("h1")?.focus({ preventScroll: true });
  }
}

let languageInitialised = false;
function initLanguageOnce() {
  if (languageInitialised) return;
  languageInitialised = true;
  initLanguage(state.me?.language);
}

// -- frame: header, navigation ------------------------------------------------------------

function navLinks() {
  const role = state.me?.role;
  const links = [];
  if (role === "leader") links.push(["dashboard", "#/dashboard", t("nav.dashboard")]);
  links.push(["tickets", "#/tickets", t("nav.tickets")]);
  if (role === "requester" || role === "agent") links.push(["new", "#/new", t("nav.new")]);
  if (role !== "leader") links.push(["dashboard", "#/dashboard", t("nav.dashboard")]);
  if (role === "leader" || role === "admin") links.push(["schedules", "#/schedules", t("nav.schedules")]);
  if (role === "admin") links.push(["admin", "#/admin/users", t("nav.admin")]);
  return links;
}

function highlightNav(first) {
  for (const a of document.querySelectorAll(".nav a")) {
    if (a.dataset.section === first) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function langButton() {
  const other = lang() === "id" ? "en" : "id";
  return h(
    "button",
    { type: "button", class: "btn btn-ghost lang-toggle", lang: other, "aria-label": t("app.lang_toggle_label"), onclick: () => setLanguage(other) },
    icon("globe"),
    h("span", other.toUpperCase()),
  );
}

function renderFrame() {
  const header = $("#header");
  const me = state.me;
  document.title = t("app.name");
  $("[data-skip]").textContent = t("app.skip");
  const brand = h("a", { class: "brand", href: me ? `#${defaultPath()}` : "#/login" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "TI"), h("span", { class: "brand-name" }, t("app.name")));
  if (!me) {
    replace(header, h("div", { class: "topbar" }, brand, h("div", { class: "topbar-right" }, langButton())));
    return;
  }
  const section = parseHash().segments[0];
  const toggle = h("button", { type: "button", class: "btn btn-ghost menu-toggle", "aria-expanded": "false", "aria-controls": "nav-main" }, icon("menu"), h("span", { class: "visually-hidden" }, t("app.menu")));
  const nav = h(
    "nav",
    { class: "nav", id: "nav-main", "aria-label": t("nav.main") },
    h("ul", navLinks().map(([key, href, label]) => h("li", h("a", { href, dataset: { section: key }, "aria-current": key === section ? "page" : null }, label)))),
  );
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
  nav.addEventListener("click", (e) => {
    if (e.target.closest("a")) {
      nav.classList.remove("open");
      toggle.setAttribute("aria-expanded", "false");
    }
  });
  const user = h(
    "a",
    { class: "user", href: "#/account", title: t("nav.account") },
    h("span", { class: "user-name" }, me.full_name),
    h("span", { class: "user-role" }, roleLabel(me.role) + (me.unit ? ` · ${me.unit.code}` : "")),
  );
  const out = h("button", { type: "button", class: "btn btn-ghost", onclick: logout, title: t("nav.logout") }, icon("logout"), h("span", { class: "hide-sm" }, t("nav.logout")));
  replace(header, h("div", { class: "topbar" }, toggle, brand, nav, h("div", { class: "topbar-right" }, langButton(), bell.element(), user, out)));
}

// -- sign-in page ---------------------------------------------------------------------------

function renderLogin(main) {
  const form = h(
    "form",
    { class: "login-form", novalidate: true },
    h("div", { class: "form-alert" }),
    field({ name: "username", label: t("login.username"), required: true, attrs: { autocomplete: "username", autocapitalize: "none", spellcheck: "false", maxlength: 256 } }),
    field({ name: "password", label: t("login.password"), type: "password", required: true, attrs: { autocomplete: "current-password", maxlength: 1024 } }),
    h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("login.submit")),
  );
  const notice = expiredNotice ? h("div", { class: "alert alert-info", role: "status" }, expiredNotice) : null;
  expiredNotice = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { username, password } = formValues(form, { keepEmpty: true });
    let refusal = null;
    const ok = await submitting(form, async () => {
      try {
        await login(username, password);
      } catch (err) {
        refusal = err;
        throw err;
      }
      return true;
    });
    if (ok) {
      languageInitialised = false;
      const target = returnTo?.replace(/^#/, "");
      returnTo = null;
      navigate(target && !target.startsWith("/login") ? target : defaultPath());
    } else if (refusal?.code === "invalid_credentials") {
      // A password known to be wrong is typed again; after any other refusal (network,
      // too many attempts) what was typed stays.
      form.elements.password.value = "";
      form.elements.password.focus();
    }
  });
  replace(
    main,
    h(
      "div",
      { class: "login-page" },
      h(
        "section",
        { class: "card login-card", "aria-labelledby": "login-title" },
        h("h1", { id: "login-title", tabindex: "-1" }, t("login.title")),
        h("p", { class: "muted" }, t("app.tagline")),
        notice,
        form,
      ),
      h("p", { class: "footnote" }, h("a", { href: "/api/docs" }, t("app.api_docs"))),
    ),
  );
  form.elements.username.focus();
}

// -- start ----------------------------------------------------------------------------------

$("[data-skip]").addEventListener("click", (e) => {
  // The address holds the route: move focus instead of following "#main".
  e.preventDefault();
  $("#main").focus();
});
onLanguageChange(() => route());
installFormValidation();
window.addEventListener("hashchange", route);
window.addEventListener("helpdesk:me", (e) => {
  state.me = e.detail;
  renderFrame();
});
initLanguage(null);
route();
