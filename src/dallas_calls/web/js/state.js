// The client's model of the open calls: a map keyed by incident number, changed only by
// load() (a full /current-calls/ body) and apply() (one event). Views subscribe to changes.

import { hasPoint, parseTime, precisionClass, priorityKey, splitNature } from "./format.js";

export class CallStore {
  constructor() {
    this.calls = new Map();
    this.lastEventId = 0;
    this.listeners = new Set();
    this.lastChangeAt = null; // ms, client clock
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(change) {
    this.lastChangeAt = Date.now();
    for (const fn of this.listeners) fn(change);
  }

  /** Replace everything with a /current-calls/ body. */
  load(body) {
    this.calls.clear();
    for (const call of body.current_active_calls || []) this.calls.set(call.incident_number, call);
    this.lastEventId = Number(body.last_event_id) || 0;
    this.emit({ kind: "load" });
  }

  /**
   * Apply one event envelope {id, type, at, data}. Returns false for an event already applied
   * (id not above lastEventId), so a resumed stream never applies a change twice.
   */
  apply(ev) {
    const id = Number(ev.id);
    if (Number.isFinite(id) && id <= this.lastEventId) return false;
    if (Number.isFinite(id)) this.lastEventId = id;
    const data = ev.data || {};
    switch (ev.type) {
      case "call.opened":
      case "call.updated": {
        const call = data.call;
        if (!call) return true;
        const existed = this.calls.has(call.incident_number);
        // an update never drops a geo the client already has from location.resolved
        const prev = this.calls.get(call.incident_number);
        if (prev && prev.geo && !call.geo) call.geo = prev.geo;
        this.calls.set(call.incident_number, call);
        this.emit({
          kind: existed ? "updated" : "opened",
          call,
          changes: data.changes || null,
          fresh: ev.type === "call.opened",
        });
        return true;
      }
      case "call.closed": {
        const call = data.call;
        if (!call) return true;
        const had = this.calls.delete(call.incident_number);
        if (had) this.emit({ kind: "closed", call });
        return true;
      }
      case "location.resolved": {
        const nums = data.incident_numbers || [];
        const touched = [];
        for (const call of this.calls.values()) {
          if (nums.includes(call.incident_number) || (data.location_key && call.location_key === data.location_key)) {
            call.geo = data.geo;
            touched.push(call);
          }
        }
        for (const call of touched) this.emit({ kind: "updated", call, changes: { geo: [null, data.geo] } });
        return true;
      }
      default:
        return true;
    }
  }

  get(id) {
    return this.calls.get(id);
  }

  all() {
    return [...this.calls.values()];
  }
}

// ---------------------------------------------------------------- filters

export const EMPTY_FILTERS = Object.freeze({ q: "", priority: [], division: "", nature: "", status: "", loc: "" });

export function isFiltered(f) {
  return !!(f.q || f.priority.length || f.division || f.nature || f.status || f.loc);
}

/** Text searched by the box: street, nature, incident number, beat, division, units. */
function haystack(call) {
  const units = (call.units || []).map((u) => u.unit_number).join(" ");
  return [call.incident_number, call.block, call.location, call.nature_of_call, call.beat,
    call.division, call.reporting_area, units].join(" ").toLowerCase();
}

export function natureLabel(call) {
  return splitNature(call.nature_of_call).text ? (call.nature_of_call || "Unknown") : "Unknown";
}

export function matches(call, f) {
  if (f.priority.length && !f.priority.includes(priorityKey(call))) return false;
  if (f.division && (call.division || "") !== f.division) return false;
  if (f.nature && (call.nature_of_call || "") !== f.nature) return false;
  if (f.status && (call.status || "") !== f.status) return false;
  if (f.loc) {
    const p = precisionClass(call);
    if (f.loc === "exact" && !(p === "exact" || p === "street")) return false;
    if (f.loc === "approx" && p !== "beat") return false;
    if (f.loc === "none" && p !== "none") return false;
  }
  if (f.q) {
    const h = haystack(call);
    for (const word of f.q.toLowerCase().split(/\s+/).filter(Boolean)) {
      if (!h.includes(word)) return false;
    }
  }
  return true;
}

/** Newest received first; unknown times last; ties by incident number. */
export function byReceivedDesc(a, b) {
  const ta = parseTime(a.received_at) ?? -Infinity;
  const tb = parseTime(b.received_at) ?? -Infinity;
  if (ta !== tb) return tb - ta;
  return String(b.incident_number).localeCompare(String(a.incident_number));
}

export function located(call) {
  return hasPoint(call);
}
