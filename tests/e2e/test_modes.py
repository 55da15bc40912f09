"""End-to-end: recorded calls never pass for live ones in the page, and a fallback demo gives way
to live calls without a reload (headless Chromium against real `serve` processes on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.fakes.data import load_feed_snapshot
from tests.fakes.socrata import ServerError

from .conftest import _loopback_only
from .test_dashboard import LIVE, current, ids_of, marker_ids, row_ids, shot, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "data", [[]], mode_args=("--demo",))  # the default 60x
    server.start()
    yield server
    server.close()


def test_the_demo_shows_a_replay_badge_a_banner_and_a_title(page: Any, demo: LiveServer) -> None:
    page.goto(demo.url + "/")
    page.wait_for_selector(LIVE, timeout=20_000)
    wait_for(page, "() => document.querySelector('#live-badge').dataset.state === 'replay'")
    assert page.inner_text("#live-badge-label") == "Replay"
    banner = page.locator("#mode-banner")
    assert banner.is_visible()
    assert banner.inner_text().startswith("Recorded calls of 18 Jun 2019, replayed at 60×: not live.")
    assert "not live" in page.title() and "18 Jun 2019" in page.title()
    assert page.evaluate("document.body.dataset.mode") == "demo"
    shot(page, "demo-replay-banner")


def test_a_fallback_demo_becomes_live_in_the_open_page(page: Any, tmp_path: Path) -> None:
    live_rows = load_feed_snapshot("2025-02-17T16-00-00Z")
    server = LiveServer(tmp_path / "data", [live_rows], poll_interval=0.5, mode_args=())
    server.feed.inject(*[ServerError(503)] * 10_000)
    server.start()
    try:
        page.goto(server.url + "/")
        page.wait_for_selector(LIVE, timeout=20_000)
        wait_for(page, "() => document.querySelector('#live-badge').dataset.state === 'replay'")
        demo_ids = ids_of(current(server))
        assert demo_ids and page.locator("#mode-banner").is_visible()
        assert "cannot be read" in page.inner_text("#mode-banner")
        page.evaluate("window.__sameDocument = true")

        server.feed.clear_faults()
        wait_for(page, "() => document.body.dataset.mode === 'live'", timeout=20_000)
        wait_for(page, "() => document.querySelector('#live-badge').dataset.state === 'live'")
        live_ids = {str(r["incident_number"]) for r in live_rows}
        assert ids_of(current(server)) == live_ids
        wait_for(
            page,
            "ids => { const s = window.dallasCalls.store; return s.all().length === ids.length"
            " && ids.every(id => s.get(id)); }",
            sorted(live_ids),
        )
        assert not set(marker_ids(page)) & demo_ids, "no demo call left on the map"
        assert not set(row_ids(page)) & demo_ids, "no demo call left in the list"
        assert page.locator("#mode-banner").is_hidden()
        assert page.title() == "Dallas police calls — live"
        assert page.evaluate("window.__sameDocument") is True, "switched without a reload"
        shot(page, "fallback-healed-live")
    finally:
        server.close()


def test_the_street_data_download_shows_its_progress(page: Any, demo: LiveServer) -> None:
    """What the server's /readyz says of its background geodata download reaches the page."""
    import json

    status = {"state": "downloading", "source": "city address points", "percent": 42.7}

    def readyz(route: Any) -> None:
        body = json.loads(route.fetch().text())
        route.fulfill(json={**body, "geodata": status})

    page.route("**/readyz", readyz)
    try:
        page.goto(demo.url + "/")
        page.wait_for_selector(LIVE, timeout=20_000)
        note = page.locator("#geodata-status")
        note.wait_for(state="visible", timeout=20_000)
        assert note.inner_text().startswith("Downloading street data 42%…")
        assert "city address points" in note.inner_text()
    finally:
        # The page checks /readyz again when its stream connects, maybe just as the test ends: a
        # call of the handler still running then would be cut off by the page's context closing
        # (its fetched response disposed) and fail the next test. Wait for it while the server
        # answers, then keep only the fixture's loopback-only route.
        page.unroute_all(behavior="wait")
        page.route("**/*", _loopback_only)
