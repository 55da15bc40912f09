"""End-to-end (issue 12): an area alert saved in the page (centre, radius, priorities) survives a
reload, and each new call that lands in it gives a toast and, with permission, a notification;
new calls elsewhere (or of other priorities) give none. Matching is on the client."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from .test_dashboard import LIVE, _prio, api, ids_of, located, open_dashboard, settle, shot, wait_for
from .test_near_and_exports import distance_m

pytestmark = pytest.mark.browser

RADIUS_M = 2000
# a Notification stand-in that records what the page announces (headless Chromium shows nothing)
NOTIFICATIONS = """
window.__notes = [];
window.Notification = class {
  static permission = 'granted';
  static requestPermission() { return Promise.resolve('granted'); }
  constructor(title, options) { window.__notes.push({ title, tag: options && options.tag }); }
};
"""


def wait_for_toasts(page: Any, want: list[str]) -> None:
    """Until the page's toasts are exactly those of the calls ``want`` (sorted incident numbers)."""
    wait_for(
        page,
        "want => { const ids = [...document.querySelectorAll('#toasts .toast')].map(t => t.dataset.incident).sort();"
        " return JSON.stringify(ids) === JSON.stringify(want); }",
        want,
    )


def upcoming_place(live_server: Any, before: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The place (by the server's locator) and priority of a call the next poll brings."""
    upcoming = [r for r in live_server.feed._snapshots[1] if str(r["incident_number"]) not in ids_of(before)]
    for row in upcoming:
        q = " ".join(str(row[k]) for k in ("block", "location") if row.get(k))
        try:
            centre = api(live_server, "/geocode?" + urllib.parse.urlencode({"q": q}))["geo"]
        except Exception:
            continue
        return centre, str(row.get("priority") or "unknown").strip()
    pytest.skip("no call of the next snapshot can be located")


def calls_in_area(
    before: dict[str, Any], after: dict[str, Any], centre: dict[str, Any], priority: str
) -> list[str]:
    """The new calls an alert on ``centre`` (RADIUS_M, ``priority``) must announce."""
    new = [c for c in after["current_active_calls"] if c["incident_number"] not in ids_of(before)]
    want = sorted(
        c["incident_number"]
        for c in new
        if located(c)
        and _prio(c) == priority
        and distance_m(centre["lat"], centre["lon"], c["geo"]["lat"], c["geo"]["lon"]) <= RADIUS_M
    )
    if not want:
        pytest.skip("the located new call is outside the area it was looked up in")
    return want


def test_new_calls_in_a_saved_area_are_announced(new_page: Any, live_server: Any) -> None:
    before = settle(live_server)
    centre, priority = upcoming_place(live_server, before)

    page = new_page()
    page.add_init_script(NOTIFICATIONS)
    area = f"#near={centre['lat']:.5f},{centre['lon']:.5f}&r={RADIUS_M}&at=Test%20area&p={priority}"
    open_dashboard(page, live_server, area)
    page.click("#alert-add")
    page.locator("#alerts-list li").wait_for()
    assert "Within 2 km of Test area" in page.inner_text("#alerts-list")
    page.click("#near-clear")
    page.click("#f-clear")
    # saved: still there after a reload
    page.reload()
    page.wait_for_selector(LIVE)
    assert page.locator("#alerts-list li").count() == 1

    live_server.advance()
    want = calls_in_area(before, settle(live_server), centre, priority)
    wait_for_toasts(page, want)
    assert sorted(n["tag"] for n in page.evaluate("window.__notes")) == want
    assert "near Test area" in page.inner_text("#toasts")
    shot(page, "area-alert-toast")
    # "Show" opens the call
    page.click(f"#toasts .toast[data-incident='{want[0]}'] [data-show]")
    page.wait_for_function("id => location.hash.includes(`call=${id}`)", arg=want[0])
    assert page.page_errors == []
