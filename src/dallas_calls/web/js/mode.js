// What the page shows: live data, a replay, or the demo. /current-calls/ carries the mode with every
// load (and a reset reloads it when the server switches, e.g. from the demo to live data), so the
// badge, the banner and the page title can never call recorded calls live.

const LIVE_TITLE = "Dallas police calls — live";

/** "18 Jun 2019" in Dallas time: the day the recording was captured. */
export function recordingDay(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "an unknown day";
  return new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "America/Chicago" }).format(d);
}

function fmtSpeed(speed) {
  if (typeof speed !== "number" || !Number.isFinite(speed)) return "";
  return `${Number.isInteger(speed) ? speed : speed.toFixed(1)}×`;
}

/** The banner sentence for a non-live body, or "" when live. */
export function modeSentence(body) {
  if (!body || !body.mode || body.mode === "live") return "";
  const rec = body.recording || {};
  const day = recordingDay(rec.captured_from);
  const speed = fmtSpeed(rec.speed);
  let text = `Recorded calls of ${day}${speed ? `, replayed at ${speed}` : ", replayed"}: not live.`;
  if (rec.times_shifted) text += " Their times are moved to today.";
  if (body.fallback_reason) text += " The city's feed cannot be read right now; live calls replace these as soon as it answers.";
  return text;
}

export class ModeIndicator {
  /**
   * @param {HTMLElement} banner the banner element (hidden while live)
   * @param {{setMode: (mode: string) => void}} badge
   */
  constructor(banner, badge) {
    this.banner = banner;
    this.badge = badge;
    this.mode = "live";
  }

  /** Called with every /current-calls/ body. */
  update(body) {
    const mode = (body && body.mode) || "live";
    this.mode = mode;
    const sentence = modeSentence(body);
    this.banner.hidden = !sentence;
    this.banner.textContent = sentence;
    document.body.dataset.mode = mode;
    const rec = (body && body.recording) || {};
    document.title = mode === "live" ? LIVE_TITLE : `Dallas police calls — replay of ${recordingDay(rec.captured_from)} (not live)`;
    this.badge.setMode(mode);
  }
}

/** The sentence for the server's background download of street data, or "" when there is none. */
export function geodataSentence(status) {
  if (!status || typeof status !== "object") return "";
  const what = status.source ? ` (${status.source})` : "";
  if (status.state === "downloading") {
    const pct = typeof status.percent === "number" ? ` ${Math.floor(status.percent)}%` : "";
    return `Downloading street data${pct}…${what} Calls are placed better once it is in.`;
  }
  if (status.state === "building") return `Building the street index…${what}`;
  return "";
}

/** Shows the street-data download under the banner, from every /readyz the badge reads. */
export class GeodataStatus {
  constructor(after) {
    this.el = document.createElement("p");
    this.el.className = "geodata-status";
    this.el.id = "geodata-status";
    this.el.setAttribute("role", "status");
    this.el.hidden = true;
    after.insertAdjacentElement("afterend", this.el);
    document.addEventListener("dallas:readyz", (e) => this.update(e.detail && e.detail.geodata));
  }

  update(status) {
    const text = geodataSentence(status);
    this.el.hidden = !text;
    if (this.el.textContent !== text) this.el.textContent = text;
  }
}
