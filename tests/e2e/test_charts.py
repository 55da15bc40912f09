"""End-to-end: the plain-SVG bar charts (web/js/barchart.js) of the Stats view and the Analytics
view draw one bar per value, titled with that value, in Chromium against `serve --replay`."""

from __future__ import annotations

from typing import Any

import pytest

from .test_analytics_view import GROUPS_READY
from .test_dashboard import api, open_dashboard, settle, wait_for

pytestmark = pytest.mark.browser

BARS = """sel => [...document.querySelectorAll(sel)].map(r => ({
  title: r.querySelector('title').textContent, height: Number(r.getAttribute('height')) }))"""


def test_the_stats_hourly_chart_draws_each_hour(new_page: Any, live_server: Any) -> None:
    settle(live_server)
    page = new_page()
    open_dashboard(page, live_server)
    wait_for(page, "() => document.querySelectorAll('#stat-hourly svg rect.bar').length > 0")
    hours = api(live_server, "/stats")["opened_per_hour"]
    bars = page.evaluate(BARS, "#stat-hourly svg rect.bar")
    assert len(bars) == len(hours)
    assert [int(b["title"].rsplit(": ", 1)[1].split()[0]) for b in bars] == [h["count"] for h in hours]
    assert all((b["height"] > 0) == (h["count"] > 0) for b, h in zip(bars, hours, strict=True))
    assert page.locator("#stat-hourly svg rect.bar.now").count() == 1  # the current hour
    hits = page.locator("#stat-hourly svg rect[fill=transparent]")
    assert hits.count() == len(hours), "a hover target per hour"
    assert (page.get_attribute("#stat-hourly svg", "aria-label") or "").startswith(
        f"{sum(h['count'] for h in hours)} calls"
    )


def test_the_analytics_charts_draw_each_hour_and_day(new_page: Any, live_server: Any) -> None:
    settle(live_server)
    page = new_page()
    open_dashboard(page, live_server)
    with page.expect_response(lambda r: "/analytics" in r.url and r.ok) as info:
        page.click(".view-toggle button[data-view='analytics']")
    body = info.value.json()
    page.wait_for_selector(GROUPS_READY)
    hourly = page.evaluate(BARS, "#an-hourly svg rect.an-bar")
    assert [int(b["title"].rsplit(": ", 1)[1].split()[0]) for b in hourly] == [
        h["count"] for h in body["per_hour_of_day"]
    ]
    daily = page.evaluate(BARS, "#an-daily svg rect.an-bar")
    assert [int(b["title"].rsplit(": ", 1)[1].split()[0]) for b in daily] == [
        d["count"] for d in body["per_day"]
    ]
    tallest = max(h["count"] for h in body["per_hour_of_day"])
    assert page.locator("#an-hourly svg text").last.text_content() == f"max {tallest}"
