"""End-to-end (issue 12, items 2 and 3): the dashboard is installable (Chromium's own installability
check finds nothing wrong with its manifest, icons and service worker); after one visit it opens
with no network and says it shows saved calls (and when it saw them), or that it has none yet;
a call opened while online shows its saved details offline;
it goes live again by itself when the network returns; an area alert's notification is shown by the
service worker, and a click on it opens the call in the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, _loopback_only
from .test_accessibility import AXE, axe_problems
from .test_area_alerts import RADIUS_M, calls_in_area, upcoming_place, wait_for_toasts
from .test_dashboard import LIVE, ids_of, open_dashboard, row_ids, settle, shot, wait_for

pytestmark = pytest.mark.browser

CONTROLLED = "() => navigator.serviceWorker.controller !== null"
SAVED_COPY = "() => caches.match('/current-calls/').then(r => !!r)"


def controlled_dashboard(page: Any, server: Any, hash_: str = "") -> None:
    """The dashboard, live, with its service worker installed and in control of the page."""
    open_dashboard(page, server, hash_)
    page.wait_for_function(CONTROLLED, timeout=20_000)


def test_chromium_finds_the_dashboard_installable(browser: Any, live_server: Any, tmp_path: Path) -> None:
    # a profile on disk: Chromium installs nothing from an incognito context (Playwright's default)
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.route("**/*", _loopback_only)
        controlled_dashboard(page, live_server)
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == [], manifest["errors"]
        assert manifest["url"].endswith("/manifest.webmanifest")
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        # every icon the manifest names is served, as the type it claims
        for icon in page.evaluate("fetch('/manifest.webmanifest').then(r => r.json()).then(m => m.icons)"):
            res = page.request.get(live_server.url + icon["src"])
            assert res.ok, icon["src"]
            assert res.headers["content-type"].startswith(icon["type"])
    finally:
        context.close()


def test_a_release_replaces_the_old_shell_cache(new_page: Any, live_server: Any) -> None:
    page = new_page()
    # the caches an earlier release left (a page of this origin that is not the dashboard makes them)
    page.goto(live_server.url + "/healthz")
    page.evaluate(
        """async () => { const old = await caches.open('dallas-calls-shell-0123456789abcdef');
                         await old.put('/static/js/gone.js', new Response('old'));
                         await caches.open('someone-elses-cache'); }"""
    )
    controlled_dashboard(page, live_server)
    version = page.evaluate(
        "fetch('/sw.js').then(r => r.text()).then(t => JSON.parse(t.match(/^const SHELL = (.*);$/m)[1]).version)"
    )
    page.wait_for_function(
        "v => caches.keys().then(k => !k.includes('dallas-calls-shell-0123456789abcdef') && k.includes(`dallas-calls-shell-${v}`))",
        arg=version,
    )
    names = page.evaluate("caches.keys()")
    assert "someone-elses-cache" in names, "only this app's caches are cleared"
    shell = page.evaluate(
        "v => caches.open(`dallas-calls-shell-${v}`).then(c => c.keys()).then(rs => rs.map(r => new URL(r.url).pathname))",
        version,
    )
    modules = page.evaluate(
        "[...document.querySelectorAll('script[type=module]')].map(s => new URL(s.src).pathname)"
    )
    assert "/" in shell and set(modules) <= set(shell)
    assert page.page_errors == []


def test_offline_the_page_opens_with_the_calls_it_saw_and_goes_live_again(
    new_page: Any, live_server: Any
) -> None:
    page = new_page(bypass_csp=True, reduced_motion="reduce")  # axe-core is injected below
    controlled_dashboard(page, live_server)
    wait_for(page, "() => document.querySelectorAll('li.call-row').length > 0")

    # 1. nothing saved yet (the copy is dropped): the shell opens and says there is no data
    page.context.set_offline(True)
    live_server.stop()  # no network for the worker either, whatever the browser emulates
    page.wait_for_selector("#live-badge[data-state=offline]", timeout=20_000)
    page.wait_for_function(SAVED_COPY)  # going offline, the page handed the worker its calls
    # as on a device that never saved any: the copy is dropped, and this page saves no other
    # (it would at the reload's pagehide)
    page.evaluate("window.dallasCalls.offlineCopy.meta = null")
    page.evaluate("caches.open('dallas-calls-data-v1').then(c => c.delete('/current-calls/'))")
    page.reload()
    page.wait_for_selector("#live-badge[data-state=offline]", timeout=20_000)
    banner = page.locator("#offline-banner")
    assert banner.is_visible()
    assert "Offline: no data cached yet on this device" in banner.inner_text()
    assert page.locator("li.call-row").count() == 0

    # 2. back online: live by itself (no click, no reload), and it saves its calls once more
    live_server.start()
    page.context.set_offline(False)
    page.wait_for_selector(LIVE, timeout=30_000)
    assert banner.is_hidden()
    expected = ids_of(settle(live_server))
    wait_for(page, "n => document.querySelectorAll('li.call-row').length === n", len(expected))
    # a call opened while online: its details are kept for offline use; another is never opened
    opened, never = sorted(expected)[:2]
    page.evaluate("id => { location.hash = '#call=' + id; }", opened)
    page.wait_for_selector("#details .timeline .tl-item")
    page.wait_for_function("id => caches.match('/calls/' + id).then(r => !!r)", arg=opened)
    page.keyboard.press("Escape")

    # what the worker keeps: this origin's shell and data only; never the stream, an export or a tile
    kept = page.evaluate(
        """async () => { const out = [];
             for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) out.push(r.url);
             return out; }"""
    )
    assert kept and all(u.startswith(live_server.url + "/") for u in kept), kept
    assert not [u for u in kept if "/get-events/" in u or "format=" in u]

    # 3. offline again: a reload shows the calls this device saw, with the time it saw them
    page.context.set_offline(True)
    live_server.stop()
    page.wait_for_selector("#live-badge[data-state=offline]", timeout=20_000)
    page.wait_for_function(SAVED_COPY)
    page.reload()
    page.wait_for_selector("#live-badge[data-state=offline]", timeout=20_000)
    wait_for(page, "n => document.querySelectorAll('li.call-row').length === n", len(expected))
    assert set(row_ids(page)) == expected
    text = banner.inner_text()
    assert text.startswith("Offline: showing the last calls this device saw at "), text
    clock = page.evaluate("() => document.querySelector('#live-badge-time').textContent")
    assert "seen" in clock
    assert "Offline" in page.inner_text("#live-badge")
    assert page.locator(".leaflet-container").count() == 1, "the map (Leaflet, from the cache) is drawn"
    shot(page, "offline-saved-calls")
    if AXE.exists():
        assert axe_problems(page) == []
    # the call opened online shows its saved timeline, and says so; the other says it has none
    page.evaluate("id => { location.hash = '#call=' + id; }", opened)
    page.wait_for_selector("#details .offline-note")
    assert (
        page.locator("#details .offline-note").inner_text().startswith("Offline: as this device saw it at ")
    )
    assert page.locator("#details .timeline .tl-item").count() > 0
    page.evaluate("id => { location.hash = '#call=' + id; }", never)
    page.wait_for_function(
        "() => document.querySelector('#details .timeline')?.textContent.includes('not saved on this device')"
    )
    page.keyboard.press("Escape")

    # 4. and live again, by itself
    live_server.start()
    page.context.set_offline(False)
    page.wait_for_selector(LIVE, timeout=30_000)
    assert banner.is_hidden()
    assert page.locator("#live-badge-label").inner_text() in ("Live", "Stale")
    assert page.page_errors == []


def test_an_alert_is_notified_by_the_service_worker_and_its_click_opens_the_call(
    new_page: Any, live_server: Any
) -> None:
    before = settle(live_server)
    centre, priority = upcoming_place(live_server, before)
    page = new_page(permissions=["notifications"])
    area = f"#near={centre['lat']:.5f},{centre['lon']:.5f}&r={RADIUS_M}&at=Test%20area&p={priority}"
    controlled_dashboard(page, live_server, area)
    assert page.evaluate("Notification.permission") == "granted"
    page.click("#alert-add")
    page.locator("#alerts-list li").wait_for()
    page.click("#near-clear")
    page.click("#f-clear")

    live_server.advance()
    want = calls_in_area(before, settle(live_server), centre, priority)
    wait_for_toasts(page, want)
    assert page.evaluate("window.dallasCalls.alerts.notified") == "worker"
    notes = page.evaluate(
        """() => navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns =>
             ns.map(n => ({ title: n.title, tag: n.tag, incident: n.data && n.data.incident })))"""
    )
    assert sorted(n["tag"] for n in notes) == want
    assert all(n["incident"] == n["tag"] and "near Test area" in n["title"] for n in notes)

    # a click: the worker's notificationclick handler's work (headless Chromium shows no
    # notification to click), run in the worker on the notification it showed
    worker = page.context.service_workers[0]
    worker.evaluate(
        """id => self.registration.getNotifications({ tag: id }).then(ns => openCall(ns[0].data.incident))""",
        want[0],
    )
    page.wait_for_function("id => location.hash.includes(`call=${id}`)", arg=want[0])
    page.wait_for_selector("#details:not([hidden])")
    assert page.page_errors == []
