"""End-to-end (issue 12): calls near me (a mocked geolocation) and near an address (the server's
own /geocode, nothing else asked), nearest first, in the URL; the page's downloads checked row by
row against the API."""

from __future__ import annotations

import csv
import json
import math
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from .test_dashboard import LIVE, api, located, open_dashboard, row_ids, settle, shot, wait_for

pytestmark = pytest.mark.browser

DOWNTOWN = (32.7767, -96.7970)
LOOPBACK = ("http://127.0.0.1", "http://localhost", "data:", "blob:")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    rad = math.pi / 180
    a = (
        math.sin((lat2 - lat1) * rad / 2) ** 2
        + math.cos(lat1 * rad) * math.cos(lat2 * rad) * math.sin((lon2 - lon1) * rad / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(min(1.0, math.sqrt(a)))


def nearest_first(calls: list[dict[str, Any]], lat: float, lon: float, radius_m: float) -> list[str]:
    found = []
    for c in calls:
        if located(c):
            d = distance_m(lat, lon, c["geo"]["lat"], c["geo"]["lon"])
            if d <= radius_m:
                found.append((d, c["incident_number"]))
    return [n for _, n in sorted(found)]


def shown_distances(page: Any) -> list[float]:
    texts = page.eval_on_selector_all(
        "li.call-row:not(.is-closing) .ci-dist", "els => els.map(e => e.textContent)"
    )
    found = [re.match(r"^([\d.]+) (k?m) away$", t) for t in texts]
    assert all(found), texts
    return [float(m.group(1)) * (1000 if m.group(2) == "km" else 1) for m in found if m]


def test_locate_me_lists_the_calls_in_the_radius_nearest_first(new_page: Any, live_server: Any) -> None:
    calls = settle(live_server)["current_active_calls"]
    want = nearest_first(calls, *DOWNTOWN, 5000)
    if len(want) < 2:
        pytest.skip("fewer than two located calls within 5 km of downtown")
    page = new_page(
        geolocation={"latitude": DOWNTOWN[0], "longitude": DOWNTOWN[1]}, permissions=["geolocation"]
    )
    open_dashboard(page, live_server)
    page.select_option("#near-radius", "5000")
    page.click("#near-locate")
    wait_for(page, "n => document.querySelectorAll('li.call-row:not(.is-closing)').length === n", len(want))
    assert row_ids(page) == want
    distances = shown_distances(page)
    assert len(distances) == len(want) and distances == sorted(distances) and distances[-1] <= 5000
    page.wait_for_selector("path.near-circle", state="attached")
    params = urllib.parse.parse_qs(page.evaluate("location.hash")[1:])
    assert params["near"] == [f"{DOWNTOWN[0]:.5f},{DOWNTOWN[1]:.5f}"] and params["r"] == ["5000"]
    shot(page, "near-me")

    # the link is shareable: a fresh page with the same hash shows the same list
    other = new_page()
    open_dashboard(other, live_server, page.evaluate("location.hash"))
    wait_for(other, "n => document.querySelectorAll('li.call-row:not(.is-closing)').length === n", len(want))
    assert row_ids(other) == want
    other.click("#near-clear")
    wait_for(other, "n => document.querySelectorAll('li.call-row:not(.is-closing)').length === n", len(calls))
    assert "near=" not in other.evaluate("location.hash")


def test_an_address_is_found_by_the_server_only(new_page: Any, live_server: Any) -> None:
    calls = settle(live_server)["current_active_calls"]
    query = "4500 Live Oak St"
    geo = api(live_server, "/geocode?" + urllib.parse.urlencode({"q": query}))["geo"]
    want = nearest_first(calls, geo["lat"], geo["lon"], 2000)
    page = new_page()
    open_dashboard(page, live_server)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.select_option("#near-radius", "2000")
    page.fill("#near-address", query)
    page.press("#near-address", "Enter")
    wait_for(page, "() => location.hash.includes('near=')")
    wait_for(page, "n => document.querySelectorAll('li.call-row:not(.is-closing)').length === n", len(want))
    assert row_ids(page) == want
    lookups = [u for u in requests if "geocode" in u or "Live" in u]
    assert lookups == [f"{live_server.url}/geocode?q=4500%20Live%20Oak%20St"]
    tiles = urllib.parse.urlsplit(api(live_server, "/config.json")["tile_url"]).netloc
    assert all(u.startswith(LOOPBACK) or urllib.parse.urlsplit(u).netloc == tiles for u in requests)
    assert query in page.inner_text("#near-status")
    shot(page, "near-address")

    # nothing found: said so, and the list is left as it was
    page.fill("#near-address", "zzzz qqq")
    page.click("#near-find")
    wait_for(page, "() => document.querySelector('#near-status').textContent.includes('No place')")
    assert row_ids(page) == want


def _download(page: Any, selector: str) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path())


def test_downloads_match_the_api_row_by_row(new_page: Any, live_server: Any) -> None:
    body = settle(live_server)
    calls = {c["incident_number"]: c for c in body["current_active_calls"]}
    page = new_page(accept_downloads=True)
    open_dashboard(page, live_server)
    page.click("#downloads summary")
    shot(page, "downloads")

    rows = list(csv.DictReader(_download(page, "#dl-current-csv").open(encoding="utf-8", newline="")))
    assert [r["incident_number"] for r in rows] == sorted(calls)
    for row in rows:
        call = calls[row["incident_number"]]
        g = call.get("geo") or {}
        if located(call):
            assert (float(row["lat"]), float(row["lon"])) == (g["lat"], g["lon"])
        else:
            assert row["lat"] == row["lon"] == ""
        assert row["precision"] == (g.get("precision") or "none")
        assert row["source"] == (g.get("source") or "")
        assert row["status"] == (call["status"] or "") and row["beat"] == (call["beat"] or "")

    fc = json.loads(_download(page, "#dl-current-geojson").read_text())
    assert sorted(f["id"] for f in fc["features"]) == sorted(calls)
    for f in fc["features"]:
        call = calls[f["id"]]
        assert f["properties"]["precision"] == ((call.get("geo") or {}).get("precision") or "none")
        assert (f["geometry"] is None) == (not located(call))

    # the history window of the form: the same calls as /history for that window
    href = page.get_attribute("#dl-history-csv", "href") or ""
    window = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(href).query))
    assert window["format"] == "csv"
    history = api(
        live_server,
        "/history?" + urllib.parse.urlencode({"start": window["start"], "end": window["end"], "limit": 5000}),
    )
    rows = list(csv.DictReader(_download(page, "#dl-history-csv").open(encoding="utf-8", newline="")))
    assert [r["incident_number"] for r in rows] == [c["incident_number"] for c in history["calls"]]
    assert len(rows) >= len(calls)
    page.goto(live_server.url + "/")
    page.wait_for_selector(LIVE)
