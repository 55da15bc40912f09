// Live connection: load /current-calls/, then stream /get-events/?last_event_id=N.
// Reconnection is managed here (not by EventSource's own retry) so that it backs off, resumes
// from the last applied id, and its state is visible: connecting | live | reconnecting | offline.
// Offline (no network), /current-calls/ is the service worker's saved copy (the X-Dallas-Calls-Offline
// header says when it was saved): it is shown, and reloaded from the server once it answers again.

const EVENT_TYPES = ["call.opened", "call.updated", "call.closed", "location.resolved"];
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const STABLE_AFTER_MS = 5000; // a connection open this long resets the backoff
export const OFFLINE_HEADER = "X-Dallas-Calls-Offline";

export class LiveConnection {
  /**
   * @param {import('./state.js').CallStore} store
   * @param {(state: {status: string, retryAt?: number, attempt?: number, error?: string}) => void} onStatus
   */
  constructor(store, onStatus, onLoad = () => {}) {
    this.store = store;
    this.onStatus = onStatus;
    this.onLoad = onLoad; // every /current-calls/ body (it carries the server's mode)
    this.storeId = null;
    this.es = null;
    this.attempt = 0;
    this.timer = null;
    this.stableTimer = null;
    this.status = "connecting";
    this.needsReload = true;
    this.stopped = false;
    this.fromCache = false; // the calls shown are the worker's saved copy
    this.cachedAt = null; // when that copy was saved (ms), if known
    this.liveAt = null; // the last moment the stream was known to be live
  }

  setStatus(status, extra = {}) {
    this.status = status;
    if (status === "live") this.liveAt = Date.now();
    const savedAt = this.fromCache ? this.cachedAt : this.liveAt;
    this.onStatus({ status, attempt: this.attempt, fromCache: this.fromCache, savedAt, ...extra });
  }

  async start() {
    this.stopped = false;
    this.setStatus("connecting");
    await this.cycle();
  }

  stop() {
    this.stopped = true;
    this.closeStream();
    clearTimeout(this.timer);
  }

  closeStream() {
    clearTimeout(this.stableTimer);
    if (this.es) {
      this.es.onopen = this.es.onerror = null;
      this.es.close();
      this.es = null;
    }
  }

  /** (Re)load the snapshot if needed, then open the stream; on failure schedule a retry. */
  async cycle() {
    if (this.stopped) return;
    try {
      if (this.needsReload) {
        const res = await fetch("/current-calls/", { cache: "no-store", headers: { Accept: "application/json" } });
        const saved = res.headers.get(OFFLINE_HEADER);
        if (saved === "none") {
          this.fromCache = this.store.calls.size === 0;
          throw new Error("no network, and no calls saved on this device");
        }
        if (!res.ok) throw new Error(`/current-calls/ answered ${res.status}`);
        const body = await res.json();
        this.fromCache = saved !== null;
        this.cachedAt = this.fromCache ? Number(saved) || null : null;
        this.storeId = body.store_id || null;
        this.store.load(body);
        this.onLoad(body, this.fromCache);
        if (this.fromCache) {
          this.scheduleRetry("showing the calls saved on this device"); // needsReload stays true
          return;
        }
        this.needsReload = false;
      }
      this.openStream();
    } catch (err) {
      this.scheduleRetry(String(err && err.message ? err.message : err));
    }
  }

  openStream() {
    this.closeStream();
    // store: the id of the store our calls came from; an id from another one gets a reset
    const url = `/get-events/?last_event_id=${encodeURIComponent(this.store.lastEventId)}${this.storeId ? `&store=${encodeURIComponent(this.storeId)}` : ""}`;
    const es = new EventSource(url);
    this.es = es;
    es.onopen = () => {
      this.setStatus("live");
      this.stableTimer = setTimeout(() => { this.attempt = 0; }, STABLE_AFTER_MS);
    };
    es.onerror = () => {
      // The browser would retry by itself; we close and retry with backoff and our own id.
      if (this.status === "live") this.liveAt = Date.now();
      this.closeStream();
      this.scheduleRetry("connection lost");
    };
    const handle = (type) => (msg) => {
      let envelope;
      try {
        envelope = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (!envelope || typeof envelope !== "object") return;
      if (!envelope.type) envelope.type = type;
      if (envelope.id == null && msg.lastEventId) envelope.id = Number(msg.lastEventId);
      // a payload without the envelope (data is the bare payload) is tolerated too
      if (!("data" in envelope) || typeof envelope.data !== "object") envelope = { id: envelope.id, type, data: envelope };
      this.store.apply(envelope);
      if (this.status !== "live") this.setStatus("live");
      else this.liveAt = Date.now();
    };
    for (const t of EVENT_TYPES) es.addEventListener(t, handle(t));
    es.addEventListener("reset", () => {
      // The server's history does not connect to ours: reload everything.
      this.needsReload = true;
      this.closeStream();
      this.setStatus("connecting", { reason: "reset" });
      this.cycle();
    });
    es.addEventListener("overflow", () => {
      // We fell behind; resume from the last id we applied.
      this.closeStream();
      this.setStatus("reconnecting", { reason: "overflow", retryAt: Date.now() });
      this.cycle();
    });
  }

  scheduleRetry(error) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    this.setStatus(navigator.onLine === false ? "offline" : "reconnecting", { retryAt, error });
    this.timer = setTimeout(() => this.cycle(), delay);
  }

  /** The device lost its network (the window's "offline" event): say so now, not at the next error. */
  networkLost() {
    if (this.stopped) return;
    if (this.status === "live") this.liveAt = Date.now();
    this.closeStream();
    this.scheduleRetry("offline");
  }

  /** Retry now (the badge's click, or the page becoming visible/online again). */
  retryNow() {
    if (this.status === "live" || this.stopped) return;
    clearTimeout(this.timer);
    this.cycle();
  }
}
