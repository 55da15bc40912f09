// Area alerts: saved areas (a centre and a radius, or a drawn box; optionally some priorities and a
// call type), kept in localStorage. While the page is open, each new call that lands in one gives a
// toast in the page and, with the user's permission, a system notification (through the service
// worker when one is active: offline.js notify; its click comes back as a "show-call" message).
// The page holds every open call for its map, so matching is done here on the client, with the
// same rules as the server's ?near= / ?bbox= stream filter (for clients that want only their area's events).

import { addressOf, esc, hasPoint, natureText, priorityKey, priorityShort } from "./format.js";
import { boxArea, describeArea, withinNear } from "./near.js";
import { notify } from "./offline.js";

const KEY = "dallas-calls.alerts";
const MAX_ALERTS = 20;
const MAX_TOASTS = 4;
const PRIORITY_KEYS = ["1", "2", "3", "4", "unknown"];

/** The area of a stored alert (a circle or a box), or null when it is malformed. */
function areaOf(a) {
  if (!a || typeof a !== "object") return null;
  if (Array.isArray(a.box) && a.box.length === 4) return boxArea(...a.box, String(a.label || ""));
  const ok = Number.isFinite(a.lat) && Number.isFinite(a.lon) && Number.isFinite(a.r) && a.r > 0;
  return ok ? { lat: a.lat, lon: a.lon, r: a.r, label: String(a.label || "") } : null;
}

/** The saved alerts (anything malformed in storage is dropped). */
export function loadAlerts(storage = localStorage) {
  try {
    const list = JSON.parse(storage.getItem(KEY) || "[]");
    return Array.isArray(list)
      ? list.filter(areaOf).map((a) => ({
        ...areaOf(a),
        id: String(a.id || `${a.lat},${a.lon},${a.r || a.box}`),
        priorities: Array.isArray(a.priorities) ? a.priorities.filter((p) => PRIORITY_KEYS.includes(p)) : [],
        natures: Array.isArray(a.natures) ? a.natures.map(String) : [],
      }))
      : [];
  } catch {
    return [];
  }
}

export function saveAlerts(list, storage = localStorage) {
  try { storage.setItem(KEY, JSON.stringify(list)); } catch { /* storage full or disabled */ }
}

/** Does this call fall in the alert's area (and its priorities and call types, when it has some)? */
export function alertMatches(alert, call) {
  if (!hasPoint(call)) return false;
  if (alert.priorities.length && !alert.priorities.includes(priorityKey(call))) return false;
  if (alert.natures.length && !alert.natures.includes(call.nature_of_call || "")) return false;
  return withinNear(call, alert);
}

export function describeAlert(a) {
  const words = describeArea(a);
  const parts = [`${words[0].toUpperCase()}${words.slice(1)}`];
  if (a.priorities.length) parts.push(a.priorities.map((p) => (p === "unknown" ? "P?" : `P${p}`)).join(", "));
  if (a.natures.length) parts.push(a.natures.map(natureText).join(", "));
  return parts.join(" · ");
}

export class AreaAlerts {
  constructor({ add, list, toasts }, { onShow }) {
    this.el = { add, list, toasts };
    this.onShow = onShow;
    this.alerts = loadAlerts();
    this.near = null;
    this.filters = null;
    this.newIds = new Set(); // calls opened while the page is open
    this.alerted = new Set(); // calls already announced
    add.addEventListener("click", () => this.addCurrent());
    list.addEventListener("click", (e) => {
      const b = e.target.closest("[data-remove]");
      if (b) this.remove(b.dataset.remove);
    });
    toasts.addEventListener("click", (e) => {
      const show = e.target.closest("[data-show]");
      if (show) this.onShow(show.dataset.show);
      const toast = e.target.closest(".toast");
      if (toast && (show || e.target.closest("[data-dismiss]"))) toast.remove();
    });
    this.render();
  }

  /** The area and filters on screen: "Alert me here" saves them. */
  setContext(near, filters) {
    this.near = near;
    this.filters = filters;
    this.el.add.hidden = !near;
  }

  addCurrent() {
    const n = this.near;
    if (!n) return;
    const f = this.filters || { priority: [], nature: "" };
    const alert = {
      id: `a${Date.now().toString(36)}`,
      ...(n.box ? { box: n.box, lat: n.lat, lon: n.lon } : { lat: n.lat, lon: n.lon, r: n.r }),
      label: n.label || "",
      priorities: [...f.priority],
      natures: f.nature ? [f.nature] : [],
    };
    this.alerts = [...this.alerts.filter((a) => describeAlert(a) !== describeAlert(alert)), alert].slice(-MAX_ALERTS);
    saveAlerts(this.alerts);
    this.render();
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission().catch(() => {});
  }

  remove(id) {
    this.alerts = this.alerts.filter((a) => a.id !== id);
    saveAlerts(this.alerts);
    this.render();
  }

  render() {
    this.el.list.innerHTML = this.alerts.map((a) => `<li class="alert-item">
        <span>${esc(describeAlert(a))}</span>
        <button type="button" class="link" data-remove="${esc(a.id)}" aria-label="${esc(`Remove the alert: ${describeAlert(a)}`)}">Remove</button>
      </li>`).join("");
    this.el.list.hidden = this.alerts.length === 0;
  }

  /** A change from the store: a new call (or a new call just located) may match an alert. */
  consider(change) {
    if (change.kind === "load") return;
    const call = change.call;
    const id = call && call.incident_number;
    if (!id) return;
    if (change.kind === "opened" && change.fresh) this.newIds.add(id);
    if (change.kind === "closed") { this.newIds.delete(id); return; }
    if (!this.newIds.has(id) || this.alerted.has(id)) return;
    const hit = this.alerts.find((a) => alertMatches(a, call));
    if (!hit) return;
    this.alerted.add(id);
    this.announce(call, hit);
  }

  announce(call, alert) {
    const title = `New ${priorityShort(call)} call ${alert.label ? `near ${alert.label}` : "in your area"}`;
    const body = `${natureText(call.nature_of_call)}, ${addressOf(call)}`;
    const toast = document.createElement("div");
    toast.className = "toast";
    toast.dataset.incident = call.incident_number;
    toast.innerHTML = `<p><b>${esc(title)}</b><br>${esc(body)}</p>
      <button type="button" class="btn" data-show="${esc(call.incident_number)}">Show</button>
      <button type="button" class="icon-btn" data-dismiss aria-label="Dismiss">✕</button>`;
    this.el.toasts.append(toast);
    while (this.el.toasts.children.length > MAX_TOASTS) this.el.toasts.firstElementChild.remove();
    const id = call.incident_number;
    this.notified = notify(title, { body, tag: id, icon: "/static/icons/icon-192.png", data: { incident: id } }, () => this.onShow(id));
  }
}
