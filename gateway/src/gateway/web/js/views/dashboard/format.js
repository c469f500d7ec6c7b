// Numbers, rates, working-time durations and office-local dates for the dashboard.

import { channelLabel, locale, t } from "../../i18n.js";

export const NONE = () => t("common.none");

export function fmtCount(n) {
  if (n === null || n === undefined) return NONE();
  return new Intl.NumberFormat(locale()).format(n);
}

/** A bar's CSS width: none for zero, at least a sliver for anything else. */
export const barWidth = (count, max) => (count > 0 ? `${Math.max(2, (100 * count) / max)}%` : "0");

/** 95.5 -> "95,5%" (id) / "95.5%" (en); null (nothing to measure) -> "—". */
export function fmtPercent(p) {
  if (p === null || p === undefined) return NONE();
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(p / 100);
}

/** Working seconds, readable: "< 1 menit", "45 menit", "2 jam 15 menit", "41 jam". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return NONE();
  if (seconds < 60) return t("dash.dur.under_minute");
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return t("common.minutes", { n: minutes });
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours >= 24 || rest === 0) return t("common.hours", { n: Math.round(minutes / 60) });
  return `${t("common.hours", { n: hours })} ${t("common.minutes", { n: rest })}`;
}

// -- dates (YYYY-MM-DD strings, office-local) ------------------------------------------------

/** Today in the office's time zone, as YYYY-MM-DD. */
export function todayIn(timeZone) {
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-GB", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date());
  } catch {
    parts = new Intl.DateTimeFormat("en-GB", { year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date());
  }
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

const asUtc = (iso) => {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
};
const isoOf = (date) => date.toISOString().slice(0, 10);

export function addDays(iso, n) {
  const d = asUtc(iso);
  d.setUTCDate(d.getUTCDate() + n);
  return isoOf(d);
}

export const daysBetween = (from, to) => Math.round((asUtc(to) - asUtc(from)) / 86400000);

/** The quick period choices, ending today (office-local). */
export function quickRanges(today) {
  return [
    ["today", today, today],
    ["7d", addDays(today, -6), today],
    ["month", `${today.slice(0, 8)}01`, today],
    ["year", `${today.slice(0, 5)}01-01`, today],
  ];
}

/** A grouping that gives a readable number of points for a period. */
export function autoGroupBy(from, to) {
  const days = daysBetween(from, to) + 1;
  if (days <= 31) return "day";
  if (days <= 120) return "week";
  if (days <= 3 * 366) return "month";
  return "year";
}

function dateFmt(options) {
  return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", ...options });
}

/** "4 Des 2026" */
export const fmtDay = (iso) => dateFmt({ day: "numeric", month: "short", year: "numeric" }).format(asUtc(iso));

/** A chart label for the period starting on `iso`. */
export function periodLabel(iso, groupBy) {
  const d = asUtc(iso);
  if (groupBy === "year") return dateFmt({ year: "numeric" }).format(d);
  if (groupBy === "month") return dateFmt({ month: "short", year: "numeric" }).format(d);
  const day = dateFmt({ day: "numeric", month: "short" }).format(d);
  return groupBy === "week" ? t("dash.trend.week_of", { date: day }) : day;
}

// -- names of dimension keys ------------------------------------------------------------------

// channelLabel lives in i18n.js (the ticket pages use it too); kept here for the dashboard's modules.
export { channelLabel };

/** A breakdown row's name: the server's, else a known label, else "(none)". */
export function rowName(by, row) {
  if (by === "channel" && row.key) return channelLabel(row.key);
  if (row.name) return row.name;
  if (row.key === null || row.key === undefined || row.key === "") return t(`dash.none.${by}`);
  return row.key;
}
