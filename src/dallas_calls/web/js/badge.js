// The live badge: live / replay / reconnecting / stale / offline / connecting, with the time of the
// last update (offline, or showing saved calls: the time those calls were seen).
// "Replay" whenever the server shows recorded calls (a replay or the demo): never "Live".
// "Stale" comes from /readyz: the feed's last good poll is older than 3 poll intervals (or the
// server says it is not ready), even while our stream is connected.

import { fmtAge, fmtClock } from "./format.js";

const READY_EVERY_MS = 15000;
// "stale" = the feed's last good poll is older than 3 poll intervals; never less than this, so a
// very short poll interval (tests, replays) does not flicker between live and stale.
const STALE_FLOOR_S = 10;

export class LiveBadge {
  constructor(el, { pollIntervalS = 60, onRetry }) {
    this.el = el;
    this.label = el.querySelector("#live-badge-label");
    this.time = el.querySelector("#live-badge-time");
    this.pollIntervalS = pollIntervalS;
    this.conn = { status: "connecting" };
    this.ready = null; // last /readyz body
    this.lastUpdate = null;
    this.mode = "live";
    el.addEventListener("click", () => onRetry && onRetry());
    setInterval(() => this.checkReady(), READY_EVERY_MS);
    setInterval(() => this.render(), 1000);
  }

  setConnection(state) {
    const wasLive = this.conn.status === "live";
    this.conn = state;
    if (state.status === "live" && !wasLive) this.checkReady();
    this.render();
  }

  setMode(mode) {
    this.mode = mode || "live";
    this.render();
  }

  updated(ms = Date.now()) {
    this.lastUpdate = ms;
    this.render();
  }

  async checkReady() {
    try {
      const res = await fetch("/readyz", { cache: "no-store" });
      const body = await res.json().catch(() => null);
      this.ready = body ? { ...body, httpOk: res.ok, checkedAt: Date.now() } : { ready: res.ok, httpOk: res.ok, checkedAt: Date.now() };
      if (body && body.poll_interval_s) this.pollIntervalS = body.poll_interval_s;
      if (body) document.dispatchEvent(new CustomEvent("dallas:readyz", { detail: body }));
    } catch {
      this.ready = null; // unreachable: the connection state already says so
    }
    this.render();
  }

  isStale() {
    const r = this.ready;
    if (!r) return false;
    const age = this.feedAge();
    if (age !== null) return age > Math.max(3 * this.pollIntervalS, STALE_FLOOR_S);
    return r.ready === false;
  }

  feedAge() {
    const r = this.ready;
    if (!r || typeof r.last_good_poll_age_s !== "number") return null;
    // between checks the feed ages only as far as we know; the next /readyz corrects it
    return r.last_good_poll_age_s + (this.conn.status === "live" ? 0 : (Date.now() - r.checkedAt) / 1000);
  }

  render() {
    let state = this.conn.status;
    let label = "Connecting";
    let title = "Connecting to the live stream";
    if (state === "live" && this.mode !== "live") {
      state = "replay";
      label = "Replay";
      title = "Recorded calls, replayed: not live";
    } else if (state === "live") {
      if (this.isStale()) {
        state = "stale";
        const age = this.feedAge();
        label = "Stale";
        title = `Connected, but the city's feed has not been read successfully for ${fmtAge(age)}${this.ready && this.ready.reason ? ` (${this.ready.reason})` : ""}. Calls shown may be out of date.`;
      } else {
        label = "Live";
        title = "Connected: changes appear as they happen";
      }
    } else if (state === "offline") {
      label = "Offline";
      title = "No network: the calls shown are the last this device saw. It reconnects by itself when the network returns.";
    } else if (state === "reconnecting") {
      const s = this.conn.retryAt ? Math.max(0, Math.ceil((this.conn.retryAt - Date.now()) / 1000)) : 0;
      label = s > 0 ? `Reconnecting · ${s}s` : "Reconnecting";
      title = `Connection lost${this.conn.error ? ` (${this.conn.error})` : ""}. Retrying automatically; click to retry now.`;
    }
    this.el.dataset.state = state;
    this.label.textContent = label;
    const age = this.feedAge();
    const saved = state === "offline" || (state === "reconnecting" && this.conn.fromCache);
    const seen = saved ? this.conn.savedAt : this.lastUpdate;
    const clock = seen ? fmtClock(seen) : "";
    const key = `${saved ? "seen" : "updated"} ${clock}`;
    if (this.time.dataset.clock !== key) {
      this.time.dataset.clock = key;
      this.time.replaceChildren();
      if (clock) {
        const word = document.createElement("span");
        word.className = "badge-time-word";
        word.textContent = saved ? "seen " : "updated ";
        this.time.append(word, clock);
      }
    }
    this.el.title = `${title}${age !== null ? `\nFeed last read ${fmtAge(age)} ago.` : ""}${this.lastUpdate ? `\nLast update ${fmtClock(this.lastUpdate)}.` : ""}`;
  }
}
