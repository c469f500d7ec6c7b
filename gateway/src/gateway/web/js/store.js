// The signed-in user and master data the screens share, loaded once and cached per page load.

import { api } from "./api.js";

export const state = { me: null };

const cache = new Map();

function cached(key, loader) {
  if (!cache.has(key)) {
    const promise = loader().catch((err) => {
      cache.delete(key);
      throw err;
    });
    cache.set(key, promise);
  }
  return cache.get(key);
}

export function invalidate(...keys) {
  if (!keys.length) cache.clear();
  for (const key of keys) cache.delete(key);
}

export const isStaff = () => ["agent", "admin", "leader"].includes(state.me?.role);
export const hasRole = (...roles) => roles.includes(state.me?.role);

/** Active categories (for forms); with inactive ones for names of old tickets. */
export const categories = ({ all = false } = {}) =>
  cached(all ? "categories:all" : "categories", () => api("/api/tickets/categories", { query: { include_inactive: all } }));

export const priorities = () => cached("priorities", () => api("/api/tickets/priorities"));

/** Units (SKPD) from identity; every signed-in user may list them. */
export const units = () =>
  cached("units", async () => {
    const items = [];
    for (let offset = 0; ; offset += 200) {
      const page = await api("/api/identity/units", { query: { limit: 200, offset } });
      items.push(...page.items);
      if (items.length >= page.total || !page.items.length) break;
    }
    return items.sort((a, b) => a.name.localeCompare(b.name));
  });

/** Active agents (Petugas) for assignment and filters. */
export const agents = () =>
  cached("agents", async () => {
    const page = await api("/api/identity/users", { query: { role: "agent", is_active: true, limit: 200 } });
    return page.items.sort((a, b) => a.full_name.localeCompare(b.full_name));
  });
