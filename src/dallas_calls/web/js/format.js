// Small pure helpers for text, times and call attributes. No DOM, no state.

export const TZ = "America/Chicago";

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

export const PRIORITIES = ["1", "2", "3", "4", "unknown"];
export const PRIORITY_NAMES = {
  1: "Priority 1 — emergency",
  2: "Priority 2 — urgent",
  3: "Priority 3 — general",
  4: "Priority 4 — non-urgent",
  unknown: "Priority unknown",
};

export function priorityKey(call) {
  const p = call && call.priority;
  return p === 1 || p === 2 || p === 3 || p === 4 ? String(p) : "unknown";
}

export function priorityShort(call) {
  const k = priorityKey(call);
  return k === "unknown" ? "P?" : `P${k}`;
}

/** "6X - Major Dist (Violence)" -> {code: "6X", text: "Major Dist (Violence)"}. */
export function splitNature(nature) {
  const s = String(nature ?? "").trim();
  const m = s.match(/^([0-9A-Z/*]{1,7})\s*-\s*(\S.*)$/i);
  if (m) return { code: m[1].toUpperCase(), text: m[2] };
  return { code: "", text: s || "Unknown call type" };
}

/** "Other (40/01)": the call type with its code, so "40 - Other" and "40/01 - Other" stay apart. */
export function natureText(nature) {
  const { code, text } = splitNature(nature);
  return code ? `${text} (${code})` : text;
}

/** Short marker label for a call: the dispatch code when the feed has one. */
export function natureCode(call) {
  const { code, text } = splitNature(call.nature_of_call);
  if (code) return code.length > 5 ? code.slice(0, 5) : code;
  return (text.replace(/[^A-Za-z0-9]/g, "").slice(0, 2) || "?").toUpperCase();
}

export function addressOf(call) {
  const block = (call.block ?? "").toString().trim();
  const loc = (call.location ?? "").toString().trim();
  if (block && loc) return `${block} block of ${loc}`;
  return loc || block || "Location not given";
}

export function hasPoint(call) {
  const g = call && call.geo;
  return !!g && typeof g.lat === "number" && typeof g.lon === "number" && g.precision !== "none";
}

/** "exact" (address, intersection), "street", "beat" (a reporting area's or beat's centre) or "none". */
export function precisionClass(call) {
  if (!hasPoint(call)) return "none";
  const p = call.geo.precision;
  if (p === "address" || p === "intersection") return "exact";
  if (p === "street") return "street";
  return "beat";
}

export const PRECISION_TEXT = {
  address: "Address (interpolated on the block)",
  intersection: "Intersection",
  street: "Street only (somewhere along it)",
  reporting_area: "Approximate: centre of the police reporting area",
  beat: "Approximate: centre of the police beat",
  none: "Not located",
};

export function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

const timeFmt = new Intl.DateTimeFormat("en-US", { timeZone: TZ, hour: "numeric", minute: "2-digit" });
const timeSecFmt = new Intl.DateTimeFormat("en-US", {
  timeZone: TZ, hour: "numeric", minute: "2-digit", second: "2-digit",
});
const dateTimeFmt = new Intl.DateTimeFormat("en-US", {
  timeZone: TZ, month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
});
const dayFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });
const hourFmt = new Intl.DateTimeFormat("en-US", { timeZone: TZ, hour: "numeric" });

/** Clock time in Dallas; with the date when not today (Dallas time). */
export function fmtTime(iso, now = Date.now()) {
  const t = parseTime(iso);
  if (t === null) return "—";
  const sameDay = dayFmt.format(t) === dayFmt.format(now);
  return sameDay ? timeFmt.format(t) : dateTimeFmt.format(t);
}

export function fmtClock(ms) {
  return ms == null ? "—" : timeSecFmt.format(ms);
}

export function fmtHour(iso) {
  const t = parseTime(iso);
  return t === null ? "" : hourFmt.format(t);
}

/** Compact age: "45 s", "12 min", "3 h 05", "2 d 4 h". */
export function fmtAge(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")}`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function ageOf(call, now = Date.now()) {
  const t = parseTime(call.received_at);
  return t === null ? null : (now - t) / 1000;
}

export function titleCase(s) {
  const str = String(s ?? "");
  if (str !== str.toUpperCase()) return str; // already mixed case: leave it alone
  return str.toLowerCase().replace(/\b([a-z])/g, (c) => c.toUpperCase());
}
