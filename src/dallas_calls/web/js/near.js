// "Near": a centre (the browser's position or an address found by the server's own locator) and a
// radius. Calls inside the circle are shown, nearest first, with their distance. Pure helpers here;
// the control (buttons, geolocation, /geocode) is NearControl.

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

export function withinNear(call, near) {
  if (!near) return true;
  const d = distanceOf(call, near);
  return d !== null && d <= near.r;
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

/** {lat, lon, r, label} from hash params, or null. */
export function parseNear(params) {
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
  params.set("near", `${near.lat.toFixed(5)},${near.lon.toFixed(5)}`);
  params.set("r", String(near.r));
  if (near.label) params.set("at", near.label);
}
