"""The city's own geocoder (ArcGIS GeocodeServer) as an online provider, against a loopback fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dallas_calls.geocoding.normalize import normalize_location
from dallas_calls.geocoding.providers.chain import online_providers
from dallas_calls.geocoding.providers.dallas import DallasProvider
from dallas_calls.geocoding.resilience import CircuitBreaker, RateLimiter
from tests.fakes.city_gis import CityGis, serve

ELM = {
    "address": "600 ELM ST",
    "location": {"x": -96.7945, "y": 32.781},
    "score": 98,
    "attributes": {"Addr_type": "StreetAddress"},
}
CROSSING = {
    "address": "ELM ST & N HARWOOD ST",
    "location": {"x": -96.795, "y": 32.781},
    "score": 95,
    "attributes": {"Addr_type": "StreetInt"},
}


@pytest.fixture
def gis() -> Iterator[CityGis]:
    with serve(
        CityGis(candidates={"600 ELM ST, DALLAS, TX": [ELM], "ELM ST & N HARWOOD ST, DALLAS, TX": [CROSSING]})
    ) as fake:
        yield fake


def provider(url: str, **kw: object) -> DallasProvider:
    options: dict[str, object] = {
        "limiter": RateLimiter(1000.0, 100),
        "breaker": CircuitBreaker(2, 60.0),
        "timeout_s": 2.0,
    }
    return DallasProvider(base_url=f"{url}/GeocodeServer", **{**options, **kw})  # type: ignore[arg-type]


def test_find_address_candidates_asks_for_wgs84_and_keeps_the_match_type(gis: CityGis) -> None:
    p = provider(gis.url)
    loc = normalize_location("600", "ELM ST")
    [found] = p.candidates(loc, None)
    assert (found.lat, found.lon, found.precision, found.source) == (32.781, -96.7945, "address", "dallas")
    [query] = gis.paths("/GeocodeServer/findAddressCandidates")
    assert query["outSR"] == "4326" and query["SingleLine"] == loc.query_text()
    [crossing] = p.candidates(normalize_location(None, "Elm St / N Harwood St"), None)
    assert crossing.precision == "intersection"


def test_batch_geocoding_sends_at_most_a_thousand_records_a_request(gis: CityGis) -> None:
    p = provider(gis.url)
    locations = [normalize_location("600", "ELM ST")] * 1500
    found = p.geocode_batch(locations)
    requests = gis.paths("/GeocodeServer/geocodeAddresses")
    assert len(requests) == 2 and all(q["outSR"] == "4326" for q in requests)
    assert len(found) == 1500 and all(c is not None and c.source == "dallas" for c in found)


def test_a_down_geocoder_opens_its_circuit_and_the_chain_carries_on(gis: CityGis) -> None:
    gis.statuses["/GeocodeServer"] = [503] * 10
    p = provider(gis.url)
    loc = normalize_location("600", "ELM ST")
    assert p.candidates(loc, None) == [] and p.candidates(loc, None) == []
    assert p.candidates(loc, None) == []  # the breaker is open: no request
    assert len(gis.paths("/GeocodeServer")) == 2


def test_configured_by_settings_as_geocoder_dallas(gis: CityGis) -> None:
    class S:
        geocoders = "dallas"
        dallas_geocoder_url = f"{gis.url}/GeocodeServer"

    [p] = online_providers(S())
    assert isinstance(p, DallasProvider) and p.url == f"{gis.url}/GeocodeServer"
