// Wires the dashboard together: config, store, live connection, map, list, details, stats, badge,
// filters and the URL hash.

import { CallStore, byReceivedDesc, isFiltered, matches } from "./state.js";
import { LiveConnection } from "./stream.js";
import { MapView } from "./mapview.js";
import { ListView } from "./listview.js";
import { DetailsPanel } from "./details.js";
import { StatsView } from "./stats.js";
import { LiveBadge } from "./badge.js";
import { GeodataStatus, ModeIndicator } from "./mode.js";
import { readHash, writeHash } from "./url.js";
import { PRIORITIES, hasPoint, natureText, priorityKey, splitNature } from "./format.js";
import { initThemeControl } from "./theme.js";
import { NearControl } from "./nearcontrol.js";
import { byDistance, distanceOf, withinNear } from "./near.js";
import { initDownloads } from "./downloads.js";
import { AreaAlerts } from "./alerts.js";
import { OfflineBanner, OfflineCopy, onShowCall, registerServiceWorker } from "./offline.js";
import { HistoryView } from "./history.js";
import { AnalyticsView, analyticsState } from "./analytics.js";

const $ = (id) => document.getElementById(id);

async function loadConfig() {
  const defaults = {
    tile_url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    tile_attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    poll_interval_s: 60,
  };
  try {
    const res = await fetch("/config.json", { cache: "no-store" });
    if (res.ok) return { ...defaults, ...(await res.json()) };
  } catch { /* defaults */ }
  return defaults;
}

async function main() {
  registerServiceWorker();
  initThemeControl($("theme"));
  const config = await loadConfig();
  const initial = readHash();
  const ui = {
    filters: initial.filters, call: initial.call, cluster: initial.cluster, view: initial.view || "map", near: initial.near,
    window: initial.window,
    analytics: initial.analytics,
  };

  const store = new CallStore();
  const badge = new LiveBadge($("live-badge"), {
    pollIntervalS: config.poll_interval_s,
    onRetry: () => conn.retryNow(),
  });
  const modeIndicator = new ModeIndicator($("mode-banner"), badge);
  new GeodataStatus($("mode-banner"));
  const map = new MapView($("map"), { config, onSelect: (id) => selectCall(id), cluster: ui.cluster });
  const list = new ListView($("call-list"), { onSelect: (id) => selectCall(id) });
  const details = new DetailsPanel($("details"), $("details-body"), $("details-title"), {
    onClose: () => selectCall(null),
  });
  const analytics = new AnalyticsView($("analytics"), {
    state: ui.analytics, onChange: (state) => { ui.analytics = state; writeHash(ui); },
  });
  ui.analytics = analytics.state;
  const stats = new StatsView({ store, onFilter: (f, v) => toggleFilter(f, v), onSelect: (id) => selectCall(id) });

  // ------------------------------------------------------------ filters UI
  // Filters apply as they change; Enter must not submit the form (no inline handler: the CSP
  // allows no inline script).
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  const fq = $("f-q");
  const selects = { division: $("f-division"), nature: $("f-nature"), status: $("f-status"), loc: $("f-loc") };
  const chipBox = $("f-priority");
  chipBox.insertAdjacentHTML("beforeend", PRIORITIES.map((k) => `
    <label class="chip chip-p${k === "unknown" ? "u" : k}">
      <input type="checkbox" value="${k}"><span>${k === "unknown" ? "P?" : `P${k}`} <b class="chip-n" data-priority="${k}">0</b><span class="visually-hidden"> calls</span></span>
    </label>`).join(""));
  const chipCounts = new Map([...chipBox.querySelectorAll(".chip-n")].map((el) => [el.dataset.priority, el]));

  function syncFilterInputs() {
    const f = ui.filters;
    if (fq.value !== f.q) fq.value = f.q;
    for (const box of chipBox.querySelectorAll("input")) box.checked = f.priority.includes(box.value);
    for (const [k, sel] of Object.entries(selects)) {
      if (f[k] && ![...sel.options].some((o) => o.value === f[k])) sel.add(new Option(f[k], f[k]));
      sel.value = f[k] || "";
    }
    $("f-clear").hidden = !isFiltered(f);
    document.body.classList.toggle("filtered", isFiltered(f));
  }

  function fillOptions() {
    const calls = source().all();
    const opts = {
      division: new Set(calls.map((c) => c.division).filter(Boolean)),
      nature: new Set(calls.map((c) => c.nature_of_call).filter(Boolean)),
      status: new Set(calls.map((c) => c.status).filter(Boolean)),
    };
    const labels = { division: "All divisions", nature: "All call types", status: "All statuses" };
    for (const [k, set] of Object.entries(opts)) {
      const sel = selects[k];
      if (ui.filters[k]) set.add(ui.filters[k]);
      const values = [...set].sort((a, b) => (k === "nature" ? splitNature(a).text.localeCompare(splitNature(b).text) : a.localeCompare(b)));
      const sig = values.join("\u0000");
      if (sel._sig === sig) continue;
      sel._sig = sig;
      sel.innerHTML = "";
      sel.add(new Option(labels[k], ""));
      for (const v of values) sel.add(new Option(k === "nature" ? natureText(v) : v, v));
      sel.value = ui.filters[k] || "";
    }
  }

  function setFilters(f) {
    ui.filters = f;
    writeHash(ui);
    syncFilterInputs();
    map.fitTo(render());
  }

  function setNear(near) {
    ui.near = near;
    map.setNear(near);
    writeHash(ui);
    map.fitTo(render());
  }

  function toggleFilter(field, value) {
    const f = { ...ui.filters, priority: [...ui.filters.priority] };
    if (field === "priority") {
      f.priority = f.priority.length === 1 && f.priority[0] === value ? [] : [value];
    } else {
      f[field] = f[field] === value ? "" : value;
    }
    setFilters(f);
    if (matchMedia("(max-width: 760px)").matches) setView("list");
  }

  let qTimer = null;
  fq.addEventListener("input", () => {
    clearTimeout(qTimer);
    qTimer = setTimeout(() => setFilters({ ...ui.filters, q: fq.value.trim() }), 150);
  });
  chipBox.addEventListener("change", () => {
    const p = [...chipBox.querySelectorAll("input:checked")].map((b) => b.value);
    setFilters({ ...ui.filters, priority: p });
  });
  for (const [k, sel] of Object.entries(selects)) {
    sel.addEventListener("change", () => setFilters({ ...ui.filters, [k]: sel.value }));
  }
  $("f-clear").addEventListener("click", () => setFilters({ q: "", priority: [], division: "", nature: "", status: "", loc: "" }));
  $("filters").addEventListener("submit", (e) => e.preventDefault());

  // ------------------------------------------------------------ near a place
  const nearCtl = new NearControl({
    locate: $("near-locate"), address: $("near-address"), radius: $("near-radius"), clear: $("near-clear"), status: $("near-status"),
    draw: $("near-draw"), view: $("near-view"),
  }, { onChange: setNear, area: map.area });
  $("near-find").addEventListener("click", () => nearCtl.find());
  $("near-address").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); nearCtl.find(); }
  });
  nearCtl.show(ui.near);
  map.setNear(ui.near);
  const showAlerted = (id) => { if (matchMedia("(max-width: 760px)").matches) setView("map"); selectCall(id); };
  const alerts = new AreaAlerts({ add: $("alert-add"), list: $("alerts-list"), toasts: $("toasts") }, { onShow: showAlerted });
  onShowCall(showAlerted); // a click on a notification the service worker showed
  const offlineBanner = new OfflineBanner($("offline-banner"));
  const offlineCopy = new OfflineCopy(store);

  const setDownloads = initDownloads({ start: $("dl-start"), end: $("dl-end"), csv: $("dl-history-csv"), geojson: $("dl-history-geojson") });

  // ------------------------------------------------------------ history (its own calls, same filters)
  const historyView = new HistoryView({
    section: $("history"), form: $("hist-form"), presets: [...document.querySelectorAll("#history [data-preset]")],
    start: $("hist-start"), end: $("hist-end"), status: $("hist-status"), play: $("replay-play"), speed: $("replay-speed"),
    range: $("replay-range"), clock: $("replay-clock"), exit: $("replay-exit"), replayStatus: $("replay-status"),
    csv: $("hist-dl-csv"), geojson: $("hist-dl-geojson"),
  }, {
    setDownloads,
    onWindow: (w) => { ui.window = w.preset ? { preset: w.preset } : { startMs: w.startMs, endMs: w.endMs }; writeHash(ui); },
    onChange: ({ fit = false } = {}) => {
      if (ui.view !== "history") return;
      map.prune(historyView);
      fillOptions();
      const shown = render();
      if (fit) map.fitTo(shown);
      if (details.isOpen) details.changed(details.id);
    },
  });
  /** Where the calls on screen come from: the live store, or the History view's window. */
  const source = () => (ui.view === "history" ? historyView : store);

  // ------------------------------------------------------------ rendering
  let renderQueued = false;
  /** Draw what the filters and "near" let through; returns those calls. */
  function render() {
    renderQueued = false;
    alerts.setContext(ui.near, ui.filters);
    const all = source().all();
    const live = store.all();
    const near = ui.near;
    const inArea = all.filter((c) => withinNear(c, near));
    const shown = inArea.filter((c) => matches(c, ui.filters)).sort(near ? byDistance(near) : byReceivedDesc);
    list.distanceOf = near ? (c) => distanceOf(c, near) : null;
    list.durationOf = ui.view === "history" ? (c) => historyView.durationOf(c) : null;
    map.sync(shown);
    list.render(shown);
    // each chip counts the calls it would show with the other filters as they are
    const others = { ...ui.filters, priority: [] };
    const perPriority = Object.fromEntries(PRIORITIES.map((k) => [k, 0]));
    for (const c of inArea) if (matches(c, others)) perPriority[priorityKey(c)] += 1;
    for (const [k, el] of chipCounts) el.textContent = String(perPriority[k]);
    const unlocated = all.filter((c) => !hasPoint(c)).length;
    const shownUnlocated = shown.filter((c) => !hasPoint(c)).length;
    const filtered = isFiltered(ui.filters) || !!near;
    $("list-count").textContent = filtered
      ? `${shown.length} of ${all.length} calls${shownUnlocated ? ` · ${shownUnlocated} not on map` : ""}`
      : `${all.length} calls${unlocated ? ` · ${unlocated} not on map` : ""}`;
    $("list-empty").hidden = shown.length > 0;
    $("toggle-count").textContent = String(shown.length);
    const p1 = live.filter((c) => priorityKey(c) === "1").length;
    const liveUnlocated = live.filter((c) => !hasPoint(c)).length;
    $("summary").textContent = `${live.length} open call${live.length === 1 ? "" : "s"}${p1 ? ` · ${p1} priority 1` : ""}${liveUnlocated ? ` · ${liveUnlocated} without location` : ""}`;
    document.body.dataset.openCalls = String(live.length);
    document.body.dataset.shownCalls = String(shown.length);
    return shown;
  }
  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(render);
    setTimeout(() => renderQueued && render(), 250); // rAF is paused in background tabs
  }

  let loaded = false;
  store.subscribe((change) => {
    badge.updated();
    alerts.consider(change);
    if (ui.view === "history") { // the map and list show the window, not the live calls
      if (!loaded && change.kind === "load") { loaded = true; if (ui.call) selectCall(ui.call, { push: false, fromHash: true }); }
      queueRender();
      stats.soon();
      return;
    }
    if (change.kind === "load") {
      map.prune(store);
      fillOptions();
      const shown = render();
      if (!loaded) {
        loaded = true;
        if (ui.call) selectCall(ui.call, { push: false, fromHash: true });
        else if (isFiltered(ui.filters) || ui.near) map.fitTo(shown);
      }
      if (details.isOpen) details.changed(details.id);
      stats.soon();
      return;
    }
    if (change.kind === "opened" && change.fresh) {
      map.markNew(change.call);
      list.markNew(change.call);
    }
    if (change.kind === "closed") {
      map.close(change.call);
      list.close(change.call);
    }
    if (change.kind === "updated" && change.changes && change.changes.geo) {
      // just located: draw attention to it once
      map.markNew(change.call);
    }
    details.changed(change.call.incident_number);
    fillOptions();
    queueRender();
    stats.soon();
  });

  // ------------------------------------------------------------ selection
  function selectCall(id, { push = true, fromHash = false } = {}) {
    if (id === ui.call && details.isOpen === !!id && !fromHash) {
      if (id) map.select(id, source().get(id));
      return;
    }
    const opener = document.activeElement;
    ui.call = id || null;
    if (!fromHash) writeHash(ui, { push });
    list.select(ui.call);
    map.select(ui.call, ui.call ? source().get(ui.call) : null);
    if (ui.call) {
      if (!details.isOpen) details.opener = opener;
      details.open(ui.call, source().get(ui.call));
    } else {
      const back = details.opener;
      details.close();
      if (back && document.contains(back) && back !== document.body) back.focus();
      else list.focusSelected();
    }
  }

  window.addEventListener("hashchange", () => {
    const h = readHash();
    const refit = JSON.stringify([h.filters, h.near]) !== JSON.stringify([ui.filters, ui.near]);
    ui.filters = h.filters;
    if (JSON.stringify(h.near) !== JSON.stringify(ui.near)) {
      ui.near = h.near;
      nearCtl.show(ui.near);
      map.setNear(ui.near);
    }
    syncFilterInputs();
    const shown = render();
    if (refit) map.fitTo(shown);
    if (h.cluster !== ui.cluster) { ui.cluster = h.cluster; map.setClustering(ui.cluster); render(); }
    if ((h.view || "map") !== ui.view) setView(h.view || "map");
    if (ui.view === "history" && JSON.stringify(h.window) !== JSON.stringify(ui.window)) { ui.window = h.window; historyView.activate(h.window); }
    if (h.call !== ui.call) selectCall(h.call, { fromHash: true });
    if ((h.view || "map") !== ui.view) setView(h.view || "map");
    else if (ui.view === "analytics" && JSON.stringify(analyticsState(h.analytics.range, h.analytics.group)) !== JSON.stringify(analytics.state)) analytics.set(h.analytics);
  });
  window.addEventListener("popstate", () => window.dispatchEvent(new HashChangeEvent("hashchange")));

  // ------------------------------------------------------------ views (phone)
  function setView(view) {
    const was = ui.view;
    ui.view = view;
    $("layout").dataset.view = view;
    for (const b of document.querySelectorAll(".view-toggle button")) b.setAttribute("aria-pressed", String(b.dataset.view === view));
    writeHash(ui);
    if (view === "history") historyView.activate(ui.window);
    else historyView.deactivate();
    analytics.show(view === "analytics");
    if ((was === "history") !== (view === "history")) { map.prune(source()); fillOptions(); render(); }
    if (view === "map" || view === "history") setTimeout(() => map.invalidate(), 50);
  }
  for (const b of document.querySelectorAll(".view-toggle button")) {
    b.addEventListener("click", () => {
      setView(b.dataset.view);
      if (b.dataset.view === "history") $("history").focus({ preventScroll: true }); // its controls come next, not the map's markers
    });
  }
  setView(ui.view);

  // cluster toggle lives in the legend
  const legend = $("legend");
  legend.insertAdjacentHTML("beforeend", `<label class="legend-row"><input type="checkbox" id="cluster-toggle" ${ui.cluster ? "checked" : ""}> group nearby calls</label>`);
  $("cluster-toggle").addEventListener("change", (e) => {
    ui.cluster = e.target.checked;
    map.setClustering(ui.cluster);
    writeHash(ui);
    render();
  });

  // ------------------------------------------------------------ keyboard
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement && document.activeElement.tagName);
    if (e.key === "Escape") {
      if (details.isOpen) { e.preventDefault(); selectCall(null); }
      else if (typing && document.activeElement === fq && fq.value) { fq.value = ""; setFilters({ ...ui.filters, q: "" }); }
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/" && ui.view !== "analytics") { e.preventDefault(); if (ui.view === "map" && matchMedia("(max-width: 760px)").matches) setView("list"); fq.focus(); fq.select(); }
  });

  // ------------------------------------------------------------ go live
  syncFilterInputs();
  const conn = new LiveConnection(store, (state) => {
    badge.setConnection(state);
    document.body.dataset.connection = state.status;
    offlineBanner.update(state);
    offlineCopy.status(state);
  }, (body, fromCache) => { modeIndicator.update(body); analytics.setAnchor(body); offlineCopy.loaded(body, fromCache); });
  window.addEventListener("online", () => conn.retryNow());
  window.addEventListener("offline", () => conn.networkLost());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) conn.retryNow(); });
  await conn.start();
  stats.refresh();
  badge.checkReady();

  // a handle for debugging and end-to-end tests
  window.dallasCalls = {
    store, map, list, details, conn, ui, render, modeIndicator, nearCtl, alerts, offlineCopy, history: historyView, analytics,
  };
}

main().catch((err) => {
  console.error(err);
  const s = document.getElementById("summary");
  if (s) s.textContent = `The dashboard failed to start: ${err.message || err}`;
});
