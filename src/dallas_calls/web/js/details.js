// The call details panel: every field of the call, its units, how it was located, and its
// timeline of changes from /calls/{incident_number}. Refreshes itself when the call changes.

import { PRECISION_TEXT, PRIORITY_NAMES, addressOf, ageOf, esc, fmtAge, fmtTime, priorityKey, splitNature, titleCase } from "./format.js";

const FIELD_NAMES = {
  division: "Division", nature_of_call: "Call type", priority: "Priority", received_at: "Received",
  block: "Block", location: "Location", beat: "Beat", reporting_area: "Reporting area", status: "Status",
  units: "Units", geo: "Location on map",
};

function fmtValue(field, v) {
  if (v == null || v === "") return "—";
  if (field === "received_at") return fmtTime(v);
  if (field === "geo") return v && v.precision ? PRECISION_TEXT[v.precision] || v.precision : "—";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function unitChanges(oldUnits, newUnits) {
  const before = new Map((oldUnits || []).map((u) => [u.unit_number, u.status]));
  const after = new Map((newUnits || []).map((u) => [u.unit_number, u.status]));
  const out = [];
  for (const [u, s] of after) {
    if (!before.has(u)) out.push(`Unit <b>${esc(u)}</b> assigned${s ? ` (${esc(s)})` : ""}`);
    else if (before.get(u) !== s) out.push(`Unit <b>${esc(u)}</b>: ${esc(before.get(u) || "—")} → ${esc(s || "—")}`);
  }
  for (const [u] of before) if (!after.has(u)) out.push(`Unit <b>${esc(u)}</b> cleared`);
  return out;
}

export function describeEvent(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case "call.opened":
      return { label: "Opened", lines: [`First seen in the feed${d.call && d.call.status ? `, ${esc(d.call.status)}` : ""}`] };
    case "call.closed":
      return { label: "Closed", lines: ["No longer in the feed"] };
    case "location.resolved": {
      const g = d.geo || {};
      return {
        label: "Located",
        lines: [`${esc(PRECISION_TEXT[g.precision] || g.precision || "unknown")}${g.source ? ` · via ${esc(g.source)}` : ""}`],
      };
    }
    case "call.updated": {
      const lines = [];
      const changes = { ...(d.changes || {}) };
      if (d.reopened) {
        // back in the feed after it was closed: closed_at [when, null] is the reopening itself
        const closedAt = Array.isArray(changes.closed_at) ? changes.closed_at[0] : null;
        delete changes.closed_at;
        lines.push(`Back in the feed${closedAt ? ` after closing at ${esc(fmtTime(closedAt))}` : ""}`);
      }
      for (const [field, pair] of Object.entries(changes)) {
        const [a, b] = Array.isArray(pair) ? pair : [undefined, pair];
        if (field === "units") lines.push(...unitChanges(a, b));
        else lines.push(`${esc(FIELD_NAMES[field] || field)}: ${esc(fmtValue(field, a))} → <b>${esc(fmtValue(field, b))}</b>`);
      }
      return { label: d.reopened ? "Reopened" : "Updated", lines: lines.length ? lines : ["Changed"] };
    }
    default:
      return { label: ev.type, lines: [] };
  }
}

export class DetailsPanel {
  constructor(root, body, title, { onClose }) {
    this.root = root;
    this.body = body;
    this.title = title;
    this.onClose = onClose;
    this.id = null;
    this.timer = null;
    this.seq = 0;
    this.history = null;
    root.querySelector("#details-close").addEventListener("click", () => this.onClose());
  }

  get isOpen() {
    return !this.root.hidden;
  }

  open(id, call) {
    const same = this.id === id;
    this.id = id;
    this.root.hidden = false;
    document.body.classList.add("details-open");
    if (!same) {
      this.history = null;
      this.render(call, null);
    }
    this.fetch();
    this.root.focus({ preventScroll: true });
  }

  close() {
    this.id = null;
    this.root.hidden = true;
    document.body.classList.remove("details-open");
  }

  /** The call changed (an event arrived): refresh soon. */
  changed(id) {
    if (id !== this.id) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fetch(), 400);
  }

  async fetch() {
    const id = this.id;
    const seq = ++this.seq;
    try {
      const res = await fetch(`/calls/${encodeURIComponent(id)}`, { headers: { Accept: "application/json" } });
      if (seq !== this.seq || id !== this.id) return;
      if (res.status === 404) {
        this.renderMissing(id);
        return;
      }
      const saved = res.headers.get("X-Dallas-Calls-Offline"); // the service worker's offline answer
      if (saved === "none") throw new Error("offline, and not saved on this device");
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = await res.json();
      if (seq !== this.seq || id !== this.id) return;
      this.history = body.events || [];
      this.render(body.call, this.history);
      if (saved && Number(saved)) {
        const note = document.createElement("p");
        note.className = "offline-note muted";
        note.textContent = `Offline: as this device saw it at ${fmtTime(new Date(Number(saved)).toISOString())}`;
        this.body.prepend(note);
      }
    } catch (err) {
      if (seq !== this.seq) return;
      const tl = this.body.querySelector(".timeline");
      if (tl) tl.innerHTML = `<li class="muted">Timeline unavailable (${esc(err.message || err)}).</li>`;
    }
  }

  renderMissing(id) {
    this.title.textContent = `Call ${id}`;
    this.body.innerHTML = `<p class="empty">No call <b>${esc(id)}</b> is known to this server.</p>`;
  }

  render(call, events) {
    if (!call) {
      this.title.textContent = `Call ${this.id}`;
      this.body.innerHTML = `<p class="muted">Loading…</p>`;
      return;
    }
    const prio = priorityKey(call);
    const { code, text } = splitNature(call.nature_of_call);
    this.title.innerHTML = `<span class="pill pill-p${prio === "unknown" ? "u" : prio}">${prio === "unknown" ? "P?" : `P${prio}`}</span> ${esc(text)}`;
    const g = call.geo;
    const closed = !!call.closed_at;
    const units = call.units || [];
    const age = ageOf(call);
    const geoText = g && g.precision && g.precision !== "none"
      ? `${esc(PRECISION_TEXT[g.precision] || g.precision)}${g.source ? ` <span class="muted">via ${esc(g.source)}</span>` : ""}${g.in_beat === false ? ` <span class="warn">outside its beat</span>` : ""}`
      : `<span class="warn">Not located</span>${g && g.source ? ` <span class="muted">(${esc(g.source)})</span>` : ""}`;
    const timeline = events == null
      ? `<li class="muted">Loading timeline…</li>`
      : events.length === 0
        ? `<li class="muted">No recorded changes.</li>`
        : events.map((ev) => {
          const { label, lines } = describeEvent(ev);
          return `<li class="tl-item tl-${esc(String(ev.type).replace(".", "-"))}">
              <span class="tl-time" title="${esc(ev.at || "")}">${esc(fmtTime(ev.at))}</span>
              <span class="tl-label">${esc(label)}</span>
              <span class="tl-lines">${lines.map((l) => `<span>${l}</span>`).join("")}</span>
            </li>`;
        }).join("");
    this.body.innerHTML = `
      ${closed ? `<p class="closed-banner">Closed ${esc(fmtTime(call.closed_at))}</p>` : ""}
      <dl class="facts">
        <dt>Incident</dt><dd><a href="#call=${encodeURIComponent(call.incident_number)}" class="mono">${esc(call.incident_number)}</a></dd>
        <dt>Call type</dt><dd>${code ? `<b>${esc(code)}</b> ` : ""}${esc(text)}</dd>
        <dt>Priority</dt><dd>${esc(PRIORITY_NAMES[prio])}</dd>
        <dt>Status</dt><dd>${esc(call.status || "—")}</dd>
        <dt>Received</dt><dd>${esc(fmtTime(call.received_at))} <span class="muted">(${esc(fmtAge(age))} ago)</span></dd>
        <dt>Where</dt><dd>${esc(titleCase(addressOf(call)))}</dd>
        <dt>Beat</dt><dd>${esc(call.beat || "—")}</dd>
        <dt>Division</dt><dd>${esc(call.division || "—")}</dd>
        <dt>Reporting area</dt><dd>${esc(call.reporting_area || "—")}</dd>
        <dt>On the map</dt><dd>${geoText}</dd>
        <dt>First seen</dt><dd>${esc(fmtTime(call.first_seen))}</dd>
      </dl>
      <h3>Units <span class="muted">(${units.length})</span></h3>
      ${units.length
        ? `<ul class="units">${units.map((u) => `<li><span class="mono">${esc(u.unit_number)}</span> <span class="muted">${esc(u.status || "—")}</span></li>`).join("")}</ul>`
        : `<p class="muted">No units listed.</p>`}
      <h3>Timeline</h3>
      <ol class="timeline">${timeline}</ol>`;
  }
}
