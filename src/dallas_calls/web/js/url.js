// Filter state and the open call live in the URL hash: #call=25-0281995&p=1,2&div=Central&q=elm
// so a view can be bookmarked or shared, and /#call=<incident_number> deep-links to a call.
// "Near" is there too: #near=32.7791,-96.8003&r=1000&at=1500%20Main%20St (centre, radius in metres,
// and what was searched for, if anything). The History view's window: #view=history&win=24h, or
// &from=<ISO>&to=<ISO> for a window picked by its ends.

import { EMPTY_FILTERS } from "./state.js";
import { parseNear, writeNear } from "./near.js";

const KEYS = { q: "q", division: "div", nature: "type", status: "status", loc: "loc" };

export function readHash(hash = location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const filters = { ...EMPTY_FILTERS, priority: [] };
  for (const [field, key] of Object.entries(KEYS)) filters[field] = params.get(key) || "";
  const p = params.get("p");
  filters.priority = p ? p.split(",").filter((x) => ["1", "2", "3", "4", "unknown"].includes(x)) : [];
  return {
    filters,
    call: params.get("call") || null,
    cluster: params.get("cluster") !== "0",
    view: params.get("view") || null,
    near: parseNear(params),
    window: parseWindow(params),
    analytics: { range: params.get("range") || "", group: params.get("group") || "" },
  };
}

/** The History view's window: `win=24h|7d|sat` (a preset, relative to now) or `from=&to=` (ISO). */
function parseWindow(params) {
  const preset = params.get("win");
  if (["24h", "7d", "sat"].includes(preset)) return { preset };
  const from = Date.parse(params.get("from") || "");
  const to = Date.parse(params.get("to") || "");
  return Number.isFinite(from) && Number.isFinite(to) && to > from ? { startMs: from, endMs: to } : null;
}

export function buildHash({ filters, call, cluster, view, near, window: win, analytics }) {
  const params = new URLSearchParams();
  if (call) params.set("call", call);
  for (const [field, key] of Object.entries(KEYS)) if (filters[field]) params.set(key, filters[field]);
  if (filters.priority.length) params.set("p", filters.priority.join(","));
  if (cluster === false) params.set("cluster", "0");
  if (view && view !== "map") params.set("view", view);
  if (view === "history" && win && win.preset) params.set("win", win.preset);
  else if (view === "history" && win && win.startMs != null) {
    params.set("from", new Date(win.startMs).toISOString());
    params.set("to", new Date(win.endMs).toISOString());
  }
  writeNear(params, near);
  if (view === "analytics" && analytics) {
    if (analytics.range && analytics.range !== "7d") params.set("range", analytics.range);
    if (analytics.group && analytics.group !== "division") params.set("group", analytics.group);
  }
  const s = params.toString().replace(/%2C/g, ",");
  return s ? `#${s}` : "";
}

/** Write the hash. `push` adds a history entry (opening a call), otherwise it is replaced. */
export function writeHash(state, { push = false } = {}) {
  const hash = buildHash(state);
  if (hash === location.hash || (hash === "" && location.hash === "")) return;
  const url = `${location.pathname}${location.search}${hash}`;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}
