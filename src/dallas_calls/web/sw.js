// The dashboard's service worker, served as /sw.js (scope "/") with `const SHELL = {version, files}`
// put in front of this code by the server (api/pwa.py: the files under web/ and a hash of them).
//
// - The app shell (page, CSS, JS modules, Leaflet, icons, map outlines) is precached in a cache
//   named after the shell's version; activating a new version deletes the older caches.
// - The page and its data (/current-calls/, /config.json, /stats, /geo/, and the details of the
//   calls opened in it, /calls/{id}) are network-first: the newest answer is kept in the data cache
//   and served when the network is gone, marked with the X-Dallas-Calls-Offline header (the time it
//   was saved, in ms) so the page can say how old it is. Only the CALL_COPIES calls opened last
//   are kept, so months of use do not fill the device.
// - Static files are cache-first (their cache is replaced with each release).
// - Never handled: the event stream (/get-events/), exports (?format=), ingest, metrics and
//   health probes, /docs, and every other origin (map tiles are the browser's own HTTP cache's
//   business: an unbounded tile cache would fill the device).
// - Notifications: a click focuses the dashboard and asks it to open the call.

/* global SHELL */
const SHELL_CACHE = `dallas-calls-shell-${SHELL.version}`;
const DATA_CACHE = "dallas-calls-data-v1";
const OFFLINE_HEADER = "X-Dallas-Calls-Offline";
const NETWORK_FIRST = ["/", "/current-calls/", "/config.json", "/stats"];
const CALL_COPIES = 100;
const NEVER = ["/get-events/", "/events/", "/metrics", "/healthz", "/readyz", "/docs", "/openapi.json", "/sw.js"];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    // cache: "reload" so a release is not precached from the browser's HTTP cache of the last one
    await cache.addAll(SHELL.files.map((url) => new Request(url, { cache: "reload" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith("dallas-calls-") && n !== SHELL_CACHE && n !== DATA_CACHE)
      .map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

/** How this worker answers a request: "network-first", "cache-first" or null (not at all). */
function strategy(request) {
  if (request.method !== "GET") return null;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return null;
  if (NEVER.some((p) => url.pathname === p || url.pathname.startsWith(p))) return null;
  if (url.searchParams.has("format")) return null; // a download: always fresh, never stored
  // (a tab opened on /history is not the dashboard: left to the network)
  if (NETWORK_FIRST.includes(url.pathname) || url.pathname.startsWith("/geo/")) return "network-first";
  if (url.pathname.startsWith("/calls/")) return "network-first";
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") return "cache-first";
  return null;
}

/** The key a response is kept under: the path alone (query strings vary; fragments are not sent). */
function keyOf(request) {
  return new URL(request.url).pathname;
}

/** Keep a copy of a good answer, stamped with when it was fetched (the body as decoded by fetch). */
async function keep(key, response) {
  const headers = new Headers(response.headers);
  headers.delete("Content-Encoding");
  headers.delete("Content-Length");
  headers.set(OFFLINE_HEADER, String(Date.now()));
  const body = await response.blob();
  const cache = await caches.open(DATA_CACHE);
  if (key.startsWith("/calls/")) await cache.delete(key); // re-put last: the keys keep put order
  await cache.put(key, new Response(body, { status: 200, statusText: "OK", headers }));
  if (key.startsWith("/calls/")) {
    const calls = (await cache.keys()).filter((r) => new URL(r.url).pathname.startsWith("/calls/"));
    await Promise.all(calls.slice(0, Math.max(0, calls.length - CALL_COPIES)).map((r) => cache.delete(r)));
  }
}

async function networkFirst(event) {
  const request = event.request;
  const key = keyOf(request);
  try {
    const response = await fetch(request);
    if (response.status === 200) event.waitUntil(keep(key, response.clone()));
    return response;
  } catch {
    const saved = (await (await caches.open(DATA_CACHE)).match(key)) || (await caches.match(key, { cacheName: SHELL_CACHE }));
    if (saved) {
      if (saved.headers.has(OFFLINE_HEADER)) return saved;
      const headers = new Headers(saved.headers);
      headers.set(OFFLINE_HEADER, "shell"); // precached with the shell: no data time
      return new Response(await saved.blob(), { status: 200, headers });
    }
    return new Response(JSON.stringify({ error: "offline", message: "no network, and no data cached yet on this device" }), {
      status: 503,
      headers: { "Content-Type": "application/json", [OFFLINE_HEADER]: "none" },
    });
  }
}

async function cacheFirst(request) {
  const hit = await caches.match(new URL(request.url).pathname, { cacheName: SHELL_CACHE });
  return hit || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const how = strategy(event.request);
  if (how === "network-first") event.respondWith(networkFirst(event));
  else if (how === "cache-first") event.respondWith(cacheFirst(event.request));
});

// The page reports the calls it shows (it follows the stream, so they are newer than the last
// /current-calls/): kept as the offline copy of /current-calls/, stamped with when it saw them.
self.addEventListener("message", (event) => {
  const msg = event.data || {};
  if (msg.type !== "snapshot" || !msg.body || !Array.isArray(msg.body.current_active_calls)) return;
  const seenAt = Number(msg.seenAt) || Date.now();
  event.waitUntil(caches.open(DATA_CACHE).then((cache) => cache.put("/current-calls/", new Response(JSON.stringify(msg.body), {
    headers: { "Content-Type": "application/json", [OFFLINE_HEADER]: String(seenAt) },
  }))));
});

/** Focus a dashboard window (or open one) and have it show the call. */
async function openCall(incident) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const client = windows.find((c) => new URL(c.url).origin === self.location.origin);
  if (client) {
    await client.focus().catch(() => {});
    client.postMessage({ type: "show-call", incident });
    return client;
  }
  return self.clients.openWindow(`/#call=${encodeURIComponent(incident)}`);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const incident = event.notification.data && event.notification.data.incident;
  if (incident) event.waitUntil(openCall(incident));
});
