// Installable and offline: registers the service worker (/sw.js, which caches the app shell and the
// last data), gives it the calls this page shows as its offline copy, says when the page shows
// saved calls (the offline banner), and sends notifications through the worker.

import { fmtTime } from "./format.js";

const COPY_EVERY_MS = 15000; // the offline copy is refreshed at most this often while calls change

/** Register /sw.js for the whole site. Resolves to the registration, or null where there is none. */
export function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return Promise.resolve(null);
  return navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((err) => {
    console.warn("no offline support: the service worker did not register", err);
    return null;
  });
}

/** "3:04 PM" (with the date when not today) of a time in ms. */
export function clockOf(ms) {
  return fmtTime(new Date(ms).toISOString());
}

/** The banner sentence for a connection state, or "" when the page shows live data. */
export function offlineSentence(state) {
  const saw = state.savedAt ? `showing the last calls this device saw at ${clockOf(state.savedAt)}` : "";
  if (state.status === "offline") {
    return `Offline: ${saw || "no data cached yet on this device"}. It reconnects by itself when the network returns.`;
  }
  if (state.status !== "live" && state.fromCache) {
    return `Cannot reach the server: ${saw || "no data cached yet on this device"}. Retrying automatically.`;
  }
  return "";
}

export class OfflineBanner {
  constructor(el) {
    this.el = el;
  }

  update(state) {
    const text = offlineSentence(state);
    this.el.hidden = !text;
    if (this.el.textContent !== text) this.el.textContent = text;
    document.body.dataset.offline = state.status === "offline" ? "true" : "false";
  }
}

/**
 * Hands the worker the calls on screen, so the offline copy is what this device saw last (the
 * stream's changes included), not the snapshot the page started from. Only data that came from the
 * network is handed over: a copy of the copy would be stamped with the wrong time.
 */
export class OfflineCopy {
  constructor(store) {
    this.store = store;
    this.meta = null; // the last /current-calls/ body from the network, without its calls
    this.live = false;
    this.liveAt = null;
    this.timer = null;
    store.subscribe(() => this.soon());
    document.addEventListener("visibilitychange", () => { if (document.hidden) this.send(); });
    window.addEventListener("pagehide", () => this.send());
  }

  /** Every /current-calls/ body the page loads; ``fromCache`` when the worker answered it. */
  loaded(body, fromCache) {
    if (fromCache) {
      this.meta = null;
      return;
    }
    const { current_active_calls: _calls, ...meta } = body;
    this.meta = meta;
  }

  /** The connection state: the calls shown were current up to the last moment it was live. */
  status(state) {
    const wasLive = this.live;
    this.live = state.status === "live";
    if (this.live) this.liveAt = Date.now();
    else if (wasLive) { this.liveAt = Date.now(); this.send(); }
  }

  soon() {
    if (this.timer === null) this.timer = setTimeout(() => this.send(), COPY_EVERY_MS);
  }

  send() {
    clearTimeout(this.timer);
    this.timer = null;
    const worker = "serviceWorker" in navigator ? navigator.serviceWorker.controller : null;
    if (!worker || !this.meta || this.liveAt === null) return;
    const body = { ...this.meta, current_active_calls: this.store.all(), last_event_id: this.store.lastEventId };
    worker.postMessage({ type: "snapshot", seenAt: this.live ? Date.now() : this.liveAt, body });
  }
}

/**
 * A system notification, through the service worker where one is active (some browsers, Chrome on
 * Android among them, allow no other), else the page's own. ``onClick`` opens the call; a worker's
 * notification reaches it through ``onShowCall``. Resolves to "worker", "page" or null (none shown).
 */
export async function notify(title, options, onClick) {
  if (!("Notification" in window) || Notification.permission !== "granted") return null;
  const reg = "serviceWorker" in navigator ? await navigator.serviceWorker.getRegistration().catch(() => null) : null;
  if (reg && reg.active) {
    try {
      await reg.showNotification(title, options);
      return "worker";
    } catch { /* not allowed from the worker here: the page's own below */ }
  }
  try {
    const n = new Notification(title, options);
    n.onclick = () => { window.focus(); onClick(); };
    return "page";
  } catch {
    return null;
  }
}

/** A click on a worker's notification: the worker focuses this page and names the call. */
export function onShowCall(fn) {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("message", (e) => {
    const msg = e.data || {};
    if (msg.type === "show-call" && msg.incident) fn(String(msg.incident));
  });
  navigator.serviceWorker.startMessages();
}
