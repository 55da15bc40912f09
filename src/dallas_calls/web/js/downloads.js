// Download links: the open calls (/current-calls/?format=) and a history window
// (/history?start=&end=&format=), as CSV or GeoJSON. The window's inputs are in the device's time.

const DAY_MS = 24 * 3600 * 1000;

/** "2026-12-01T09:30" for a datetime-local input, in the device's time zone. */
export function localInputValue(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function historyUrl(startMs, endMs, format) {
  const q = new URLSearchParams({ start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString(), format });
  return `/history?${q}`;
}

/** Wire the window inputs to the links; returns `setWindow(startMs, endMs)` (the History view's
 * picked window is the downloads' too). */
export function initDownloads({ start, end, csv, geojson }, now = Date.now()) {
  start.value = localInputValue(now - DAY_MS);
  end.value = localInputValue(now + 60 * 1000);
  const update = () => {
    const s = Date.parse(start.value);
    const e = Date.parse(end.value);
    const ok = Number.isFinite(s) && Number.isFinite(e) && e > s;
    for (const [link, format] of [[csv, "csv"], [geojson, "geojson"]]) {
      if (ok) {
        link.href = historyUrl(s, e, format);
        link.removeAttribute("aria-disabled");
      } else {
        link.removeAttribute("href");
        link.setAttribute("aria-disabled", "true");
      }
    }
  };
  start.addEventListener("change", update);
  end.addEventListener("change", update);
  update();
  return (startMs, endMs) => {
    start.value = localInputValue(startMs);
    end.value = localInputValue(endMs);
    update();
  };
}
