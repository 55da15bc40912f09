"""End-to-end: the dashboard in headless Chromium against `dallas-calls serve --replay` on loopback.

Each test reads the server's own API to know what the page should show, so the tests hold for any
replay directory; `live_server.advance()` steps the replay by one snapshot.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import ARTIFACTS

pytestmark = pytest.mark.browser

LIVE = "body[data-connection=live]"


# ---------------------------------------------------------------- helpers


def api(server: Any, path: str) -> Any:
    with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as res:
        return json.loads(res.read())


def current(server: Any) -> dict[str, Any]:
    return api(server, "/current-calls/")


def ids_of(body: dict[str, Any]) -> set[str]:
    return {c["incident_number"] for c in body["current_active_calls"]}


def located(call: dict[str, Any]) -> bool:
    g = call.get("geo")
    return bool(g) and g.get("lat") is not None and g.get("lon") is not None and g.get("precision") != "none"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")


def open_dashboard(page: Any, server: Any, hash_: str = "") -> None:
    page.goto(server.url.rstrip("/") + "/" + hash_)
    page.wait_for_selector(LIVE, timeout=20_000)
    # a marker that survives only if the page is never reloaded
    page.evaluate("window.__sameDocument = true")


def settle(server: Any, timeout: float = 10.0) -> dict[str, Any]:
    """The server's state once its event id stops moving (location.resolved may trail a poll)."""
    deadline = time.monotonic() + timeout
    body = current(server)
    while time.monotonic() < deadline:
        time.sleep(0.7)
        nxt = current(server)
        if nxt["last_event_id"] == body["last_event_id"]:
            return nxt
        body = nxt
    return body


def advance_until(
    server: Any, want: Callable[[dict[str, Any], dict[str, Any]], bool], steps: int = 4
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Step the replay until `want(before, after)` holds (a suspicious-poll hold may delay closes)."""
    before = settle(server)
    after = before
    for _ in range(steps):
        server.advance()
        after = settle(server)
        if want(before, after):
            return before, after
    pytest.fail(f"the replay never produced the wanted change in {steps} steps")


def marker_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all(".cm[data-incident]", "els => els.map(e => e.dataset.incident)")


def row_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "li.call-row:not(.is-closing)", "els => els.map(e => e.dataset.incident)"
    )


def wait_for(page: Any, js: str, arg: Any = None, timeout: int = 15_000) -> None:
    """Wait until the predicate ``js`` holds. Write it as a function (``() => ...``): Playwright
    polls a bare expression with eval, which the dashboard's Content-Security-Policy refuses."""
    assert "=>" in js, "a predicate is a function"
    page.wait_for_function(js, arg=arg, timeout=timeout)


# ---------------------------------------------------------------- tests


def test_markers_render_for_replayed_calls(page: Any, live_server: Any) -> None:
    body = settle(live_server)
    calls = body["current_active_calls"]
    assert calls, "the replay has no open calls"
    on_map = {c["incident_number"] for c in calls if located(c)}

    open_dashboard(page, live_server, "#cluster=0")
    # every call is listed, with or without a location; unlocated ones are marked and counted
    wait_for(page, "n => document.querySelectorAll('li.call-row').length === n", len(calls))
    assert set(row_ids(page)) == ids_of(body)
    unlocated = len(calls) - len(on_map)
    assert page.locator(".ci-loc-none").count() == unlocated
    if unlocated:
        assert f"{unlocated} not on map" in page.locator("#list-count").inner_text()
    page.wait_for_selector("path.city-limits", state="attached", timeout=10_000)
    if not on_map:
        shot(page, "markers-none-located")
        pytest.skip("no replayed call is located (geocoding off): markers cannot be checked")

    # unclustered: one marker per located incident, never one per unit
    wait_for(page, "n => document.querySelectorAll('.cm[data-incident]').length >= n", len(on_map))
    ids = marker_ids(page)
    assert len(ids) == len(set(ids)), "an incident has more than one marker"
    assert set(ids) == on_map
    shot(page, "markers-unclustered")

    # clustered (the default): the clusters and single markers add up to the same calls
    open_dashboard(page, live_server)
    wait_for(
        page,
        """n => {
          const singles = document.querySelectorAll('.cm[data-incident]').length;
          const grouped = [...document.querySelectorAll('.cluster[data-count]')]
            .reduce((a, e) => a + Number(e.dataset.count), 0);
          return singles + grouped === n;
        }""",
        len(on_map),
    )
    # the map stays readable offline: tiles are refused here, the city limits are drawn
    page.wait_for_selector("path.city-limits", state="attached", timeout=10_000)
    assert not page.locator("#map-notice").is_hidden()
    shot(page, "markers-clustered")
    assert page.page_errors == []


def test_new_call_appears_on_map_and_list_without_reload(page: Any, live_server: Any) -> None:
    open_dashboard(page, live_server, "#cluster=0")
    wait_for(page, "() => document.querySelectorAll('li.call-row').length > 0")
    before, after = advance_until(live_server, lambda b, a: bool(ids_of(a) - ids_of(b)))
    opened = ids_of(after) - ids_of(before)
    opened_located = {c["incident_number"] for c in after["current_active_calls"] if located(c)} & opened

    wait_for(
        page,
        'ids => ids.every(id => document.querySelector(`li.call-row[data-incident="${id}"]`))',
        sorted(opened),
    )
    wait_for(
        page,
        'ids => ids.every(id => document.querySelector(`.cm[data-incident="${id}"]`))',
        sorted(opened_located),
    )
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    # new calls are highlighted
    assert page.locator("li.call-row.is-new").count() >= 1
    shot(page, "new-calls")
    ids = row_ids(page)
    assert len(ids) == len(set(ids))


def test_closed_call_disappears(page: Any, live_server: Any) -> None:
    open_dashboard(page, live_server, "#cluster=0")
    wait_for(page, "() => document.querySelectorAll('li.call-row').length > 0")
    before, after = advance_until(live_server, lambda b, a: bool(ids_of(b) - ids_of(a)))
    closed = sorted(ids_of(before) - ids_of(after))

    # they fade first, then go from both the list and the map
    wait_for(
        page,
        """ids => ids.every(id => !document.querySelector(`li.call-row[data-incident="${id}"]`)
                          && !document.querySelector(`.cm[data-incident="${id}"]`))""",
        closed,
        timeout=20_000,
    )
    assert page.evaluate("window.__sameDocument") is True
    settle(live_server)
    wait_for(
        page,
        "n => document.querySelectorAll('li.call-row:not(.is-closing)').length === n",
        len(ids_of(current(live_server))),
    )
    shot(page, "after-close")


def test_filters_change_visible_markers_and_live_in_the_url(page: Any, live_server: Any) -> None:
    body = settle(live_server)
    on_map = [c for c in body["current_active_calls"] if located(c)]
    if not on_map:
        # nothing is drawn (geocoding off): check the same filters on the list, then skip the map part
        _filters_on_list(page, live_server, body["current_active_calls"])
        pytest.skip("no replayed call is located (geocoding off): filters checked on the list only")
    by_priority: dict[str, set[str]] = {}
    for c in on_map:
        key = str(c["priority"]) if c.get("priority") in (1, 2, 3, 4) else "unknown"
        by_priority.setdefault(key, set()).add(c["incident_number"])
    choices = [k for k, v in by_priority.items() if 0 < len(v) < len(on_map)]
    if not choices:
        pytest.skip("every located call has the same priority: nothing to filter apart")
    prio = max(choices, key=lambda k: len(by_priority[k]))
    want = by_priority[prio]

    open_dashboard(page, live_server, "#cluster=0")
    wait_for(page, "n => document.querySelectorAll('.cm[data-incident]').length === n", len(on_map))
    page.locator(f"#f-priority input[value='{prio}']").check()
    wait_for(page, "n => document.querySelectorAll('.cm[data-incident]').length === n", len(want))
    assert set(marker_ids(page)) == want
    assert f"p={prio}" in page.evaluate("location.hash")
    shot(page, f"filter-priority-{prio}")

    # the filter survives a reload (it is in the URL)
    page.reload()
    page.wait_for_selector(LIVE)
    wait_for(page, "n => document.querySelectorAll('.cm[data-incident]').length === n", len(want))
    assert page.locator(f"#f-priority input[value='{prio}']").is_checked()

    # text search by incident number narrows to that call
    target = sorted(want)[0]
    page.fill("#f-q", target)
    wait_for(page, "() => document.querySelectorAll('li.call-row:not(.is-closing)').length === 1")
    assert row_ids(page) == [target]
    assert marker_ids(page) == [target]

    # division filter: markers are exactly that division's located calls
    page.click("#f-clear")
    wait_for(page, "n => document.querySelectorAll('.cm[data-incident]').length === n", len(on_map))
    division = next(c["division"] for c in on_map if c.get("division"))
    page.select_option("#f-division", division)
    in_div = {c["incident_number"] for c in on_map if c.get("division") == division}
    wait_for(page, "n => document.querySelectorAll('.cm[data-incident]').length === n", len(in_div))
    assert set(marker_ids(page)) == in_div
    assert "div=" in page.evaluate("location.hash")


def _prio(c: dict[str, Any]) -> str:
    return str(c["priority"]) if c.get("priority") in (1, 2, 3, 4) else "unknown"


def _filters_on_list(page: Any, server: Any, calls: list[dict[str, Any]]) -> None:
    counts: dict[str, int] = {}
    for c in calls:
        counts[_prio(c)] = counts.get(_prio(c), 0) + 1
    prio = max(counts, key=lambda k: counts[k])
    want = {c["incident_number"] for c in calls if _prio(c) == prio}
    open_dashboard(page, server)
    wait_for(page, "n => document.querySelectorAll('li.call-row').length === n", len(calls))
    page.locator(f"#f-priority input[value='{prio}']").check()
    wait_for(page, "n => document.querySelectorAll('li.call-row:not(.is-closing)').length === n", len(want))
    assert set(row_ids(page)) == want
    assert f"p={prio}" in page.evaluate("location.hash")
    page.reload()
    page.wait_for_selector(LIVE)
    wait_for(page, "n => document.querySelectorAll('li.call-row:not(.is-closing)').length === n", len(want))
    target = sorted(want)[0]
    page.fill("#f-q", target)
    wait_for(page, "() => document.querySelectorAll('li.call-row:not(.is-closing)').length === 1")
    assert row_ids(page) == [target]
    shot(page, "filter-list-only")


def test_clicking_a_marker_opens_details_with_timeline(page: Any, live_server: Any) -> None:
    body = settle(live_server)
    by_units = sorted(body["current_active_calls"], key=lambda c: -(len(c.get("units") or [])))
    on_map = [c for c in by_units if located(c)]
    call = (on_map or by_units)[0]
    n = call["incident_number"]

    open_dashboard(page, live_server, "#cluster=0")
    if on_map:
        icon = page.locator(f".leaflet-marker-icon:has(.cm[data-incident='{n}'])")
        icon.wait_for()
        try:
            icon.click(timeout=3_000)
        except Exception:  # another marker overlaps it at this zoom: deliver the click to it directly
            icon.dispatch_event("click")
    else:  # nothing is drawn (geocoding off): open it from the list instead
        page.locator(f"li.call-row[data-incident='{n}'] button").click()
    details = page.locator("#details")
    details.wait_for(state="visible")
    page.wait_for_selector("#details .timeline .tl-item")
    assert f"call={n}" in page.evaluate("location.hash")
    text = details.inner_text()
    assert n in text
    for unit in call.get("units") or []:
        assert unit["unit_number"] in text
    history = api(live_server, f"/calls/{n}")["events"]
    assert page.locator("#details .timeline .tl-item").count() == len(history)
    shot(page, "details")

    # Escape closes it; the deep link opens it again
    page.keyboard.press("Escape")
    details.wait_for(state="hidden")
    assert "call=" not in page.evaluate("location.hash")
    page.goto(live_server.url.rstrip("/") + f"/#call={n}")
    page.wait_for_selector("#details .timeline .tl-item")
    assert n in details.inner_text()
    if not on_map:
        pytest.skip("no replayed call is located (geocoding off): opened from the list, not a marker")


def test_badge_reconnects_after_server_restart_without_duplicates(page: Any, live_server: Any) -> None:
    open_dashboard(page, live_server)
    wait_for(page, "() => document.querySelectorAll('li.call-row').length > 0")
    badge = page.locator("#live-badge")
    assert badge.get_attribute("data-state") in ("live", "stale")
    assert "Live" in badge.inner_text() or "Stale" in badge.inner_text()
    shot(page, "badge-live")

    live_server.stop()
    page.wait_for_selector("#live-badge[data-state=reconnecting]", timeout=20_000)
    assert "Reconnecting" in badge.inner_text()
    shot(page, "badge-reconnecting")

    live_server.start()
    page.wait_for_selector("#live-badge[data-state=live], #live-badge[data-state=stale]", timeout=60_000)
    expected = ids_of(settle(live_server))
    wait_for(
        page, "n => document.querySelectorAll('li.call-row:not(.is-closing)').length === n", len(expected)
    )
    ids = row_ids(page)
    assert len(ids) == len(set(ids)), "a call is listed twice after reconnecting"
    assert set(ids) == expected
    markers = page.evaluate("() => [...window.dallasCalls.map.markers.keys()]")
    assert len(markers) == len(set(markers))

    # and the resumed stream still delivers: the next snapshot's new calls arrive, once each
    before, after = advance_until(live_server, lambda b, a: bool(ids_of(a) - ids_of(b)))
    wait_for(
        page,
        'ids => ids.every(id => document.querySelectorAll(`li.call-row[data-incident="${id}"]`).length === 1)',
        sorted(ids_of(after) - ids_of(before)),
    )
    ids = row_ids(page)
    assert len(ids) == len(set(ids))
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "badge-back-live")
