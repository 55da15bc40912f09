// The "near" area on the map: a circle (centre + radius) or a box, and drawing a box by dragging.
// Drawing holds the map still while the pointer is down (Leaflet would pan instead), and Escape
// cancels it; the keyboard alternative is "Use the map view" (NearControl), which needs no pointer.

import { boxArea } from "./near.js";

const L = window.L;

export class AreaLayer {
  constructor(map) {
    this.map = map;
    this.shapes = [];
    this.drawing = null;
  }

  /** Show this area (or none). */
  set(area) {
    for (const s of this.shapes) this.map.removeLayer(s);
    this.shapes = [];
    if (!area) return;
    if (area.box) {
      const [s, w, n, e] = area.box;
      this.shapes.push(L.rectangle([[s, w], [n, e]], { className: "near-circle", interactive: false, weight: 2, fillOpacity: 0.06 }));
    } else {
      this.shapes.push(L.circle([area.lat, area.lon], { radius: area.r, className: "near-circle", interactive: false, weight: 2, fillOpacity: 0.06 }));
      this.shapes.push(L.circleMarker([area.lat, area.lon], { radius: 6, className: "near-centre", interactive: false, weight: 3, fillOpacity: 1 }));
    }
    for (const s of this.shapes) s.addTo(this.map);
  }

  /** The area's bounds, to fit the map around it; null when there is none. */
  bounds() {
    return this.shapes.length ? this.shapes[0].getBounds() : null;
  }

  /** The box the map shows now, as an area. */
  viewArea(label = "") {
    const b = this.map.getBounds();
    return boxArea(b.getSouth(), b.getWest(), b.getNorth(), b.getEast(), label);
  }

  /** Let the user drag a box; `onDone(area)` gets it, or null when cancelled. */
  draw(onDone) {
    this.cancel();
    const map = this.map;
    const box = map.getContainer();
    box.classList.add("drawing-area");
    map.dragging.disable();
    let start = null;
    let rect = null;
    const finish = (area) => {
      map.off("mousedown", down).off("mousemove", move).off("mouseup", up);
      document.removeEventListener("keydown", key, true);
      if (rect) map.removeLayer(rect);
      box.classList.remove("drawing-area");
      map.dragging.enable();
      this.drawing = null;
      onDone(area);
    };
    const down = (e) => { start = e.latlng; };
    const move = (e) => {
      if (!start) return;
      const bounds = L.latLngBounds(start, e.latlng);
      if (rect) rect.setBounds(bounds);
      else rect = L.rectangle(bounds, { className: "near-circle", interactive: false, weight: 2, dashArray: "4 4" }).addTo(map);
    };
    const up = (e) => {
      if (!start) return;
      const b = L.latLngBounds(start, e.latlng);
      finish(boxArea(b.getSouth(), b.getWest(), b.getNorth(), b.getEast()));
    };
    const key = (e) => { if (e.key === "Escape") { e.stopPropagation(); finish(null); } };
    map.on("mousedown", down).on("mousemove", move).on("mouseup", up);
    document.addEventListener("keydown", key, true);
    this.drawing = finish;
  }

  cancel() {
    if (this.drawing) this.drawing(null);
  }
}
