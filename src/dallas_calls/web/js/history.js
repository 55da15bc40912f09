// The History view: pick a window (a preset or any start and end, in the device's time), see the
// calls first seen in it (/history) on the map and in the list with the live view's filters, each
// with how long it stayed open, and replay the window's events (/history/events, js/replay.js)
// with a speed, play/pause and a time slider. Says plainly when the window is empty, when the list
// is cut short, and when the replay is rebuilt from call records (the event log was pruned).

import { fmtAge, parseTime } from "./format.js";
import { historyUrl, localInputValue } from "./downloads.js";
import { Replay, SPEEDS } from "./replay.js";

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;
const MAX_WINDOW_MS = 31 * DAY_MS;
export const LIST_LIMIT = 5000;
const clockFmt = new Intl.DateTimeFormat(undefined, {
  weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", second: "2-digit",
});
const whenFmt = new Intl.DateTimeFormat(undefined, {
  weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
});
const num = (n) => Number(n).toLocaleString("en-US");

/** The window of a preset, ending `now`: "24h", "7d", or "sat" (last Saturday 6 pm to Sunday 6 am). */
export function presetWindow(name, now = Date.now()) {
  if (name === "7d") return { startMs: now - 7 * DAY_MS, endMs: now };
  if (name === "sat") {
    const d = new Date(now);
    d.setHours(18, 0, 0, 0);
    const back = (d.getDay() + 1) % 7; // days since Saturday
    d.setDate(d.getDate() - back);
    if (d.getTime() + 12 * HOUR_MS > now) d.setDate(d.getDate() - 7); // the night is not over yet
    return { startMs: d.getTime(), endMs: d.getTime() + 12 * HOUR_MS };
  }
  return { startMs: now - DAY_MS, endMs: now };
}

/** "first seen → closed" as "1 h 05", or "still open". */
export function durationText(call) {
  const a = parseTime(call.first_seen);
  const b = parseTime(call.closed_at);
  if (a === null) return "—";
  return b === null ? "still open" : fmtAge((b - a) / 1000);
}

async function getJson(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
  return body;
}

export class HistoryView {
  constructor(els, { onChange, onWindow, setDownloads }) {
    this.els = els;
    this.onChange = onChange; // the calls to show changed: render
    this.onWindow = onWindow; // the picked window changed: keep it in the URL
    this.setDownloads = setDownloads;
    this.active = false;
    this.window = null; // {startMs, endMs, preset}
    this.calls = new Map();
    this.replay = null;
    this.engaged = false; // the map shows the replay (not every call of the window)
    this.seq = 0;
    els.speed.innerHTML = SPEEDS.map((s) => `<option value="${s}"${s === 60 ? " selected" : ""}>${s}×</option>`).join("");
    for (const b of els.presets) b.addEventListener("click", () => this.pick({ ...presetWindow(b.dataset.preset), preset: b.dataset.preset }));
    els.form.addEventListener("submit", (e) => {
      e.preventDefault();
      const s = Date.parse(els.start.value);
      const t = Date.parse(els.end.value);
      if (!Number.isFinite(s) || !Number.isFinite(t)) return this.say("Give a start and an end.");
      if (t <= s) return this.say("The end must be after the start.");
      if (t - s > MAX_WINDOW_MS) return this.say("A window may span at most 31 days.");
      this.pick({ startMs: s, endMs: t, preset: null });
    });
    els.play.addEventListener("click", () => this.toggle());
    els.speed.addEventListener("change", () => this.replay && this.replay.setSpeed(Number(els.speed.value)));
    els.range.addEventListener("input", () => this.seekTo(this.window.startMs + Number(els.range.value) * 1000));
    els.exit.addEventListener("click", () => this.disengage());
  }

  /** Enter the view, on `win` ({preset} or {startMs, endMs}) or the last 24 hours. */
  activate(win) {
    this.active = true;
    this.els.section.hidden = false;
    const keep = this.window && (!win || (win.preset && win.preset === this.window.preset));
    if (keep) return;
    const want = win && win.startMs != null ? win : presetWindow((win && win.preset) || "24h");
    const same = this.window && want.startMs === this.window.startMs && want.endMs === this.window.endMs;
    if (!same) this.pick({ preset: (win && win.preset) || (win ? null : "24h"), ...want }, { fromUrl: !!win });
  }

  deactivate() {
    this.active = false;
    this.els.section.hidden = true;
    if (this.replay) this.replay.pause();
  }

  /** Calls to draw: the replay's open calls while replaying, else every call of the window. */
  all() {
    return this.engaged && this.replay ? this.replay.all() : [...this.calls.values()];
  }

  get(id) {
    return (this.engaged && this.replay && this.replay.get(id)) || this.calls.get(id);
  }

  durationOf(call) {
    return durationText(call);
  }

  say(text) {
    this.els.status.textContent = text;
  }

  span(win = this.window) {
    return `${whenFmt.format(win.startMs)} and ${whenFmt.format(win.endMs)}`;
  }

  async pick(win, { fromUrl = false } = {}) {
    if (this.replay) this.replay.pause();
    this.window = win;
    this.engaged = false;
    this.replay = null;
    this.calls = new Map();
    const { els } = this;
    els.start.value = localInputValue(win.startMs);
    els.end.value = localInputValue(win.endMs);
    for (const b of els.presets) b.setAttribute("aria-pressed", String(b.dataset.preset === win.preset));
    for (const [link, fmt] of [[els.csv, "csv"], [els.geojson, "geojson"]]) link.href = historyUrl(win.startMs, win.endMs, fmt);
    if (this.setDownloads) this.setDownloads(win.startMs, win.endMs);
    if (!fromUrl && this.onWindow) this.onWindow(win);
    this.showReplay();
    this.say(`Loading the calls first seen between ${this.span(win)}…`);
    this.onChange();
    const seq = ++this.seq;
    const q = new URLSearchParams({ start: new Date(win.startMs).toISOString(), end: new Date(win.endMs).toISOString() });
    try {
      const [list, events] = await Promise.all([
        getJson(`/history?${q}&limit=${LIST_LIMIT}`),
        getJson(`/history/events?${q}`),
      ]);
      if (seq !== this.seq) return;
      this.calls = new Map((list.calls || []).map((c) => [c.incident_number, c]));
      this.replay = new Replay(events, win.startMs, win.endMs, { onChange: () => this.replayMoved() });
      this.replay.setSpeed(Number(els.speed.value));
      this.say(this.summary(list, events));
      this.showReplay();
      this.onChange({ fit: true });
    } catch (err) {
      if (seq !== this.seq) return;
      this.say(`The window could not be loaded: ${err.message || err}`);
    }
  }

  summary(list, events) {
    const span = this.span();
    const total = events.window_calls;
    let text;
    if (!list.count) text = `No calls were first seen between ${span}.`;
    else if (list.truncated) {
      text = `Showing the first ${num(list.count)} of ${total != null ? num(total) : `more than ${num(list.count)}`} calls first seen between ${span}; the downloads have them all.`;
    } else text = `${num(list.count)} call${list.count === 1 ? "" : "s"} first seen between ${span}.`;
    if (events.source !== "log" && events.reconstructed_until) {
      const until = parseTime(events.reconstructed_until);
      const part = events.source === "reconstructed" ? "This window is older than the event log keeps" : `The event log is kept only from ${whenFmt.format(until)}`;
      text += ` ${part}: the replay is reconstructed from call records before then (opens and closes only; field updates not kept).`;
    }
    return text;
  }

  toggle() {
    if (!this.replay) return;
    if (this.replay.playing) this.replay.pause();
    else {
      this.engage();
      this.replay.play();
    }
  }

  seekTo(ms) {
    if (!this.replay) return;
    this.engage();
    this.replay.seek(ms);
  }

  engage() {
    if (this.engaged || !this.replay) return;
    this.engaged = true;
    this.replay.seek(this.replay.clock);
  }

  disengage() {
    if (this.replay) this.replay.pause();
    const hadFocus = document.activeElement === this.els.exit;
    this.engaged = false;
    this.showReplay();
    if (hadFocus) this.els.play.focus(); // the button hides: keep the keyboard here
    this.onChange();
  }

  replayMoved() {
    this.showReplay();
    this.onChange();
  }

  /** The replay controls as the replay stands. */
  showReplay() {
    const { els, replay, window: win } = this;
    const ready = !!replay;
    for (const el of [els.play, els.speed, els.range]) el.disabled = !ready;
    els.exit.hidden = !this.engaged;
    const spanS = win ? Math.max(1, Math.round((win.endMs - win.startMs) / 1000)) : 1;
    els.range.max = String(spanS);
    els.range.step = spanS <= 3600 ? "1" : "60";
    const clock = replay ? replay.clock : win ? win.startMs : null;
    if (clock !== null) {
      els.range.value = String(Math.round((clock - win.startMs) / 1000));
      const text = clockFmt.format(clock);
      els.range.setAttribute("aria-valuetext", text);
      els.clock.textContent = text;
    }
    els.play.textContent = replay && replay.playing ? "Pause" : "Play";
    document.body.dataset.replay = replay ? (replay.playing ? "playing" : this.engaged ? "paused" : "ready") : "loading";
    if (!replay) {
      els.replayStatus.textContent = "";
      return;
    }
    const n = replay.all().length;
    const events = replay.events.length;
    let text = this.engaged
      ? `Replay: ${num(n)} call${n === 1 ? "" : "s"} open · ${num(replay.applied)} of ${num(events)} events`
      : `Replay ${num(events)} events: press Play or move the slider.`;
    if (replay.body.truncated) text += ` (capped at ${num(events)}: the replay stops at ${whenFmt.format(replay.reachMs)})`;
    els.replayStatus.textContent = text;
  }
}
