// The "Near" controls: Locate me (the browser's geolocation), Find an address (the server's own
// locator, GET /geocode: no third party is asked from the browser), the radius, Draw an area (a
// box dragged on the map), Use the map view (the same by keyboard), and Clear.
// Each change hands an area ({lat, lon, r, label} or {lat, lon, box, label}) or null to onChange.

import { PRECISION_TEXT } from "./format.js";
import { DEFAULT_RADIUS_M, RADII_M, describeArea, fmtRadius } from "./near.js";

const MY_LOCATION = "my location";

export class NearControl {
  constructor({ locate, address, radius, clear, status, draw, view }, { onChange, area }) {
    this.el = { locate, address, radius, clear, status, draw, view };
    this.area = area; // the map's AreaLayer
    this.onChange = onChange;
    this.near = null;
    this.seq = 0;
    radius.innerHTML = RADII_M.map((r) => `<option value="${r}">${fmtRadius(r)}</option>`).join("");
    radius.value = String(DEFAULT_RADIUS_M);
    locate.addEventListener("click", () => this.locate());
    clear.addEventListener("click", () => this.set(null));
    radius.addEventListener("change", () => {
      if (this.near) this.set({ lat: this.near.lat, lon: this.near.lon, label: this.near.label, r: Number(radius.value) });
    });
    draw.addEventListener("click", () => this.draw());
    view.addEventListener("click", () => this.set(area.viewArea()));
  }

  radius() {
    const r = Number(this.el.radius.value);
    return RADII_M.includes(r) ? r : DEFAULT_RADIUS_M;
  }

  /** Show a near state that came from the URL (no onChange). */
  show(near) {
    this.near = near;
    if (near && near.r) this.el.radius.value = String(near.r);
    if (near && near.label && near.label !== MY_LOCATION && !near.box) this.el.address.value = near.label;
    if (!near || near.box) this.el.address.value = "";
    this.el.clear.hidden = !near;
    const words = near ? describeArea(near) : "";
    this.say(near ? `${words[0].toUpperCase()}${words.slice(1)}, nearest ${near.box ? "its centre " : ""}first.` : "");
  }

  /** Drag a box on the map; Escape cancels. */
  draw() {
    this.say("Drag a box on the map to choose the area (Escape cancels).");
    this.el.draw.setAttribute("aria-pressed", "true");
    this.area.draw((box) => {
      this.el.draw.setAttribute("aria-pressed", "false");
      if (box) this.set(box);
      else this.show(this.near);
    });
  }

  set(near) {
    // to the precision the URL keeps (about a metre), so a link gives back exactly this state
    const kept = near && (near.box ? near : { ...near, lat: Number(near.lat.toFixed(5)), lon: Number(near.lon.toFixed(5)) });
    this.show(kept);
    this.onChange(kept);
  }

  say(text, isError = false) {
    this.el.status.textContent = text;
    this.el.status.classList.toggle("warn", isError);
  }

  locate() {
    if (!navigator.geolocation) {
      this.say("This browser cannot tell where you are; find an address instead.", true);
      return;
    }
    const seq = ++this.seq;
    this.say("Finding where you are…");
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        if (seq !== this.seq) return;
        this.set({ lat: pos.coords.latitude, lon: pos.coords.longitude, r: this.radius(), label: MY_LOCATION });
      },
      (err) => {
        if (seq !== this.seq) return;
        this.say(err.code === 1 ? "Location permission was refused; find an address instead." : "Your location is not available right now.", true);
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 60000 },
    );
  }

  /** Ask the server's locator for the address typed in the box. */
  async find() {
    const q = this.el.address.value.trim();
    if (!q) { this.say("Type an address or two cross streets (“Main St / Akard St”).", true); return; }
    const seq = ++this.seq;
    this.say(`Looking up “${q}”…`);
    let res;
    let body = null;
    try {
      res = await fetch(`/geocode?q=${encodeURIComponent(q)}`, { headers: { Accept: "application/json" } });
      body = await res.json().catch(() => null);
    } catch {
      if (seq === this.seq) this.say("The server could not be reached.", true);
      return;
    }
    if (seq !== this.seq) return;
    if (!res.ok || !body || !body.geo) {
      this.say(res.status === 404 ? `No place in Dallas found for “${q}”.` : (body && body.message) || `Lookup failed (${res.status}).`, true);
      return;
    }
    const g = body.geo;
    this.set({ lat: g.lat, lon: g.lon, r: this.radius(), label: q });
    if (g.precision !== "address" && g.precision !== "intersection") {
      this.say(`Within ${fmtRadius(this.radius())} of ${q}: found only approximately (${PRECISION_TEXT[g.precision] || g.precision}).`);
    }
  }
}
