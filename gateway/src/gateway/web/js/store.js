// The signed-in user and master data the screens share, loaded once and cached per page load.

import { api, fetchAll } from "./api.js";

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

/** Every page of one of identity's lists (cursor pages of at most 200). */
async function everything(path, query = {}) {
  const { items } = await fetchAll(path, query, { max: Infinity, pageSize: 200 });
  return items;
}

/** Units (SKPD) from identity; every signed-in user may list them. */
export const units = () =>
  cached("units", async () => (await everything("/api/identity/units")).sort((a, b) => a.name.localeCompare(b.name)));

/** Active agents (Petugas) for assignment and filters. */
export const agents = () =>
  cached("agents", async () =>
    (await everything("/api/identity/users", { role: "agent", is_active: true })).sort((a, b) => a.full_name.localeCompare(b.full_name)),
  );

/** Active requesters of a unit (an agent files a ticket for one of them). */
export const requestersOf = (unitId) => everything("/api/identity/users", { unit_id: unitId, role: "requester", is_active: true });

/** What the attachments service accepts from this user (types, sizes, kinds, scanning). */
export const attachmentPolicy = () => cached("attachments:policy", () => api("/api/attachments/policy"));
