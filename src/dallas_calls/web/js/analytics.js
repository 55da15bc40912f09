// The Analytics view: /analytics for a window (last 24 hours, 7 or 30 days) grouped by division,
// priority or call type. Plain SVG bar charts (as the Stats view's), each with a table of the same
// numbers beside it for screen readers and for anyone who wants the figures. Hours and days are
// Dallas time, as the API gives them.

import { barChart } from "./barchart.js";
import { esc, fmtAge, natureText } from "./format.js";

export const RANGES = { "1d": 1, "7d": 7, "30d": 30 };
export const GROUPS = { division: "Division", priority: "Priority", nature: "Call type" };
const RANGE_TEXT = { "1d": "the last 24 hours", "7d": "the last 7 days", "30d": "the last 30 days" };

/** The view's state from the URL hash values (anything unknown falls back to the defaults). */
export function analyticsState(range, group) {
  return { range: range in RANGES ? range : "7d", group: group in GROUPS ? group : "division" };
}

function groupLabel(group, key) {
  if (key === "unknown") return "Unknown";
  if (group === "priority") return `Priority ${key}`;
  if (group === "nature") return natureText(key);
  return key;
}

function fmtDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d, 12)).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

function hourText(h) {
  return `${String(h).padStart(2, "0")}:00`;
}

const CHART_SIZE = { width: 480, height: 120, pad: 16, headroom: 14, tickDy: 2, maxY: 10 };

/** A bar chart of `values` (numbers) as an SVG image described by `label`; `ticks` are [index, text]. */
function chart(values, label, ticks, titleOf) {
  return barChart({
    values, label, ticks, titleOf, barClass: () => "an-bar", className: "an-svg", maxText: (max) => `max ${max}`, size: CHART_SIZE,
  });
}

function countsTable(caption, head, rows, testId) {
  return `<details class="an-table"><summary>${esc(caption)} as a table</summary>
    <table data-table="${testId}"><thead><tr><th scope="col">${esc(head)}</th><th scope="col">Calls</th></tr></thead>
    <tbody>${rows.map(([k, n]) => `<tr><th scope="row">${esc(k)}</th><td>${n}</td></tr>`).join("")}</tbody></table></details>`;
}

function barWidths(root) {
  // sizes through the CSSOM: the Content-Security-Policy allows no inline style attributes
  for (const el of root.querySelectorAll("[data-width]")) el.style.width = `${el.dataset.width}%`;
}

export class AnalyticsView {
  /** `root` is the view's section; `onChange(state)` is told when the window or grouping changes. */
  constructor(root, { state, onChange }) {
    this.root = root;
    this.state = analyticsState(state && state.range, state && state.group);
    this.onChange = onChange;
    this.loaded = null;
    this.seq = 0;
    this.anchorAt = null;
    this.el = {
      range: root.querySelector("#an-range"),
      group: root.querySelector("#an-group"),
      status: root.querySelector("#an-status"),
      facts: root.querySelector("#an-facts"),
      hourly: root.querySelector("#an-hourly"),
      daily: root.querySelector("#an-daily"),
      groups: root.querySelector("#an-groups"),
      groupsH: root.querySelector("#an-groups-h"),
      beats: root.querySelector("#an-beats"),
    };
    this.el.range.value = this.state.range;
    this.el.group.value = this.state.group;
    this.el.range.addEventListener("change", () => this.set({ range: this.el.range.value }));
    this.el.group.addEventListener("change", () => this.set({ group: this.el.group.value }));
  }

  set(changes) {
    this.state = analyticsState(changes.range ?? this.state.range, changes.group ?? this.state.group);
    this.el.range.value = this.state.range;
    this.el.group.value = this.state.group;
    if (this.onChange) this.onChange(this.state);
    if (!this.root.hidden) this.refresh();
  }

  /** Shown or hidden with the view; the first showing (and each later one) loads fresh numbers. */
  show(visible) {
    this.root.hidden = !visible;
    if (visible) this.refresh();
  }

  /** A replay or the demo ends at its last poll, not now: windows end there (`body` is
   * /current-calls/'s, with `mode` and `as_of`). */
  setAnchor(body) {
    const at = body && body.mode && body.mode !== "live" && body.as_of ? body.as_of : null;
    if (at === this.anchorAt) return;
    this.anchorAt = at;
    if (!this.root.hidden) this.refresh();
  }

  /** The next whole minute after now (or after a recording's last poll): the window is
   * [start, end), so the newest poll's calls are inside it, and a minute's requests are alike. */
  windowEnd() {
    const at = this.anchorAt ? Date.parse(this.anchorAt) : Date.now();
    return new Date(Math.floor(at / 60000) * 60000 + 60000);
  }

  async refresh() {
    const { range, group } = this.state;
    const end = this.windowEnd();
    const start = new Date(end.getTime() - RANGES[range] * 86400000);
    const params = new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), group_by: group });
    const seq = ++this.seq;
    this.root.setAttribute("aria-busy", "true");
    this.el.status.textContent = "Loading…";
    let body = null;
    try {
      const res = await fetch(`/analytics?${params}`, { cache: "no-store", headers: { Accept: "application/json" } });
      body = res.ok ? await res.json() : null;
      if (!res.ok) this.el.status.textContent = `Analytics are not available (${res.status}).`;
    } catch {
      this.el.status.textContent = "Analytics are not available (no connection).";
    }
    if (seq !== this.seq) return; // a newer request is under way
    this.root.removeAttribute("aria-busy");
    if (!body) return;
    this.loaded = body;
    this.render(body);
  }

  render(b) {
    const { range, group } = this.state;
    this.root.dataset.count = String(b.count);
    const upTo = this.anchorAt ? ` up to the last poll of the recording (${new Date(this.anchorAt).toLocaleString(undefined, { timeZone: b.time_zone })})` : "";
    this.el.status.textContent = `${b.count} calls first seen in ${RANGE_TEXT[range]}${upTo}. Times are Dallas time (${b.time_zone}).`;
    this.el.facts.innerHTML = `
      <div><dt>Calls</dt><dd class="big" data-fact="count">${b.count}</dd></div>
      <div><dt>Closed</dt><dd class="big" data-fact="closed">${b.closed}</dd></div>
      <div><dt>Still open</dt><dd class="big" data-fact="open">${b.open}</dd></div>
      <div><dt>Median time on the feed</dt><dd class="big" data-fact="median">${esc(fmtAge(b.median_s))}</dd></div>
      <div><dt>90th percentile</dt><dd class="big" data-fact="p90">${esc(fmtAge(b.p90_s))}</dd></div>`;

    const hours = b.per_hour_of_day.map((h) => h.count);
    const busiest = hours.indexOf(Math.max(...hours));
    this.chart(this.el.hourly, chart(
      hours,
      `Calls by hour of day, Dallas time: ${b.count} in all; busiest ${hourText(busiest)} with ${hours[busiest]}.`,
      [[0, "00"], [6, "06"], [12, "12"], [18, "18"], [23, "23"]],
      (i, v) => `${hourText(i)}–${hourText((i + 1) % 24)}: ${v} calls`,
    ), countsTable("Calls by hour", "Hour", b.per_hour_of_day.map((h) => [hourText(h.hour), h.count]), "hourly"));

    const days = b.per_day.map((d) => d.count);
    const last = days.length - 1;
    const dayTicks = last > 0 ? [[0, fmtDay(b.per_day[0].day)], [last, fmtDay(b.per_day[last].day)]] : [[0, fmtDay(b.per_day[0].day)]];
    this.chart(this.el.daily, chart(
      days,
      `Calls per day, ${days.length} days from ${fmtDay(b.per_day[0].day)}: between ${Math.min(...days)} and ${Math.max(...days)} a day.`,
      dayTicks,
      (i, v) => `${fmtDay(b.per_day[i].day)}: ${v} calls`,
    ), countsTable("Calls per day", "Day", b.per_day.map((d) => [fmtDay(d.day), d.count]), "daily"));

    this.el.groupsH.textContent = `By ${GROUPS[group].toLowerCase()}`;
    const max = Math.max(1, ...b.groups.map((g) => g.count));
    this.el.groups.innerHTML = b.groups.length ? `<table class="an-groups" data-table="groups">
      <caption class="visually-hidden">Calls by ${esc(GROUPS[group].toLowerCase())}, with time on the feed of the closed calls</caption>
      <thead><tr><th scope="col">${esc(GROUPS[group])}</th><th scope="col">Calls</th><th scope="col">Open</th>
        <th scope="col">Median</th><th scope="col">90th pct.</th></tr></thead>
      <tbody>${b.groups.map((g) => `<tr data-key="${esc(g.key)}">
        <th scope="row">${esc(groupLabel(group, g.key))}</th>
        <td class="an-count"><span class="an-track" aria-hidden="true"><span class="an-fill" data-width="${Math.max(2, (g.count / max) * 100).toFixed(1)}"></span></span><span data-n>${g.count}</span></td>
        <td>${g.open}</td><td>${esc(fmtAge(g.median_s))}</td><td>${esc(fmtAge(g.p90_s))}</td></tr>`).join("")}</tbody></table>`
      : `<p class="muted">No calls in this window.</p>`;

    const topBeat = Math.max(1, ...b.busiest_beats.map((x) => x.count));
    this.el.beats.innerHTML = b.busiest_beats.length ? `<table class="an-groups" data-table="beats">
      <caption class="visually-hidden">The busiest police beats</caption>
      <thead><tr><th scope="col">Beat</th><th scope="col">Calls</th></tr></thead>
      <tbody>${b.busiest_beats.map((x) => `<tr><th scope="row">${esc(x.beat)}</th>
        <td class="an-count"><span class="an-track" aria-hidden="true"><span class="an-fill" data-width="${Math.max(2, (x.count / topBeat) * 100).toFixed(1)}"></span></span><span data-n>${x.count}</span></td></tr>`).join("")}</tbody></table>`
      : `<p class="muted">No beats in this window.</p>`;
    barWidths(this.root);
  }

  chart(box, svg, table) {
    box.textContent = "";
    box.appendChild(svg);
    box.insertAdjacentHTML("beforeend", table);
  }
}
