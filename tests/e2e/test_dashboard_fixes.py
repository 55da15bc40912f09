"""End-to-end (issue 12): keyboard activation and names of markers and clusters, re-fitting the map,
chip counts, distinct call types in the stats, the beats layer, the theme toggle, the update time on
a phone, "Reopened" in the timeline. Headless Chromium against `serve` on loopback."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .test_dashboard import LIVE, _prio, api, located, open_dashboard, settle, shot, wait_for

pytestmark = pytest.mark.browser

MARKER = ".leaflet-marker-icon:has(.cm[data-incident])"
CLUSTER = ".leaflet-marker-icon:has(.cluster[data-count])"
CLUSTER_NAME = re.compile(r"^(\d+) calls: (.+)\. Press Enter to zoom in\.$")


def map_idle(page: Any) -> None:
    """Wait until the map and its clusters have stopped moving (markers are redrawn meanwhile)."""
    wait_for(
        page,
        """() => { const v = window.dallasCalls.map;
                   return !v.map._animatingZoom && !v.map._panAnim?._inProgress && !v.group._inZoomAnimation; }""",
    )


def city_view(page: Any) -> None:
    page.click("#whole-city")
    wait_for(page, "() => window.dallasCalls.map.map.getZoom() <= 11")
    map_idle(page)


def test_keyboard_opens_a_marker_and_zooms_into_a_cluster(page: Any, live_server: Any) -> None:
    calls = settle(live_server)["current_active_calls"]
    if not any(located(c) for c in calls):
        pytest.skip("no replayed call is located: no marker to activate")
    open_dashboard(page, live_server)
    page.wait_for_selector(MARKER)
    map_idle(page)

    # a single marker: focus it (as Tab does: it is in the tab order), Enter opens its call
    marker = page.locator(MARKER).first
    assert marker.get_attribute("tabindex") == "0" and marker.get_attribute("role") == "button"
    incident = marker.locator(".cm").get_attribute("data-incident")
    marker.focus()
    page.keyboard.press("Enter")
    page.locator("#details").wait_for(state="visible")
    assert f"call={incident}" in page.evaluate("location.hash")
    assert incident in page.inner_text("#details")
    page.keyboard.press("Escape")
    page.locator("#details").wait_for(state="hidden")

    # Space does it too
    city_view(page)
    marker = page.locator(MARKER).last
    incident = marker.locator(".cm").get_attribute("data-incident")
    marker.focus()
    page.keyboard.press(" ")
    page.wait_for_function("id => location.hash.includes(`call=${id}`)", arg=incident)
    page.keyboard.press("Escape")

    # a cluster: Enter zooms into it
    city_view(page)
    page.wait_for_selector(CLUSTER)
    zoom = page.evaluate("window.dallasCalls.map.map.getZoom()")
    cluster = page.locator(CLUSTER).first
    assert cluster.get_attribute("tabindex") == "0" and cluster.get_attribute("role") == "button"
    cluster.focus()
    page.keyboard.press("Enter")
    wait_for(page, "z => window.dallasCalls.map.map.getZoom() > z", zoom)
    assert page.locator("#details").is_hidden(), "a cluster zooms; it opens no call"
    shot(page, "keyboard-cluster-zoomed")
    assert page.page_errors == []


def test_clusters_are_named_by_their_calls_and_priorities(page: Any, live_server: Any) -> None:
    calls = settle(live_server)["current_active_calls"]
    if sum(located(c) for c in calls) < 2:
        pytest.skip("too few located calls for a cluster")
    open_dashboard(page, live_server)
    page.wait_for_selector(CLUSTER)
    names = page.eval_on_selector_all(
        CLUSTER,
        "els => els.map(e => [e.getAttribute('aria-label'), e.querySelector('.cluster').dataset.count])",
    )
    assert names
    for name, count in names:
        m = CLUSTER_NAME.match(name)
        assert m, f"not a cluster name: {name!r}"
        assert m.group(1) == count
        parts = m.group(2).split(", ")
        assert all(re.fullmatch(r"\d+ (P[1-4]|priority unknown)", p) for p in parts), name
        assert sum(int(p.split()[0]) for p in parts) == int(count)
    # markers are named by what they are, not by their code
    label = page.locator(MARKER).first.get_attribute("aria-label")
    assert re.match(r"^P[1-4?] ", label or "")


def test_priority_chips_count_the_calls(page: Any, live_server: Any) -> None:
    open_dashboard(page, live_server)
    body = settle(live_server)
    wait_for(page, "n => window.dallasCalls.store.all().length === n", len(body["current_active_calls"]))
    want = {k: 0 for k in ("1", "2", "3", "4", "unknown")}
    for call in body["current_active_calls"]:
        want[_prio(call)] += 1
    wait_for(
        page,
        "want => Object.entries(want).every(([k, n]) => document.querySelector(`.chip-n[data-priority='${k}']`).textContent === String(n))",
        want,
    )
    # the count is part of each checkbox's name
    name = page.get_by_role("checkbox", name=re.compile(r"^P1 \d+ calls$"))
    assert name.count() == 1


def test_a_filter_change_refits_the_map_and_the_city_button_shows_it_all(page: Any, live_server: Any) -> None:
    body = settle(live_server)
    on_map = [c for c in body["current_active_calls"] if located(c)]
    prios = {_prio(c) for c in on_map}
    if len(on_map) < 2 or len(prios) < 2:
        pytest.skip("needs located calls of two priorities")
    open_dashboard(page, live_server, "#cluster=0")
    wait_for(page, "n => document.querySelectorAll('.cm[data-incident]').length === n", len(on_map))
    # open a call: the map zooms to it (zoom >= 14)
    far = max(on_map, key=lambda c: abs(c["geo"]["lat"] - 32.78) + abs(c["geo"]["lon"] + 96.8))
    page.evaluate("id => window.dallasCalls.list.onSelect(id)", far["incident_number"])
    wait_for(page, "() => window.dallasCalls.map.map.getZoom() >= 14")
    page.keyboard.press("Escape")
    other = next(p for p in sorted(prios) if p != _prio(far))
    want = [c for c in on_map if _prio(c) == other]
    page.locator(f"#f-priority input[value='{other}']").check()
    wait_for(page, "n => document.querySelectorAll('.cm[data-incident]').length === n", len(want))
    inside = """pts => { const b = window.dallasCalls.map.map.getBounds();
                         return pts.every(([lat, lon]) => b.contains([lat, lon])); }"""
    wait_for(page, inside, [[c["geo"]["lat"], c["geo"]["lon"]] for c in want])
    shot(page, "refit-after-filter")
    # the whole-city button: every located call (and downtown) in view
    page.locator(f"#f-priority input[value='{other}']").uncheck()
    page.evaluate("id => window.dallasCalls.list.onSelect(id)", far["incident_number"])
    wait_for(page, "() => window.dallasCalls.map.map.getZoom() >= 14")
    page.keyboard.press("Escape")
    page.click("#whole-city")
    wait_for(page, inside, [[c["geo"]["lat"], c["geo"]["lon"]] for c in on_map] + [[32.7767, -96.797]])


def test_stats_keep_call_types_with_one_name_apart(page: Any, live_server: Any) -> None:
    open_dashboard(page, live_server)
    page.wait_for_selector("#stat-nature .bar-row", state="attached")
    rows = page.eval_on_selector_all(
        "#stat-nature .bar-row",
        "els => els.map(e => [e.dataset.value, e.querySelector('.bar-label').textContent])",
    )
    labels = [label for _, label in rows]
    assert len(labels) == len(set(labels)), f"two call types share a label: {labels}"
    for value, label in rows:
        code = re.match(r"^([0-9A-Z/*]{1,7})\s*-\s*", value, re.I)
        if code:
            assert f"({code.group(1).upper()})" in label
    # the filter's options too: "40 - Other" and "40/01 - Other" are two options with two names
    options = page.eval_on_selector_all("#f-nature option", "els => els.map(e => e.textContent)")
    assert len(options) == len(set(options))


def test_the_beats_layer_is_offered_and_drawn(page: Any, live_server: Any) -> None:
    beats = api(live_server, "/geo/beats.geojson")
    assert len(beats["features"]) > 200
    open_dashboard(page, live_server)
    page.hover(".leaflet-control-layers")
    label = page.locator(".leaflet-control-layers-overlays label", has_text="Police beats")
    label.wait_for()
    box = label.locator("input")
    if not box.is_checked():
        box.check()
    wait_for(page, "n => document.querySelectorAll('path.beat-area').length === n", len(beats["features"]))
    shot(page, "beats-layer")
    box.uncheck()
    wait_for(page, "() => document.querySelectorAll('path.beat-area').length === 0")


def test_the_theme_choice_is_remembered(new_page: Any, live_server: Any) -> None:
    page = new_page(color_scheme="light")
    open_dashboard(page, live_server)
    assert page.evaluate("document.documentElement.dataset.scheme") == "light"
    light_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.select_option("#theme", "dark")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    dark_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark_bg != light_bg
    page.reload()
    page.wait_for_selector(LIVE)
    assert page.input_value("#theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == dark_bg
    shot(page, "theme-dark")
    # back to "system": follows the device (light here)
    page.select_option("#theme", "system")
    page.reload()
    page.wait_for_selector(LIVE)
    assert page.input_value("#theme") == "system"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == light_bg
    # a dark device with no choice made: dark
    dark_device = new_page(color_scheme="dark")
    open_dashboard(dark_device, live_server)
    assert dark_device.evaluate("getComputedStyle(document.body).backgroundColor") == dark_bg


def test_a_phone_shows_the_update_time(new_page: Any, live_server: Any) -> None:
    page = new_page(width=390, height=844)
    open_dashboard(page, live_server)
    time_el = page.locator("#live-badge-time")
    wait_for(page, "() => /\\d:\\d\\d/.test(document.querySelector('#live-badge-time').textContent)")
    assert time_el.is_visible()
    box = time_el.bounding_box()
    assert box and box["x"] + box["width"] <= 390, "inside the screen"
    shot(page, "phone-update-time")


def test_a_reopened_call_reads_reopened_in_the_timeline(page: Any, live_server: Any) -> None:
    open_dashboard(page, live_server)
    described = page.evaluate(
        """async () => {
          const { describeEvent } = await import('/static/js/details.js');
          const reopened = describeEvent({ type: 'call.updated', at: '2019-06-18T06:00:00Z', data: {
            reopened: true, call: {}, changes: { closed_at: ['2019-06-18T05:40:00Z', null], status: ['Closed', 'At Scene'] } } });
          const updated = describeEvent({ type: 'call.updated', at: '2019-06-18T06:00:00Z', data: {
            call: {}, changes: { status: ['En Route', 'At Scene'] } } });
          return { reopened, updated };
        }"""
    )
    assert described["reopened"]["label"] == "Reopened"
    lines = " ".join(described["reopened"]["lines"])
    assert lines.startswith("Back in the feed after closing at ")
    assert "closed_at" not in lines and "→ —" not in lines
    assert "Status" in lines, "other changes are still listed"
    assert described["updated"]["label"] == "Updated"
