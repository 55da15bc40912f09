// Replay of a history window: the calls open at each moment, from /history/events (the calls open
// at the window start, then the window's events in order). The state at a time is the starting
// calls with every event up to that time applied by the same CallStore the live view uses, so a
// replayed marker appears, changes and goes exactly as a live one would.

import { CallStore } from "./state.js";
import { parseTime } from "./format.js";

export const SPEEDS = [1, 10, 60, 600];
const TICK_MS = 200;

/** A copy an apply() may change (CallStore sets geo on the calls it holds). */
function fresh(ev) {
  const data = ev.data || {};
  // no id: the replay's store must not skip events by id (rebuilt ones have none)
  return { type: ev.type, at: ev.at, data: data.call ? { ...data, call: { ...data.call } } : data };
}

export class Replay {
  /** `body`: a /history/events answer; `onChange(replay)` after each move of the clock. */
  constructor(body, startMs, endMs, { onChange } = {}) {
    this.body = body;
    this.startMs = startMs;
    this.endMs = endMs;
    this.onChange = onChange || (() => {});
    this.events = (body.events || [])
      .map((ev) => ({ ev, t: parseTime(ev.at) }))
      .filter((x) => x.t !== null);
    this.speed = 60;
    this.timer = null;
    this.store = new CallStore();
    this.rewind();
  }

  rewind() {
    this.store.load({ current_active_calls: (this.body.initial || []).map((c) => ({ ...c })) });
    this.next = 0; // index of the first event not applied
    this.clock = this.startMs;
  }

  get playing() {
    return this.timer !== null;
  }

  /** The last time the events reach: the window's end, or the last event when they were capped. */
  get reachMs() {
    if (!this.body.truncated || !this.events.length) return this.endMs;
    return this.events[this.events.length - 1].t;
  }

  /** Move the clock to `ms` (clamped to the window) and apply the events up to it. */
  seek(ms) {
    const to = Math.min(Math.max(ms, this.startMs), this.endMs);
    if (to < this.clock) this.rewind();
    while (this.next < this.events.length && this.events[this.next].t <= to) {
      this.store.apply(fresh(this.events[this.next].ev));
      this.next += 1;
    }
    this.clock = to;
    this.onChange(this);
  }

  setSpeed(speed) {
    if (SPEEDS.includes(speed)) this.speed = speed;
  }

  play() {
    if (this.playing) return;
    if (this.clock >= this.endMs) this.seek(this.startMs);
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const step = (now - last) * this.speed;
      last = now;
      this.seek(this.clock + step);
      if (this.clock >= this.endMs) this.pause();
    }, TICK_MS);
    this.onChange(this);
  }

  pause() {
    if (!this.playing) return;
    clearInterval(this.timer);
    this.timer = null;
    this.onChange(this);
  }

  /** Events applied so far (for "n of N events"). */
  get applied() {
    return this.next;
  }

  all() {
    return this.store.all();
  }

  get(id) {
    return this.store.get(id);
  }
}
