// "Near": an area. Either a centre (the browser's position or an address found by the server's own
// locator) and a radius, or a box drawn on the map ({box: [south, west, north, east]}, its centre as
// lat/lon). Calls inside are shown, nearest the centre first, with their distance. Pure helpers
// here; the control (buttons, geolocation, /geocode) is NearControl, the drawing AreaLayer.

import { hasPoint } from "./format.js";

export const RADII_M = [500, 1000, 2000, 5000];
export const DEFAULT_RADIUS_M = 1000;
const EARTH_M = 6371008.8;

/** Great-circle distance in metres. */
export function distanceM(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Distance of a call from the centre, or null when the call has no point. */
export function distanceOf(call, near) {
  return near && hasPoint(call) ? distanceM(near.lat, near.lon, call.geo.lat, call.geo.lon) : null;
}

/** A box area from its edges; null unless it is a real box on the globe. */
export function boxArea(south, west, north, east, label = "") {
  const edges = [south, west, north, east].map(Number);
  if (!edges.every(Number.isFinite)) return null;
  const [s, w, n, e] = edges.map((x) => Number(x.toFixed(5)));
  if (!(s < n && w < e && s >= -90 && n <= 90 && w >= -180 && e <= 180)) return null;
  return { lat: Number(((s + n) / 2).toFixed(5)), lon: Number(((w + e) / 2).toFixed(5)), box: [s, w, n, e], label };
}

export function inBox(lat, lon, [s, w, n, e]) {
  return lat >= s && lat <= n && lon >= w && lon <= e;
}

export function withinNear(call, near) {
  if (!near) return true;
  if (near.box) return hasPoint(call) && inBox(call.geo.lat, call.geo.lon, near.box);
  const d = distanceOf(call, near);
  return d !== null && d <= near.r;
}

/** "within 2 km of 1500 Main St" or "in the drawn area": what an area is, in words. */
export function describeArea(near) {
  if (near.box) return near.label ? `in ${near.label}` : "in the drawn area";
  return `within ${fmtRadius(near.r)} of ${near.label || "the chosen point"}`;
}

/** Nearest first; ties (and calls without a point) by incident number. */
export function byDistance(near) {
  return (a, b) => {
    const da = distanceOf(a, near) ?? Infinity;
    const db = distanceOf(b, near) ?? Infinity;
    if (da !== db) return da - db;
    return String(a.incident_number).localeCompare(String(b.incident_number));
  };
}

export function fmtDistance(m) {
  if (m == null || !Number.isFinite(m)) return "";
  return m < 1000 ? `${Math.round(m / 10) * 10} m` : `${(m / 1000).toFixed(1)} km`;
}

export function fmtRadius(r) {
  return r < 1000 ? `${r} m` : `${r / 1000} km`;
}

/** {lat, lon, r, label} or {lat, lon, box, label} from hash params, or null. */
export function parseNear(params) {
  const box = (params.get("box") || "").split(",");
  if (box.length === 4) return boxArea(...box, params.get("at") || "");
  const m = /^(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)$/.exec(params.get("near") || "");
  if (!m) return null;
  const lat = Number(m[1]);
  const lon = Number(m[2]);
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  const r = Number(params.get("r"));
  return { lat, lon, r: RADII_M.includes(r) ? r : DEFAULT_RADIUS_M, label: params.get("at") || "" };
}

export function writeNear(params, near) {
  if (!near) return;
  if (near.box) {
    params.set("box", near.box.map((x) => x.toFixed(5)).join(","));
    if (near.label) params.set("at", near.label);
    return;
  }
  params.set("near", `${near.lat.toFixed(5)},${near.lon.toFixed(5)}`);
  params.set("r", String(near.r));
  if (near.label) params.set("at", near.label);
}
