// The map: one marker per incident, coloured by priority, labelled by call type, clustered at low
// zoom. Precision is drawn honestly: exact points are solid dots, street-level points have a dotted
// halo, beat-level (approximate) points are hollow dashed rings. Beats and city limits are overlays
// that keep the map readable when base tiles cannot load.

import { AreaLayer } from "./areaview.js";
import { addressOf, esc, hasPoint, natureCode, precisionClass, priorityKey, priorityShort, splitNature } from "./format.js";

const L = window.L;
const DALLAS_BOUNDS = [[32.62, -96.99], [33.02, -96.55]];
const NEW_HIGHLIGHT_MS = 30000;
const CLOSE_FADE_MS = 4000;
const DIVISION_COLORS = {
  "central": "#7b61ff", "north central": "#1f9e89", "northeast": "#e07b00", "northwest": "#3b7dd8",
  "south central": "#c2185b", "southeast": "#6d8c00", "southwest": "#00838f",
};

function divisionColor(name) {
  return DIVISION_COLORS[String(name || "").toLowerCase()] || "#8a8f98";
}

/** A div icon that is a named button for assistive technology (markers and clusters alike). */
const LabelledIcon = L.DivIcon.extend({
  createIcon(oldIcon) {
    const div = L.DivIcon.prototype.createIcon.call(this, oldIcon);
    div.setAttribute("role", "button");
    div.setAttribute("aria-label", this.options.label || "");
    // through the CSSOM: the Content-Security-Policy allows no inline style attribute
    if (this.options.background && div.firstElementChild) div.firstElementChild.style.background = this.options.background;
    return div;
  },
});

const PRIORITY_WORDS = { 1: "P1", 2: "P2", 3: "P3", 4: "P4", unknown: "priority unknown" };

/** "3 calls: 2 P2, 1 P4": what a cluster holds, most urgent first. */
export function clusterLabel(counts) {
  const n = Object.values(counts).reduce((a, b) => a + b, 0);
  const parts = ["1", "2", "3", "4", "unknown"].filter((k) => counts[k]).map((k) => `${counts[k]} ${PRIORITY_WORDS[k]}`);
  return `${n} call${n === 1 ? "" : "s"}${parts.length ? `: ${parts.join(", ")}` : ""}`;
}

/** A map button (a Leaflet control) that shows the whole city. */
const WholeCityControl = L.Control.extend({
  options: { position: "topleft" },
  onAdd() {
    const bar = L.DomUtil.create("div", "leaflet-bar whole-city");
    const btn = L.DomUtil.create("button", "whole-city-btn", bar);
    btn.type = "button";
    btn.id = "whole-city";
    btn.title = "Show the whole city";
    btn.setAttribute("aria-label", "Show the whole city");
    btn.textContent = "⤢";
    L.DomEvent.disableClickPropagation(bar);
    L.DomEvent.on(btn, "click", () => this.options.onClick());
    return bar;
  },
});

export class MapView {
  constructor(el, { config, onSelect, cluster = true }) {
    this.onSelect = onSelect;
    this.markers = new Map(); // incident -> L.Marker
    this.newUntil = new Map(); // incident -> ms
    this.closing = new Map(); // incident -> timeout
    this.selected = null;
    this.visibleIds = new Set();
    this.clusterOn = cluster;
    this.tileOk = 0;
    this.tileErr = 0;

    this.map = L.map(el, { zoomControl: true, preferCanvas: false, keyboard: true, minZoom: 9, maxZoom: 19 });
    this.map.fitBounds(DALLAS_BOUNDS);
    this.map.attributionControl.setPrefix(false);
    this.area = new AreaLayer(this.map);
    new WholeCityControl({ onClick: () => this.showCity() }).addTo(this.map);
    // Enter or Space on a focused marker opens its call; on a cluster, zooms into it
    el.addEventListener("keydown", (e) => this.onMarkerKey(e));

    if (config.tile_url) {
      this.tiles = L.tileLayer(config.tile_url, {
        attribution: config.tile_attribution || "",
        maxZoom: 19,
        crossOrigin: false,
      });
      this.tiles.on("tileload", () => { this.tileOk += 1; this.updateTileNotice(); });
      this.tiles.on("tileerror", () => { this.tileErr += 1; this.updateTileNotice(); });
      this.tiles.addTo(this.map);
    } else {
      this.showNoTiles("No base map configured");
    }

    this.group = this.makeGroup();
    this.group.addTo(this.map);
    this.layersControl = L.control.layers(null, {}, { collapsed: true, position: "topright" }).addTo(this.map);
    this.loadOverlays();
  }

  makeGroup() {
    if (!this.clusterOn) return L.featureGroup();
    return L.markerClusterGroup({
      showCoverageOnHover: false,
      maxClusterRadius: 40,
      disableClusteringAtZoom: 15,
      spiderfyOnMaxZoom: true,
      removeOutsideVisibleBounds: false,
      chunkedLoading: true,
      iconCreateFunction: (cluster) => this.clusterIcon(cluster),
    });
  }

  setClustering(on) {
    if (on === this.clusterOn) return;
    this.clusterOn = on;
    const layers = [...this.markers.values()];
    this.map.removeLayer(this.group);
    this.group = this.makeGroup();
    for (const m of layers) if (this.visibleIds.has(m.options.incident)) this.group.addLayer(m);
    this.group.addTo(this.map);
  }

  clusterIcon(cluster) {
    const children = cluster.getAllChildMarkers();
    const counts = { 1: 0, 2: 0, 3: 0, 4: 0, unknown: 0 };
    for (const m of children) counts[m.options.prio] += 1;
    const n = children.length;
    const top = ["1", "2", "3", "4", "unknown"].find((k) => counts[k] > 0) || "unknown";
    // ring shows the priority mix, the centre the most urgent priority present
    let acc = 0;
    const stops = [];
    for (const k of ["1", "2", "3", "4", "unknown"]) {
      if (!counts[k]) continue;
      const from = (acc / n) * 360;
      acc += counts[k];
      const to = (acc / n) * 360;
      stops.push(`var(--p${k === "unknown" ? "u" : k}) ${from}deg ${to}deg`);
    }
    const size = n < 10 ? 34 : n < 50 ? 40 : 48;
    const label = clusterLabel(counts);
    return new LabelledIcon({
      className: "cluster-marker",
      label: `${label}. Press Enter to zoom in.`,
      background: `conic-gradient(${stops.join(",")})`,
      html: `<div class="cluster cluster-p${top === "unknown" ? "u" : top}" data-count="${n}"
                  title="${esc(label)}"><span aria-hidden="true">${n}</span></div>`,
      iconSize: [size, size],
    });
  }

  icon(call) {
    const prio = priorityKey(call);
    const pc = precisionClass(call);
    const id = call.incident_number;
    const classes = ["cm", `cm-p${prio === "unknown" ? "u" : prio}`, `cm-${pc}`];
    if ((this.newUntil.get(id) || 0) > Date.now()) classes.push("is-new");
    if (this.closing.has(id)) classes.push("is-closing");
    if (this.selected === id) classes.push("is-selected");
    if (natureCode(call).length >= 4) classes.push("cm-long");
    const size = pc === "beat" ? 40 : pc === "street" ? 32 : 28;
    return new LabelledIcon({
      className: "call-marker",
      label: this.label(call),
      html: `<div class="${classes.join(" ")}" data-incident="${esc(id)}"><span aria-hidden="true">${esc(natureCode(call))}</span></div>`,
      iconSize: [size, size],
    });
  }

  label(call) {
    const pc = precisionClass(call);
    const approx = pc === "beat" ? " (approximate: beat area)" : pc === "street" ? " (somewhere on this street)" : "";
    // the marker's visible code leads its name (what is seen is what is said)
    const text = splitNature(call.nature_of_call).text;
    const code = natureCode(call);
    const named = text.toUpperCase().startsWith(code) ? text : `${code} ${text}`;
    return `${priorityShort(call)} ${named}, ${addressOf(call)}${approx}`;
  }

  /** Create or refresh the marker of a call. */
  upsert(call) {
    const id = call.incident_number;
    if (!hasPoint(call)) {
      this.remove(id);
      return;
    }
    const latlng = [call.geo.lat, call.geo.lon];
    let m = this.markers.get(id);
    if (!m) {
      m = L.marker(latlng, {
        icon: this.icon(call),
        incident: id,
        prio: priorityKey(call),
        title: this.label(call),
        keyboard: true,
        riseOnHover: true,
        zIndexOffset: (5 - (call.priority || 5)) * 100,
      });
      m.on("click", () => this.onSelect(id));
      this.markers.set(id, m);
      if (this.visibleIds.has(id)) this.group.addLayer(m);
      return;
    }
    m.options.prio = priorityKey(call);
    m.options.title = this.label(call);
    const moved = !m.getLatLng().equals(latlng);
    if (moved && this.clusterOn && this.group.hasLayer(m)) {
      this.group.removeLayer(m);
      m.setLatLng(latlng);
      this.group.addLayer(m);
    } else if (moved) {
      m.setLatLng(latlng);
    }
    m.setIcon(this.icon(call));
    this.refreshClusterOf(m);
  }

  refreshClusterOf(m) {
    if (this.clusterOn && this.group.refreshClusters) this.group.refreshClusters(m);
  }

  markNew(call) {
    this.newUntil.set(call.incident_number, Date.now() + NEW_HIGHLIGHT_MS);
    setTimeout(() => {
      const m = this.markers.get(call.incident_number);
      this.newUntil.delete(call.incident_number);
      if (m && m._call) m.setIcon(this.icon(m._call));
    }, NEW_HIGHLIGHT_MS + 50);
  }

  /** Fade a closed call out, then remove it. */
  close(call) {
    const id = call.incident_number;
    const m = this.markers.get(id);
    if (!m) return;
    if (!m.getElement()) { this.remove(id); return; } // hidden in a cluster: nothing to fade
    this.closing.set(id, setTimeout(() => this.remove(id), CLOSE_FADE_MS));
    m.setIcon(this.icon(call));
  }

  remove(id) {
    const m = this.markers.get(id);
    if (this.closing.has(id)) { clearTimeout(this.closing.get(id)); this.closing.delete(id); }
    if (!m) return;
    this.group.removeLayer(m);
    this.markers.delete(id);
  }

  /** Show exactly the calls in `calls` (already filtered); keep the others' markers off the map. */
  sync(calls) {
    const want = new Set();
    for (const call of calls) {
      want.add(call.incident_number);
    }
    this.visibleIds = want;
    const toAdd = [];
    const toRemove = [];
    for (const call of calls) {
      const id = call.incident_number;
      let m = this.markers.get(id);
      if (hasPoint(call)) {
        const before = m;
        this.upsert(call);
        m = this.markers.get(id);
        if (m) m._call = call;
        if (m && before && !this.group.hasLayer(m)) toAdd.push(m);
      } else if (m) {
        this.remove(id);
      }
    }
    for (const [id, m] of this.markers) {
      if (!want.has(id) && !this.closing.has(id) && this.group.hasLayer(m)) toRemove.push(m);
    }
    if (toRemove.length) this.group.removeLayers ? this.group.removeLayers(toRemove) : toRemove.forEach((m) => this.group.removeLayer(m));
    if (toAdd.length) this.group.addLayers ? this.group.addLayers(toAdd) : toAdd.forEach((m) => this.group.addLayer(m));
  }

  /** Forget markers for calls no longer in the store (after a reload). */
  prune(store) {
    for (const id of [...this.markers.keys()]) if (!store.get(id) && !this.closing.has(id)) this.remove(id);
  }

  select(id, call) {
    const prev = this.selected;
    this.selected = id;
    for (const x of [prev, id]) {
      const m = x && this.markers.get(x);
      if (m && m._call) m.setIcon(this.icon(m._call));
    }
    if (this.ghost) { this.map.removeLayer(this.ghost); this.ghost = null; }
    if (!id) return;
    const m = this.markers.get(id);
    if (m && this.group.hasLayer(m)) {
      const zoomTo = () => {
        const z = Math.max(this.map.getZoom(), 14);
        this.map.flyTo(m.getLatLng(), z, { duration: 0.5 });
      };
      if (this.clusterOn && this.group.zoomToShowLayer) this.group.zoomToShowLayer(m, zoomTo);
      else zoomTo();
    } else if (call && hasPoint(call)) {
      // a closed or filtered-out call: show where it was, without a live marker
      this.ghost = L.circleMarker([call.geo.lat, call.geo.lon], {
        radius: 12, className: "ghost-marker", interactive: false,
      }).addTo(this.map);
      this.map.flyTo([call.geo.lat, call.geo.lon], Math.max(this.map.getZoom(), 14), { duration: 0.5 });
    }
  }

  invalidate() {
    this.map.invalidateSize();
  }

  onMarkerKey(e) {
    if (e.key !== "Enter" && e.key !== " ") return;
    const icon = e.target.closest && e.target.closest(".leaflet-marker-icon");
    if (!icon) return;
    e.preventDefault();
    e.stopPropagation();
    const cm = icon.querySelector(".cm[data-incident]");
    if (cm) {
      this.onSelect(cm.dataset.incident);
      return;
    }
    const cluster = this.clusterOf(icon);
    if (cluster) {
      // what a click does: zoom in, or spread the calls out when they share one spot
      this.group._zoomOrSpiderfy({ layer: cluster, type: "clusterclick", originalEvent: e });
      // the cluster's icon goes away as it splits: keep the keyboard on the map
      this.map.getContainer().focus({ preventScroll: true });
    }
  }

  /** The markercluster cluster whose icon is `el`, if any. */
  clusterOf(el) {
    if (!this.clusterOn || !this.group._featureGroup) return null;
    let found = null;
    this.group._featureGroup.eachLayer((layer) => {
      if (!found && layer.getElement && layer.getElement() === el && layer.getAllChildMarkers) found = layer;
    });
    return found;
  }

  showCity() {
    this.map.fitBounds(DALLAS_BOUNDS);
  }

  /** Fit the map to these calls' points (the whole city when none has one). */
  fitTo(calls, { maxZoom = 15 } = {}) {
    const pts = calls.filter(hasPoint).map((c) => [c.geo.lat, c.geo.lon]);
    const area = this.area.bounds();
    if (area) pts.push(area.getNorthEast(), area.getSouthWest());
    if (!pts.length) { this.showCity(); return; }
    this.map.fitBounds(L.latLngBounds(pts), { padding: [30, 30], maxZoom, animate: false });
  }

  /** Draw the "near" area (a circle or a box), or remove it with null. */
  setNear(near) {
    this.area.set(near);
  }

  updateTileNotice() {
    if (this.tileOk === 0 && this.tileErr >= 4) this.showNoTiles("Base map tiles could not load");
    else if (this.tileOk > 0 && this.noTiles) this.hideNoTiles();
  }

  showNoTiles(reason) {
    if (this.noTiles) return;
    this.noTiles = true;
    this.map.getContainer().classList.add("no-tiles");
    const n = document.getElementById("map-notice");
    if (n) {
      n.dataset.reason = reason;
      n.hidden = false;
    }
    this.updateNoticeText();
    if (this.beats && !this.map.hasLayer(this.beats)) this.beats.addTo(this.map);
  }

  updateNoticeText() {
    const n = document.getElementById("map-notice");
    if (!n || !this.noTiles) return;
    const shown = [this.city && "city limits", this.beats && "police beats"].filter(Boolean);
    n.textContent = `${n.dataset.reason || "No base map"}${shown.length ? `: showing ${shown.join(" and ")} instead` : ""}.`;
  }

  hideNoTiles() {
    this.noTiles = false;
    this.map.getContainer().classList.remove("no-tiles");
    const n = document.getElementById("map-notice");
    if (n) n.hidden = true;
  }

  async loadOverlays() {
    const get = async (url) => {
      try {
        const r = await fetch(url);
        return r.ok ? await r.json() : null;
      } catch {
        return null;
      }
    };
    const [served, beats] = await Promise.all([get("/geo/city.geojson"), get("/geo/beats.geojson")]);
    // the outline shipped with the page keeps the map readable when the server has none
    const city = served && served.features && served.features.length ? served : await get("/static/geo/city-limits.geojson");
    if (beats && beats.features && beats.features.length) {
      const prop = (f, name) => f.properties && (f.properties[name] ?? f.properties[name.toUpperCase()]);
      this.beats = L.geoJSON(beats, {
        interactive: true,
        style: (f) => ({
          className: "beat-area",
          color: divisionColor(prop(f, "division")),
          weight: 1,
          opacity: 0.7,
          fillColor: divisionColor(prop(f, "division")),
          fillOpacity: 0.08,
        }),
        onEachFeature: (f, layer) => {
          const division = prop(f, "division");
          layer.bindTooltip(`Beat ${esc(prop(f, "beat") ?? "?")}${division ? ` · ${esc(division)}` : ""}`, { sticky: true });
        },
      });
      this.beats.on("add", () => this.beats.bringToBack());
      const approx = /approx/i.test(beats.name || "");
      this.layersControl.addOverlay(this.beats, approx ? "Police beats (approximate areas)" : "Police beats (by division)");
      if (this.noTiles) this.beats.addTo(this.map);
    }
    if (city && city.features && city.features.length) {
      const isDallas = (f) => {
        const name = f.properties && (f.properties.name || f.properties.CITY);
        return !name || /dallas/i.test(name);
      };
      this.city = L.geoJSON(city, {
        interactive: false,
        style: (f) => (isDallas(f)
          ? { className: "city-limits", color: "#5b6472", weight: 2, fillOpacity: 0.03 }
          : { className: "city-limits enclave", color: "#5b6472", weight: 1, dashArray: "3 3", fillColor: "#5b6472", fillOpacity: 0.12 }),
      }).addTo(this.map);
      this.city.bringToBack();
      this.layersControl.addOverlay(this.city, "City limits");
    }
    this.updateNoticeText();
  }
}
