"""End-to-end (issue 12, item 1): "near" as a drawn area. A box dragged on the map (or the map's
view, by keyboard) filters the list to the calls inside it, nearest its centre first, lives in the
URL, and an alert saved for it fires for a new call inside and not for one outside."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from .test_area_alerts import NOTIFICATIONS
from .test_dashboard import LIVE, ids_of, located, open_dashboard, row_ids, settle, shot, wait_for
from .test_near_and_exports import distance_m

pytestmark = pytest.mark.browser


def inside(calls: list[dict[str, Any]], box: list[float]) -> list[str]:
    """The located calls inside the box, nearest its centre first (the page's order)."""
    s, w, n, e = box
    centre = ((s + n) / 2, (w + e) / 2)
    found = [
        (distance_m(*centre, c["geo"]["lat"], c["geo"]["lon"]), c["incident_number"])
        for c in calls
        if located(c) and s <= c["geo"]["lat"] <= n and w <= c["geo"]["lon"] <= e
    ]
    return [n for _, n in sorted(found)]


def box_of(page: Any) -> list[float]:
    params = urllib.parse.parse_qs(page.evaluate("() => location.hash")[1:])
    return [float(x) for x in params["box"][0].split(",")]


def count_is(page: Any, n: int) -> None:
    wait_for(page, "n => document.querySelectorAll('li.call-row:not(.is-closing)').length === n", n)


def test_a_box_dragged_on_the_map_filters_the_list(new_page: Any, live_server: Any) -> None:
    calls = settle(live_server)["current_active_calls"]
    page = new_page()
    open_dashboard(page, live_server)
    page.click("#near-draw")
    assert page.get_attribute("#near-draw", "aria-pressed") == "true"
    area = page.locator("#map").bounding_box()
    assert area is not None
    x0, y0 = area["x"] + area["width"] * 0.2, area["y"] + area["height"] * 0.2
    x1, y1 = area["x"] + area["width"] * 0.8, area["y"] + area["height"] * 0.8
    # where the corners are before the drag: the box must be exactly there (the map did not pan)
    corners = page.evaluate(
        "([a, b]) => { const m = window.dallasCalls.map.map;"
        " const p = m.containerPointToLatLng(a), q = m.containerPointToLatLng(b);"
        " return [q.lat, p.lng, p.lat, q.lng]; }",
        [[area["width"] * 0.2, area["height"] * 0.2], [area["width"] * 0.8, area["height"] * 0.8]],
    )
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    wait_for(page, "() => location.hash.includes('box=')")
    assert page.get_attribute("#near-draw", "aria-pressed") == "false"
    box = box_of(page)
    # within a pixel (about 0.001° at this zoom): the drag was a box, not a pan
    assert all(abs(a - b) < 1e-3 for a, b in zip(box, corners, strict=True)), (box, corners)
    want = inside(calls, box)
    if not want:
        pytest.skip("no located call inside the middle of the map")
    count_is(page, len(want))
    assert row_ids(page) == want
    assert "drawn area" in page.inner_text("#near-status")
    page.wait_for_selector("path.near-circle", state="attached")
    shot(page, "near-drawn-area")

    # the link gives back the same area and list
    other = new_page()
    open_dashboard(other, live_server, page.evaluate("() => location.hash"))
    count_is(other, len(want))
    assert row_ids(other) == want
    # Escape cancels a drawing and keeps the area as it was
    other.click("#near-draw")
    other.keyboard.press("Escape")
    assert other.get_attribute("#near-draw", "aria-pressed") == "false" and box_of(other) == box
    other.click("#near-clear")
    count_is(other, len(calls))
    assert page.page_errors == [] and other.page_errors == []


def test_the_map_view_becomes_the_area_by_keyboard(new_page: Any, live_server: Any) -> None:
    calls = settle(live_server)["current_active_calls"]
    page = new_page()
    open_dashboard(page, live_server)
    page.evaluate("() => window.dallasCalls.map.map.setView([32.7767, -96.797], 13, { animate: false })")
    bounds = page.evaluate(
        "() => { const b = window.dallasCalls.map.map.getBounds();"
        " return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; }"
    )
    assert page.locator("#alert-add").is_hidden(), "no area yet: nothing to alert on"
    page.focus("#near-view")
    page.keyboard.press("Enter")
    wait_for(page, "() => location.hash.includes('box=')")
    assert page.locator("#alert-add").is_visible()
    box = box_of(page)
    assert all(abs(a - b) < 1e-4 for a, b in zip(box, bounds, strict=True))
    want = inside(calls, box)
    count_is(page, len(want))
    assert row_ids(page) == want


def test_an_alert_for_a_drawn_area(new_page: Any, live_server: Any) -> None:
    before = settle(live_server)
    page = new_page()
    page.add_init_script(NOTIFICATIONS)
    # a box over the north half of the city and one over the south half: which new calls land where
    north = [32.79, -96.99, 33.02, -96.55]
    open_dashboard(page, live_server, "#box=" + ",".join(f"{x:.5f}" for x in north) + "&at=North%20Dallas")
    page.click("#alert-add")
    page.locator("#alerts-list li").wait_for()
    assert "In North Dallas" in page.inner_text("#alerts-list")
    page.click("#near-clear")

    live_server.advance()
    after = settle(live_server)
    new = [c for c in after["current_active_calls"] if c["incident_number"] not in ids_of(before)]
    want = sorted(inside(new, north))
    outside = [c["incident_number"] for c in new if located(c) and c["incident_number"] not in want]
    if not want or not outside:
        pytest.skip("the next snapshot's new calls do not fall on both sides of the box")
    # every announcement is a notification; the page keeps only the newest few toasts
    wait_for(
        page,
        "want => JSON.stringify(window.__notes.map(n => n.tag).sort()) === JSON.stringify(want)",
        want,
    )
    page.wait_for_timeout(500)  # nothing more arrives for the calls outside
    assert sorted(n["tag"] for n in page.evaluate("() => window.__notes")) == want
    toasts = page.eval_on_selector_all("#toasts .toast", "els => els.map(t => t.dataset.incident)")
    assert toasts and set(toasts) <= set(want)
    assert page.page_errors == []
    page.goto(live_server.url + "/")
    page.wait_for_selector(LIVE)
