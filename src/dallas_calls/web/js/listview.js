// The call list: newest first, keyed DOM updates (focus survives live changes), arrow-key navigation,
// new calls highlighted, closed calls fade out before they go.

import { addressOf, ageOf, esc, fmtAge, fmtTime, precisionClass, priorityKey, priorityShort, splitNature, titleCase } from "./format.js";
import { fmtDistance } from "./near.js";

const NEW_HIGHLIGHT_MS = 30000;

/** A History row's duration ("1 h 05", "still open"), read out as "lasted 1 h 05". */
function durationHtml(text) {
  return text === "still open" ? esc(text) : `<span class="visually-hidden">lasted </span>${esc(text)}`;
}
const CLOSE_FADE_MS = 4000;

export class ListView {
  constructor(ol, { onSelect }) {
    this.ol = ol;
    this.onSelect = onSelect;
    this.items = new Map(); // incident -> li
    this.newUntil = new Map();
    this.closing = new Map(); // incident -> {call, timer}
    this.selected = null;
    this.distanceOf = null; // call -> metres, while "near" is set
    this.durationOf = null; // call -> "first seen → closed" text, in the History view
    ol.addEventListener("click", (e) => {
      const btn = e.target.closest("button.call-item");
      if (btn) this.onSelect(btn.dataset.incident);
    });
    ol.addEventListener("keydown", (e) => this.onKey(e));
    setInterval(() => this.refreshAges(), 30000);
  }

  onKey(e) {
    const buttons = [...this.ol.querySelectorAll("button.call-item")];
    const i = buttons.indexOf(document.activeElement);
    let next = null;
    if (e.key === "ArrowDown" || e.key === "j") next = buttons[Math.min(buttons.length - 1, i + 1)];
    else if (e.key === "ArrowUp" || e.key === "k") next = buttons[Math.max(0, i - 1)];
    else if (e.key === "Home") next = buttons[0];
    else if (e.key === "End") next = buttons[buttons.length - 1];
    if (next) {
      e.preventDefault();
      next.focus();
    }
  }

  markNew(call) {
    this.newUntil.set(call.incident_number, Date.now() + NEW_HIGHLIGHT_MS);
    setTimeout(() => {
      this.newUntil.delete(call.incident_number);
      const li = this.items.get(call.incident_number);
      if (li) li.classList.remove("is-new");
    }, NEW_HIGHLIGHT_MS + 50);
  }

  close(call) {
    const id = call.incident_number;
    const li = this.items.get(id);
    if (!li) return;
    li.classList.add("is-closing");
    li.querySelector(".ci-status").textContent = "Closed";
    const timer = setTimeout(() => {
      this.closing.delete(id);
      const el = this.items.get(id);
      if (el) { el.remove(); this.items.delete(id); }
    }, CLOSE_FADE_MS);
    this.closing.set(id, { call, timer });
  }

  html(call) {
    const prio = priorityKey(call);
    const pc = precisionClass(call);
    const { code, text } = splitNature(call.nature_of_call);
    const units = call.units || [];
    const loc = pc === "none"
      ? `<span class="ci-loc ci-loc-none" title="Not located: not on the map">no location</span>`
      : pc === "beat"
        ? `<span class="ci-loc ci-loc-beat" title="Approximate: beat area only">≈ beat</span>`
        : pc === "street"
          ? `<span class="ci-loc ci-loc-street" title="Street only">≈ street</span>`
          : "";
    const dist = this.distanceOf ? fmtDistance(this.distanceOf(call)) : "";
    // the button's name is its visible text, with the priority spelled out first
    return `<button type="button" class="call-item" data-incident="${esc(call.incident_number)}">
      <span class="visually-hidden">${esc(priorityShort(call))},</span>
      <span class="ci-prio pill-p${prio === "unknown" ? "u" : prio}" aria-hidden="true">${prio === "unknown" ? "?" : prio}</span>
      <span class="ci-main">
        <span class="ci-nature">${code ? `<b>${esc(code)}</b> ` : ""}${esc(text)}</span>
        <span class="ci-addr">${esc(titleCase(addressOf(call)))}</span>
        <span class="ci-meta">${esc(call.division || "—")} · beat ${esc(call.beat || "—")} · ${units.length} unit${units.length === 1 ? "" : "s"} · <span class="ci-status">${esc(call.status || "—")}</span> ${loc}</span>
      </span>
      <span class="ci-time">
        <span class="ci-clock">${esc(fmtTime(call.received_at))}</span>
        ${this.durationOf
          ? `<span class="ci-dur">${durationHtml(this.durationOf(call))}</span>`
          : `<span class="ci-age" data-received="${esc(call.received_at || "")}">${esc(fmtAge(ageOf(call)))}</span>`}
        ${dist ? `<span class="ci-dist">${esc(dist)}<span class="visually-hidden"> away</span></span>` : ""}
      </span>
    </button>`;
  }

  /** Render exactly `calls` (filtered, sorted), plus the ones fading out. */
  render(calls) {
    const want = new Set(calls.map((c) => c.incident_number));
    for (const [id, li] of this.items) {
      if (!want.has(id) && !this.closing.has(id)) {
        li.remove();
        this.items.delete(id);
      }
    }
    let cursor = this.ol.firstElementChild;
    for (const call of calls) {
      const id = call.incident_number;
      let li = this.items.get(id);
      const html = this.html(call);
      if (!li) {
        li = document.createElement("li");
        li.className = "call-row";
        li.dataset.incident = id;
        this.items.set(id, li);
      }
      if (li._html !== html) {
        const hadFocus = li.contains(document.activeElement);
        li.innerHTML = html;
        li._html = html;
        if (hadFocus) li.querySelector("button").focus();
      }
      li.classList.toggle("is-new", (this.newUntil.get(id) || 0) > Date.now());
      li.classList.toggle("is-selected", this.selected === id);
      while (cursor && this.closing.has(cursor.dataset.incident) && cursor !== li) cursor = cursor.nextElementSibling;
      if (cursor !== li) this.ol.insertBefore(li, cursor);
      else cursor = cursor.nextElementSibling;
    }
  }

  select(id) {
    if (this.selected && this.items.get(this.selected)) this.items.get(this.selected).classList.remove("is-selected");
    this.selected = id;
    const li = id && this.items.get(id);
    if (li) {
      li.classList.add("is-selected");
      li.scrollIntoView({ block: "nearest" });
    }
  }

  focusSelected() {
    const li = this.selected && this.items.get(this.selected);
    const btn = li && li.querySelector("button");
    if (btn) btn.focus();
    return !!btn;
  }

  refreshAges() {
    const now = Date.now();
    for (const el of this.ol.querySelectorAll(".ci-age")) {
      const t = Date.parse(el.dataset.received);
      el.textContent = Number.isNaN(t) ? "—" : fmtAge((now - t) / 1000);
    }
  }
}
