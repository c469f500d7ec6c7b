// Navigation and app-wide signals without importing the app module (no import cycles).

/** Go to a hash route: navigate("/tickets", {status: "new"}). Re-renders if already there. */
export function navigate(path, query) {
  const q = query ? new URLSearchParams(query).toString() : "";
  const target = `#${path}${q ? `?${q}` : ""}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

/** Tell the app that the signed-in user changed (profile, password, language). */
export function userChanged(me) {
  window.dispatchEvent(new CustomEvent("helpdesk:me", { detail: me }));
}
