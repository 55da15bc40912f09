// Summary statistics from /stats (refreshed shortly after every change and each minute), with a
// small SVG bar chart of calls opened per hour. Bars and counts are buttons that set filters.

import { barChart } from "./barchart.js";
import { esc, fmtAge, fmtHour, natureText, priorityKey } from "./format.js";


/** Sizes go through the CSSOM, not style attributes (the Content-Security-Policy allows no inline style). */
function applySizes(root) {
  for (const el of root.querySelectorAll("[data-flex]")) el.style.flex = el.dataset.flex;
  for (const el of root.querySelectorAll("[data-width]")) el.style.width = `${el.dataset.width}%`;
}

export class StatsView {
  constructor({ onFilter, onSelect, store }) {
    this.onFilter = onFilter;
    this.onSelect = onSelect;
    this.store = store;
    this.timer = null;
    this.el = {
      priority: document.getElementById("stat-priority"),
      hourly: document.getElementById("stat-hourly"),
      division: document.getElementById("stat-division"),
      nature: document.getElementById("stat-nature"),
      facts: document.getElementById("stat-facts"),
    };
    document.getElementById("stats").addEventListener("click", (e) => {
      const b = e.target.closest("[data-filter]");
      if (b) this.onFilter(b.dataset.filter, b.dataset.value);
      const c = e.target.closest("[data-call]");
      if (c) this.onSelect(c.dataset.call);
    });
    setInterval(() => this.refresh(), 60000);
    // the detailed blocks fold away so the list keeps its room on short screens
    const more = document.getElementById("stats-more");
    const toggle = document.getElementById("stats-toggle");
    const saved = localStorage.getItem("dallas-calls.stats-more");
    const setMore = (open) => {
      more.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = open ? "Fewer stats" : "More stats";
    };
    setMore(saved ? saved === "1" : window.innerHeight >= 1000);
    toggle.addEventListener("click", () => {
      const open = more.hidden;
      setMore(open);
      localStorage.setItem("dallas-calls.stats-more", open ? "1" : "0");
    });
  }

  /** Something changed: refresh after a short pause (events come in bursts after each poll). */
  soon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 1200);
  }

  async refresh() {
    let stats = null;
    try {
      const res = await fetch("/stats", { cache: "no-store", headers: { Accept: "application/json" } });
      if (res.ok) stats = await res.json();
    } catch { /* fall back below */ }
    this.render(stats || this.fromStore());
  }

  /** Counts computed from the client's own calls, when /stats is unavailable. */
  fromStore() {
    const calls = this.store.all();
    const count = (f) => calls.reduce((acc, c) => { const k = f(c); acc[k] = (acc[k] || 0) + 1; return acc; }, {});
    const byPriority = { 1: 0, 2: 0, 3: 0, 4: 0, unknown: 0, ...count(priorityKey) };
    const located = calls.filter((c) => c.geo && typeof c.geo.lat === "number").length;
    return {
      open_calls: calls.length,
      by_priority: byPriority,
      by_division: count((c) => c.division || "Unknown"),
      by_nature: count((c) => c.nature_of_call || "Unknown"),
      by_status: count((c) => c.status || "Unknown"),
      oldest_open: null,
      opened_per_hour: null,
      located,
      unlocated: calls.length - located,
    };
  }

  render(s) {
    this.last = s;
    const total = s.open_calls || 0;
    // priority: one stacked bar plus a legend of buttons
    const prios = ["1", "2", "3", "4", "unknown"];
    const bp = s.by_priority || {};
    this.el.priority.innerHTML = `
      <div class="stack" aria-hidden="true">${prios.map((k) => bp[k] ? `<span class="seg pill-p${k === "unknown" ? "u" : k}" data-flex="${bp[k]}"></span>` : "").join("")}</div>
      <div class="stack-legend">${prios.map((k) => `<button type="button" role="listitem" class="chip-stat" data-filter="priority" data-value="${k}"
          title="Show only ${k === "unknown" ? "unknown priority" : `priority ${k}`}">
          <span class="dot pill-p${k === "unknown" ? "u" : k}"></span>${k === "unknown" ? "?" : `P${k}`} <b>${bp[k] || 0}</b></button>`).join("")}</div>`;
    this.el.division.innerHTML = this.bars(s.by_division || {}, "division", total, 7);
    this.el.nature.innerHTML = this.bars(s.by_nature || {}, "nature", total, 5, natureText);
    applySizes(document.getElementById("stats"));
    this.renderHourly(s.opened_per_hour);
    const oldest = s.oldest_open;
    this.el.facts.innerHTML = `
      <div><span class="big">${total}</span> open</div>
      <div><span class="big">${s.located ?? "—"}</span> on the map</div>
      <div><button type="button" class="link" data-filter="loc" data-value="none" title="List calls without a location"><span class="big">${s.unlocated ?? "—"}</span> not located</button></div>
      <div class="oldest">${oldest ? `Oldest open: <button type="button" class="link mono" data-call="${esc(oldest.incident_number)}">${esc(oldest.incident_number)}</button> <b>${esc(fmtAge(oldest.age_s))}</b>` : ""}</div>`;
  }

  bars(obj, filter, total, limit, labelOf = (k) => k) {
    const rows = Object.entries(obj).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit);
    const max = rows.length ? rows[0][1] : 1;
    if (!rows.length) return `<li class="muted">None</li>`;
    return rows.map(([k, n]) => `<li><button type="button" class="bar-row" data-filter="${filter}" data-value="${esc(k)}" title="Show only ${esc(k)}">
        <span class="bar-label">${esc(labelOf(k))}</span>
        <span class="bar-track"><span class="bar-fill" data-width="${Math.max(4, (n / max) * 100).toFixed(1)}"></span></span>
        <span class="bar-n">${n}</span></button></li>`).join("");
  }

  renderHourly(hours) {
    const box = this.el.hourly;
    box.textContent = "";
    if (!Array.isArray(hours) || !hours.length) {
      box.innerHTML = `<p class="muted">Not available.</p>`;
      return;
    }
    const counts = hours.map((h) => h.count || 0);
    const max = Math.max(1, ...counts);
    const total = counts.reduce((a, b) => a + b, 0);
    const last = hours.length - 1;
    const svg = barChart({
      values: counts,
      label: `${total} calls opened in the last 24 hours; busiest hour ${max}.`,
      ticks: [0, Math.floor(hours.length / 2), last].map((i) => [i, i === last ? "now" : fmtHour(hours[i].hour)]),
      titleOf: (i, v) => `${fmtHour(hours[i].hour)}: ${v} opened`,
      barClass: (i) => (i === last ? "bar now" : "bar"),
      className: "hourly-svg",
      maxText: (m) => `max ${m}/h`,
      size: { width: 240, height: 64, pad: 12, headroom: 4, tickDy: 1, maxY: 9 },
      hitTargets: true,
    });
    box.appendChild(svg);
  }
}
