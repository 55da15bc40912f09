"""End-to-end: the History view against `dallas-calls serve` on loopback with the fake feed, in
headless Chromium. Each test reads the server's own API (/history, /history/events) to know what
the page should show: the window's calls with their durations, a 600× replay that ends on the calls
open now, a slider that seeks by keyboard, keyboard-only use, and axe-core on the view (light and
dark, desktop and phone). Screenshots go to test-artifacts/."""

from __future__ import annotations

import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import ARTIFACTS
from .test_accessibility import AXE, SIZES, axe_problems
from .test_dashboard import LIVE, api, located, settle, shot, wait_for

pytestmark = pytest.mark.browser

GAP_S = 3.0  # between snapshots: the replay's events are seconds apart


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def played_server(server: Any) -> tuple[str, str]:
    """Three snapshots, GAP_S apart: calls open, change and close at distinct times. Returns a
    window ([first event − 2 s, last event + 3 s)) as the page writes it."""
    settle(server)
    for _ in range(2):
        time.sleep(GAP_S)
        server.advance()
        settle(server)
    wide = api(server, "/history/events?" + urllib.parse.urlencode(window_params(datetime.now(UTC))))
    times = [parse(e["at"]) for e in wide["events"]]
    return iso(min(times) - timedelta(seconds=2)), iso(max(times) + timedelta(seconds=3))


def window_params(now: datetime) -> dict[str, str]:
    return {"start": iso(now - timedelta(hours=1)), "end": iso(now + timedelta(minutes=1))}


def open_history(page: Any, server: Any, start: str, end: str, extra: str = "&cluster=0") -> None:
    page.goto(f"{server.url}/#view=history&from={start}&to={end}{extra}")
    page.wait_for_selector(LIVE, timeout=20_000)
    wait_for(page, "() => document.body.dataset.replay === 'ready'")


def marker_set(page: Any) -> set[str]:
    return set(page.eval_on_selector_all(".cm[data-incident]", "els => els.map(e => e.dataset.incident)"))


def clock_text(page: Any) -> str:
    return str(page.get_attribute("#replay-range", "aria-valuetext"))


def test_a_window_shows_its_calls_with_durations_and_the_same_filters(
    new_page: Any, live_server: Any
) -> None:
    start, end = played_server(live_server)
    listed = api(
        live_server, "/history?" + urllib.parse.urlencode({"start": start, "end": end, "limit": 5000})
    )
    calls = {c["incident_number"]: c for c in listed["calls"]}
    closed = [c for c in calls.values() if c["closed_at"]]
    assert closed and len(closed) < len(calls), "the window holds closed and open calls"
    page = new_page()
    open_history(page, live_server, start, end)
    wait_for(page, "n => document.querySelectorAll('li.call-row').length === n", len(calls))
    rows = page.eval_on_selector_all(
        "li.call-row",
        "els => els.map(e => [e.dataset.incident, e.querySelector('.ci-dur').textContent.trim()])",
    )
    assert {n for n, _ in rows} == set(calls)
    durations = dict(rows)
    for number, call in calls.items():
        if call["closed_at"] is None:
            assert durations[number] == "still open"
        else:
            seconds = round((parse(call["closed_at"]) - parse(call["first_seen"])).total_seconds())
            assert durations[number] == f"lasted {seconds} s", (number, durations[number])
    assert f"{len(calls)} calls first seen between" in page.text_content("#hist-status")
    on_map = {n for n, c in calls.items() if located(c)}
    assert marker_set(page) == on_map, "the window's calls, closed ones too, are on the map"
    # the download links follow the window
    href = page.get_attribute("#hist-dl-csv", "href")
    assert href and urllib.parse.parse_qs(urllib.parse.urlparse(href).query)["start"] == [start]
    # the same filters as live: one priority
    prio = next(iter(calls.values()))["priority"]
    page.check(f"#f-priority input[value='{prio}']")
    want = {n for n, c in calls.items() if c["priority"] == prio}
    wait_for(page, "n => document.querySelectorAll('li.call-row').length === n", len(want))
    assert set(page.eval_on_selector_all("li.call-row", "els => els.map(e => e.dataset.incident)")) == want
    shot(page, "history-desktop-window")
    assert page.page_errors == []


def test_replay_at_600x_and_the_slider_seek_by_keyboard(new_page: Any, live_server: Any) -> None:
    start, end = played_server(live_server)
    events = api(live_server, "/history/events?" + urllib.parse.urlencode({"start": start, "end": end}))
    assert events["source"] == "log" and events["initial"] == []
    now_open = {
        c["incident_number"]
        for c in api(live_server, "/current-calls/")["current_active_calls"]
        if located(c)
    }
    # a located call that closed inside the window: on the map between its open and close only
    opened = {
        e["data"]["call"]["incident_number"]: e["at"] for e in events["events"] if e["type"] == "call.opened"
    }
    closes = {e["data"]["call"]["incident_number"]: e for e in events["events"] if e["type"] == "call.closed"}
    gone = next(n for n, e in closes.items() if n in opened and located(e["data"]["call"]))
    page = new_page()
    open_history(page, live_server, start, end)
    before = clock_text(page)
    page.select_option("#replay-speed", "600")
    page.click("#replay-play")
    wait_for(page, "() => document.body.dataset.replay === 'paused'")  # played to the end
    assert clock_text(page) != before
    assert page.input_value("#replay-range") == page.get_attribute("#replay-range", "max")
    wait_for(page, "n => document.querySelectorAll('.cm[data-incident]').length === n", len(now_open))
    assert marker_set(page) == now_open
    assert gone not in marker_set(page)
    shot(page, "history-desktop-replay-end")

    # keyboard: Home is the window start (nothing open yet), arrows step a second
    page.focus("#replay-range")
    page.keyboard.press("Home")
    wait_for(page, "() => document.querySelectorAll('.cm[data-incident]').length === 0")
    assert page.input_value("#replay-range") == "0"
    steps = int((parse(opened[gone]) - parse(start)).total_seconds()) + 1
    close_after = (parse(closes[gone]["at"]) - parse(start)).total_seconds()
    assert steps < close_after, "the call is open for a whole second of the replay"
    for _ in range(steps):
        page.keyboard.press("ArrowRight")
    wait_for(page, "n => !!document.querySelector(`.cm[data-incident='${n}']`)", gone)
    assert page.input_value("#replay-range") == str(steps)
    assert "calls open" in page.text_content("#replay-status")
    page.keyboard.press("End")
    wait_for(page, "n => !document.querySelector(`.cm[data-incident='${n}']`)", gone)
    assert marker_set(page) == now_open
    assert page.evaluate("() => document.activeElement.id") == "replay-range"
    assert page.page_errors == []


def focus_by_tab(page: Any, selector: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"Tab never reached {selector}")


def test_the_history_view_by_keyboard_only(new_page: Any, live_server: Any) -> None:
    played_server(live_server)
    page = new_page()
    page.goto(live_server.url + "/#cluster=0")
    page.wait_for_selector(LIVE, timeout=20_000)
    focus_by_tab(page, ".view-toggle button[data-view='history']")
    page.keyboard.press("Enter")
    page.wait_for_selector("#history:not([hidden])")
    assert "win=24h" in page.evaluate("() => location.hash")
    wait_for(page, "() => document.body.dataset.replay === 'ready'")
    # a preset by keyboard: the window follows, in the URL too
    focus_by_tab(page, "#history [data-preset='7d']")
    page.keyboard.press("Enter")
    wait_for(page, "() => document.body.dataset.replay === 'ready'")
    assert "win=7d" in page.evaluate("() => location.hash")
    assert page.get_attribute("#history [data-preset='7d']", "aria-pressed") == "true"
    focus_by_tab(page, "#replay-play")
    page.keyboard.press("Enter")
    wait_for(page, "() => document.body.dataset.replay !== 'ready'")
    page.keyboard.press("Enter")  # pause (or, if it reached the end already, play again)
    focus_by_tab(page, "#replay-exit")
    page.keyboard.press("Enter")  # back to every call of the window
    assert page.evaluate("() => document.activeElement.id") == "replay-play"
    assert page.locator("#replay-exit").is_hidden()
    # into the list: a row opens the details with the call's full timeline; Escape closes them
    focus_by_tab(page, "button.call-item")
    number = page.evaluate("() => document.activeElement.dataset.incident")
    page.keyboard.press("Enter")
    page.wait_for_selector("#details:not([hidden]) .timeline .tl-item")
    timeline = api(live_server, f"/calls/{number}")["events"]
    assert page.locator("#details .timeline .tl-item").count() == len(timeline)
    page.keyboard.press("Escape")
    page.wait_for_selector("#details", state="hidden")
    assert page.evaluate("() => document.activeElement.dataset.incident") == number
    # back to live by keyboard
    focus_by_tab(page, ".view-toggle button.view-live")
    page.keyboard.press("Enter")
    page.wait_for_selector("#history", state="hidden")
    assert page.page_errors == []


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", list(SIZES))
def test_the_history_view_has_no_serious_accessibility_violations(
    new_page: Any, live_server: Any, device: str, scheme: str
) -> None:
    start, end = played_server(live_server)
    width, height = SIZES[device]
    page = new_page(width=width, height=height, color_scheme=scheme, bypass_csp=True, reduced_motion="reduce")
    open_history(page, live_server, start, end, extra="")
    page.click("#replay-play")
    wait_for(page, "() => document.body.dataset.replay === 'paused'")
    shot(page, f"history-{device}-{scheme}")
    found = axe_problems(page)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-history-{device}-{scheme}.txt").write_text(
        "\n".join(found) or "no serious or critical violations\n"
    )
    assert found == []
