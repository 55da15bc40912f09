"""End-to-end: the Analytics view in headless Chromium against `dallas-calls serve --replay`.
The numbers on screen are the ones `/analytics` answers for the window the page asked for (read
back from the server here); the window and grouping live in the URL; the view works from the
keyboard alone, on a desktop and a phone. Screenshots go to test-artifacts/."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from .test_dashboard import advance_until, api, ids_of, open_dashboard, settle, shot, wait_for

pytestmark = pytest.mark.browser

GROUPS_READY = "#an-groups table[data-table=groups]"


def asked(page: Any, action: Any) -> dict[str, str]:
    """Run ``action`` and return the query of the /analytics request it made."""
    with page.expect_response(lambda r: urlparse(r.url).path == "/analytics" and r.ok) as info:
        action()
    query = parse_qs(urlparse(info.value.url).query)
    return {k: v[0] for k, v in query.items()}


def on_screen(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
          const facts = Object.fromEntries([...document.querySelectorAll('#an-facts [data-fact]')].map(e => [e.dataset.fact, e.textContent.trim()]));
          const rows = (t) => [...document.querySelectorAll(`table[data-table=${t}] tbody tr`)].map(tr =>
              [tr.dataset.key ?? tr.querySelector('th').textContent.trim(), Number((tr.querySelector('[data-n]') || tr.querySelector('td')).textContent)]);
          return { facts, groups: rows('groups'), hourly: rows('hourly'), daily: rows('daily'), beats: rows('beats'),
                   open: [...document.querySelectorAll('table[data-table=groups] tbody tr')].map(tr => Number(tr.children[2].textContent)) };
        }"""
    )


def check_matches(page: Any, server: Any, query: dict[str, str]) -> dict[str, Any]:
    body = api(server, "/analytics?" + urlencode(query))
    wait_for(page, "n => document.getElementById('analytics').dataset.count === String(n)", body["count"])
    seen = on_screen(page)
    assert seen["facts"]["count"] == str(body["count"]) and body["count"] > 0
    assert seen["facts"]["closed"] == str(body["closed"]) and seen["facts"]["open"] == str(body["open"])
    assert seen["groups"] == [[g["key"], g["count"]] for g in body["groups"]]
    assert seen["open"] == [g["open"] for g in body["groups"]]
    assert [n for _, n in seen["hourly"]] == [h["count"] for h in body["per_hour_of_day"]]
    assert [n for _, n in seen["daily"]] == [d["count"] for d in body["per_day"]]
    assert seen["beats"] == [[b["beat"], b["count"]] for b in body["busiest_beats"]]
    return body


def test_numbers_on_screen_match_the_api_and_state_lives_in_the_url(new_page: Any, live_server: Any) -> None:
    advance_until(live_server, lambda before, after: bool(ids_of(before) - ids_of(after)))  # some close
    body = settle(live_server)
    page = new_page(width=1440, height=900)
    query = asked(page, lambda: open_dashboard(page, live_server, "#view=analytics&group=nature"))
    page.wait_for_selector(GROUPS_READY)
    # the window ends after the newest poll (the next whole minute), so its calls are inside
    assert query["end"] > body["as_of"] and query["group_by"] == "nature"
    got = check_matches(page, live_server, query)
    assert got["closed"] > 0 and got["median_s"] is not None
    assert page.locator("#an-facts [data-fact=median]").inner_text() not in ("", "—")
    assert page.locator("#an-group").input_value() == "nature"
    shot(page, "analytics-desktop-light")

    query = asked(page, lambda: page.select_option("#an-group", "priority"))
    assert query["group_by"] == "priority" and "group=priority" in page.evaluate("location.hash")
    got = check_matches(page, live_server, query)
    assert {g["key"] for g in got["groups"]} <= {"1", "2", "3", "4", "unknown"}

    query = asked(page, lambda: page.select_option("#an-range", "1d"))
    assert "range=1d" in page.evaluate("location.hash")
    check_matches(page, live_server, query)

    page.click(".view-toggle button[data-view='map']")
    assert page.locator("#analytics").is_hidden() and page.locator("#map").is_visible()
    assert "view=" not in page.evaluate("location.hash")
    assert page.page_errors == []


@pytest.mark.parametrize(("device", "size"), [("desktop", (1440, 900)), ("phone", (390, 844))])
def test_the_view_works_from_the_keyboard_alone(
    new_page: Any, live_server: Any, device: str, size: tuple[int, int]
) -> None:
    settle(live_server)
    page = new_page(width=size[0], height=size[1], color_scheme="dark")
    open_dashboard(page, live_server)
    button = page.locator(".view-toggle button[data-view='analytics']")
    for _ in range(60):  # Tab from the top of the page to the Analytics button
        page.keyboard.press("Tab")
        if button.evaluate("b => b === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the Analytics button")
    query = asked(page, lambda: page.keyboard.press("Enter"))
    page.wait_for_selector(GROUPS_READY)
    assert button.get_attribute("aria-pressed") == "true" and "view=analytics" in page.evaluate(
        "location.hash"
    )
    check_matches(page, live_server, query)

    page.keyboard.press("Tab")  # the window select
    assert page.evaluate("document.activeElement.id") == "an-range"
    page.keyboard.press("Tab")  # the group-by select
    assert page.evaluate("document.activeElement.id") == "an-group"
    query = asked(page, lambda: page.keyboard.press("ArrowDown"))
    assert query["group_by"] == "priority"
    check_matches(page, live_server, query)

    summary = page.locator("#an-hourly summary")
    for _ in range(10):
        page.keyboard.press("Tab")
        if summary.evaluate("s => s === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the hourly table's disclosure")
    page.keyboard.press("Enter")
    assert page.locator("#an-hourly table").is_visible()
    shot(page, f"analytics-{device}-dark")
    assert page.page_errors == []
