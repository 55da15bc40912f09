"""`GET /geocode?q=`: the server's own locator (local sources only here: no network), 400 on an
empty or over-long query, 404 JSON when nothing is found, 409 when locating is off; never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def test_an_address_is_located_with_its_precision_and_source(make_server: Any) -> None:
    server = make_server(geocode=True)
    res = httpx.get(server.url + "/geocode", params={"q": "4500 Live Oak St"})
    assert res.status_code == 200
    body = res.json()
    assert body["query"] == "4500 Live Oak St"
    geo = body["geo"]
    assert geo["precision"] == "address" and geo["source"]
    assert 32.6 < geo["lat"] < 33.1 and -97.1 < geo["lon"] < -96.5


def test_cross_streets_are_an_intersection(make_server: Any) -> None:
    server = make_server(geocode=True)
    body = httpx.get(server.url + "/geocode", params={"q": "Elm St / N Akard St"}).json()
    assert body["geo"]["precision"] == "intersection"


@pytest.mark.parametrize("q", ["", "   ", "x" * 201])
def test_empty_or_long_queries_are_400(make_server: Any, q: str) -> None:
    server = make_server(geocode=True)
    res = httpx.get(server.url + "/geocode", params={"q": q})
    assert res.status_code == 400
    assert set(res.json()) == {"error", "message"}


@pytest.mark.parametrize("q", ["zzzz qqq", "1 Nowhere Blvd", "%00", "/ / /", "99999999 Main St"])
def test_nothing_found_is_404_json(make_server: Any, q: str) -> None:
    server = make_server(geocode=True)
    res = httpx.get(server.url + "/geocode", params={"q": q})
    assert res.status_code == 404
    assert res.json()["error"] == "not_found"


def test_geocoding_off_is_a_409(make_server: Any) -> None:
    server = make_server(geocode=False)
    res = httpx.get(server.url + "/geocode", params={"q": "4500 Live Oak St"})
    assert res.status_code == 409 and res.json()["error"] == "unavailable"


def test_geocode_is_rate_limited_like_the_other_routes(make_server: Any) -> None:
    server = make_server(geocode=True, rate_limit_per_min=2)
    codes = [httpx.get(server.url + "/geocode", params={"q": "zzzz"}).status_code for _ in range(4)]
    assert codes[:2] == [404, 404] and 429 in codes[2:]
