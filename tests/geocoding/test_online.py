"""Online providers against a real loopback HTTP server that answers like each service.

The fake answers copy the shapes the services document (sources beside each one). The server can
also be slow, fail with 5xx/429, answer garbage, or answer with a wrong, far-away point.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from dallas_calls.geocoding.locator import Locator
from dallas_calls.geocoding.normalize import NormalizedLocation, normalize_location
from dallas_calls.geocoding.providers.arcgis import ArcGISProvider
from dallas_calls.geocoding.providers.base import (
    FAILED,
    REJECTED,
    SKIPPED_OPEN,
    SKIPPED_RATE,
    UNSUPPORTED,
    OnlineProvider,
    precision_for,
)
from dallas_calls.geocoding.providers.census import CensusProvider
from dallas_calls.geocoding.providers.chain import online_providers
from dallas_calls.geocoding.providers.nominatim import NominatimProvider
from dallas_calls.geocoding.providers.radar import RadarProvider
from dallas_calls.geocoding.resilience import BreakerState, CircuitBreaker, RateLimiter
from dallas_calls.geodata.beats import default_areas

# --- the fake services ------------------------------------------------------------------------------

ARCGIS_PATH = "/arcgis/rest/services/World/GeocodeServer/findAddressCandidates"
CENSUS_PATH = "/geocoder/locations/onelineaddress"
NOMINATIM_PATH = "/search"
RADAR_PATH = "/v1/geocode/forward"

FRANKFORD_MIDWAY = (32.9985, -96.8382)  # the real intersection, in beat 613's area (far north)
RIVERFRONT_300_S = (32.7745, -96.8094)  # downtown: where the prototype put it
CAMP_WISDOM_4300 = (32.6622, -96.8879)  # 4300 W Camp Wisdom Rd, beat 452

# ArcGIS findAddressCandidates: "Response types" / "Find address candidates" in the ArcGIS REST API
# reference (developers.arcgis.com/rest/geocode/); Addr_type values from "Geocoding service output".
ARCGIS_INTERSECTION = {
    "spatialReference": {"wkid": 4326, "latestWkid": 4326},
    "candidates": [
        {
            "address": "Frankford Rd & Midway Rd, Dallas, Texas, 75248",
            "location": {"x": FRANKFORD_MIDWAY[1], "y": FRANKFORD_MIDWAY[0]},
            "score": 98.5,
            "attributes": {"Addr_type": "StreetInt", "Match_addr": "Frankford Rd & Midway Rd", "Score": 98.5},
            "extent": {"xmin": -96.8392, "ymin": 32.9975, "xmax": -96.8372, "ymax": 32.9995},
        },
        {
            "address": "Frankford Rd, Dallas, Texas, 75252",
            "location": {"x": -96.7920, "y": 32.9978},
            "score": 80,
            "attributes": {"Addr_type": "StreetName", "Score": 80},
        },
        {
            "address": "Dallas, Texas",
            "location": {"x": -96.7970, "y": 32.7767},
            "score": 75,
            "attributes": {"Addr_type": "Locality", "Score": 75},
        },
    ],
}
# An ArcGIS error travels as HTTP 200 with an "error" object.
ARCGIS_BAD_QUERY = {
    "error": {"code": 400, "message": "Cannot perform query. Invalid query parameters.", "details": []}
}

# Census Geocoder onelineaddress, returntype "locations" (Census Geocoding Services API documentation;
# the field names as the censusxy and censusgeocode client docs print them).
CENSUS_MATCH = {
    "result": {
        "input": {
            "address": {"address": "4300 W CAMP WISDOM RD, DALLAS, TX"},
            "benchmark": {
                "id": "4",
                "benchmarkName": "Public_AR_Current",
                "benchmarkDescription": "Public Address Ranges - Current Benchmark",
                "isDefault": True,
            },
        },
        "addressMatches": [
            {
                "tigerLine": {"side": "L", "tigerLineId": "40152370"},
                "coordinates": {"x": CAMP_WISDOM_4300[1], "y": CAMP_WISDOM_4300[0]},
                "addressComponents": {
                    "zip": "75237",
                    "streetName": "CAMP WISDOM",
                    "preType": "",
                    "city": "DALLAS",
                    "preDirection": "W",
                    "suffixDirection": "",
                    "fromAddress": "4300",
                    "state": "TX",
                    "suffixType": "RD",
                    "toAddress": "4398",
                    "suffixQualifier": "",
                    "preQualifier": "",
                },
                "matchedAddress": "4300 W CAMP WISDOM RD, DALLAS, TX, 75237",
            }
        ],
    }
}

# Nominatim /search?format=json&addressdetails=1 ("Place Output", nominatim.org/release-docs/latest/api/Output/).
NOMINATIM_PLACES = [
    {
        "place_id": 301123,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. https://osm.org/copyright",
        "osm_type": "node",
        "osm_id": "5551234",
        "boundingbox": ["32.6621", "32.6623", "-96.8880", "-96.8878"],
        "lat": str(CAMP_WISDOM_4300[0]),
        "lon": str(CAMP_WISDOM_4300[1]),
        "display_name": "4300, West Camp Wisdom Road, Dallas, Dallas County, Texas, 75237, United States",
        "class": "place",
        "type": "house",
        "importance": 0.31,
        "address": {
            "house_number": "4300",
            "road": "West Camp Wisdom Road",
            "city": "Dallas",
            "state": "Texas",
            "postcode": "75237",
            "country": "United States",
            "country_code": "us",
        },
    },
    {
        "place_id": 301999,
        "osm_type": "way",
        "osm_id": "1234567",
        "lat": "32.6625",
        "lon": "-96.8950",
        "display_name": "West Camp Wisdom Road, Dallas, Dallas County, Texas, United States",
        "class": "highway",
        "type": "secondary",
        "importance": 0.2,
        "address": {"road": "West Camp Wisdom Road", "city": "Dallas", "country_code": "us"},
    },
    {
        "place_id": 1,
        "lat": "32.7767",
        "lon": "-96.7970",
        "display_name": "Dallas, Texas, United States",
        "class": "boundary",
        "type": "administrative",
        "importance": 0.8,
        "address": {"city": "Dallas", "country_code": "us"},
    },
]


# Radar GET /v1/geocode/forward (Radar API reference, "Forward geocode"; the same shape as client
# libraries' recorded responses): meta.code plus addresses[] with layer and confidence.
def radar_answer(lat: float, lon: float, layer: str, confidence: str, label: str) -> dict[str, Any]:
    return {
        "meta": {"code": 200},
        "addresses": [
            {
                "latitude": lat,
                "longitude": lon,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "country": "United States",
                "countryCode": "US",
                "countryFlag": "🇺🇸",
                "county": "Dallas County",
                "distance": 0,
                "confidence": confidence,
                "city": "Dallas",
                "postalCode": "75207",
                "stateCode": "TX",
                "state": "Texas",
                "layer": layer,
                "formattedAddress": label,
                "addressLabel": label.split(",")[0],
            }
        ],
    }


# What the prototype's provider answered for "Frankford Rd / Midway Rd": downtown, "exact".
RADAR_WRONG = radar_answer(
    *RIVERFRONT_300_S, "address", "exact", "300 S Riverfront Blvd, Dallas, TX 75207 US"
)


@dataclass
class Reply:
    body: Any = None  # dict/list -> JSON; str -> sent as is
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


class FakeServices:
    """Replies per path (a queue; the last reply repeats) and a log of the requests seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self.base_url = ""

    def reply(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self.routes[path] = list(replies)

    def seen(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def next_reply(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            queue = self.routes.get(seen.path)
            if not queue:
                return Reply({"detail": "not found"}, status=404)
            return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler(services: FakeServices) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            seen = Seen(
                parts.path,
                dict(parse_qsl(parts.query)),
                {k.lower(): v for k, v in self.headers.items()},
                time.monotonic(),
            )
            reply = services.next_reply(seen)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            data = body.encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def services() -> Iterator[FakeServices]:
    fake = FakeServices()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


ADDRESS = normalize_location("4300", "W Camp Wisdom Rd")
INTERSECTION = normalize_location(None, "Frankford Rd / Midway Rd")
STREET = normalize_location(None, "W Camp Wisdom Rd")
NEAR_613 = default_areas().beat_centroid("613")


def state_of(provider: OnlineProvider) -> BreakerState:
    return provider.breaker.state


def make(
    name: str, base_url: str, *, clock: FakeClock | None = None, threshold: int = 3, **kwargs: Any
) -> OnlineProvider:
    """A provider with a generous limiter and a breaker on ``clock``."""
    kwargs.setdefault("limiter", RateLimiter(1000.0, 100))
    kwargs.setdefault("timeout_s", 2.0)
    kwargs["breaker"] = CircuitBreaker(threshold, 30.0, clock=clock or FakeClock())
    if name == "arcgis":
        return ArcGISProvider(base_url=base_url, **kwargs)
    if name == "census":
        return CensusProvider(base_url=base_url, **kwargs)
    if name == "nominatim":
        return NominatimProvider(
            base_url=base_url, user_agent="dallas-calls-tests/1 (ops@example.org)", **kwargs
        )
    return RadarProvider(base_url=base_url, api_key="prj_test_pk_123", **kwargs)


# One location each provider supports, and the path it calls.
CASES: dict[str, tuple[str, NormalizedLocation]] = {
    "arcgis": (ARCGIS_PATH, INTERSECTION),
    "census": (CENSUS_PATH, ADDRESS),
    "nominatim": (NOMINATIM_PATH, ADDRESS),
    "radar": (RADAR_PATH, INTERSECTION),
}


# --- parsing each service's answer ------------------------------------------------------------------


def test_arcgis_parses_intersections_and_sends_key_as_header(services: FakeServices) -> None:
    services.reply(ARCGIS_PATH, Reply(ARCGIS_INTERSECTION))
    provider = make("arcgis", services.base_url, api_key="esri-secret-key")
    found = provider.candidates(INTERSECTION, NEAR_613)
    assert [(c.precision, c.source) for c in found] == [("intersection", "arcgis"), ("street", "arcgis")]
    assert (found[0].lat, found[0].lon) == FRANKFORD_MIDWAY
    assert found[0].score == pytest.approx(0.985)
    assert "StreetInt" in found[0].detail
    (seen,) = services.seen(ARCGIS_PATH)
    assert seen.query["singleLine"] == "FRANKFORD RD & MIDWAY RD, DALLAS, TX"
    assert seen.query["f"] == "json" and "Addr_type" in seen.query["outFields"]
    assert NEAR_613 is not None and seen.query["location"] == f"{NEAR_613[1]},{NEAR_613[0]}"
    assert seen.query["forStorage"] == "true"
    assert seen.headers["authorization"] == "Bearer esri-secret-key"
    assert "esri-secret-key" not in json.dumps(seen.query)


def test_arcgis_error_400_in_a_200_body_is_a_refusal_not_an_outage(services: FakeServices) -> None:
    services.reply(ARCGIS_PATH, Reply(ARCGIS_BAD_QUERY))
    provider = make("arcgis", services.base_url, threshold=1)
    assert provider.candidates(INTERSECTION, None) == []
    assert provider.stats[REJECTED] == 1 and provider.stats[FAILED] == 0
    assert state_of(provider) is BreakerState.CLOSED


def test_census_parses_address_matches_and_skips_what_it_cannot_match(services: FakeServices) -> None:
    services.reply(CENSUS_PATH, Reply(CENSUS_MATCH))
    provider = make("census", services.base_url)
    (found,) = provider.candidates(ADDRESS, None)
    assert (found.lat, found.lon, found.precision, found.source) == (*CAMP_WISDOM_4300, "address", "census")
    assert 0 < found.score <= 1
    (seen,) = services.seen(CENSUS_PATH)
    assert seen.query == {
        "address": "4300 W CAMP WISDOM RD, DALLAS, TX",
        "benchmark": "Public_AR_Current",
        "format": "json",
    }
    # The Census geocoder matches neither intersections nor bare streets: not asked.
    assert provider.candidates(INTERSECTION, None) == [] and provider.candidates(STREET, None) == []
    assert len(services.seen(CENSUS_PATH)) == 1 and provider.stats[UNSUPPORTED] == 2


def test_census_no_match_is_empty_not_a_failure(services: FakeServices) -> None:
    services.reply(CENSUS_PATH, Reply({"result": {"input": {}, "addressMatches": []}}))
    provider = make("census", services.base_url)
    assert provider.candidates(ADDRESS, None) == []
    assert provider.stats.as_dict() == {"empty": 1}


def test_nominatim_parses_house_and_road_with_a_bounded_structured_query(services: FakeServices) -> None:
    services.reply(NOMINATIM_PATH, Reply(NOMINATIM_PLACES))
    provider = make("nominatim", services.base_url)
    found = provider.candidates(ADDRESS, None)
    assert [(c.precision, c.score) for c in found] == [("address", 0.8), ("street", 0.5)]
    assert (found[0].lat, found[0].lon) == CAMP_WISDOM_4300
    (seen,) = services.seen(NOMINATIM_PATH)
    assert seen.headers["user-agent"] == "dallas-calls-tests/1 (ops@example.org)"
    assert seen.query["street"] == "4300 W CAMP WISDOM RD"
    assert (seen.query["city"], seen.query["state"], seen.query["countrycodes"]) == ("Dallas", "TX", "us")
    assert seen.query["bounded"] == "1" and seen.query["format"] == "json"
    west, south, east, north = map(float, seen.query["viewbox"].split(","))
    assert west < -96.9 < -96.5 < east and south < 32.7 < 33.0 < north
    # No intersection search in Nominatim: not asked.
    assert provider.candidates(INTERSECTION, None) == []
    assert len(services.seen(NOMINATIM_PATH)) == 1


def test_radar_parses_layer_and_confidence_with_the_key_in_authorization(services: FakeServices) -> None:
    right = radar_answer(*FRANKFORD_MIDWAY, "intersection", "exact", "Frankford Rd & Midway Rd, Dallas, TX")
    services.reply(RADAR_PATH, Reply(right))
    provider = make("radar", services.base_url)
    (found,) = provider.candidates(INTERSECTION, None)
    assert (found.lat, found.lon, found.precision, found.score) == (*FRANKFORD_MIDWAY, "intersection", 1.0)
    (seen,) = services.seen(RADAR_PATH)
    assert seen.headers["authorization"] == "prj_test_pk_123"
    assert seen.query["query"] == "FRANKFORD RD & MIDWAY RD, DALLAS, TX"


def test_an_answer_is_never_more_precise_than_the_question() -> None:
    assert precision_for("address", "address") == "address"
    assert precision_for("address", "intersection") == "street"  # one house is not the crossing
    assert precision_for("intersection", "street") == "street"
    assert precision_for(None, "address") is None


# --- failures: never raised, counted, circuit breaking ----------------------------------------------

FAILURES = {
    "slow": Reply({}, delay_s=0.6),
    "http_500": Reply({"error": "boom"}, status=500),
    "http_503": Reply("Service Unavailable", status=503),
    "garbage": Reply("<html>definitely not json"),
    "wrong_shape": Reply({"unexpected": True}),
    "no_coordinates": Reply(
        {
            "candidates": [{"location": {"x": "?", "y": None}, "attributes": {}}],
            "result": {"addressMatches": [{"coordinates": {}}]},
            "addresses": [{"latitude": "nan"}],
        }
    ),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_failure_returns_nothing_and_is_counted(services: FakeServices, name: str, failure: str) -> None:
    path, location = CASES[name]
    services.reply(path, FAILURES[failure])
    provider = make(name, services.base_url, timeout_s=0.15)
    t0 = time.monotonic()
    assert provider.candidates(location, None) == []
    assert time.monotonic() - t0 < 0.5  # the timeout held
    assert provider.stats[FAILED] == 1
    assert provider.breaker.consecutive_failures == 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_unreachable_service_is_a_failure(name: str) -> None:
    _path, location = CASES[name]
    provider = make(name, "http://127.0.0.1:9")  # discard port: connection refused
    assert provider.candidates(location, None) == []
    assert provider.stats[FAILED] == 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_circuit_opens_skips_the_network_then_half_opens(services: FakeServices, name: str) -> None:
    path, location = CASES[name]
    good = {
        "arcgis": ARCGIS_INTERSECTION,
        "census": CENSUS_MATCH,
        "nominatim": NOMINATIM_PLACES,
        "radar": RADAR_WRONG,
    }[name]
    clock = FakeClock()
    provider = make(name, services.base_url, clock=clock, threshold=3)
    services.reply(path, Reply("down", status=500))
    for _ in range(3):
        assert provider.candidates(location, None) == []
    assert state_of(provider) is BreakerState.OPEN
    for _ in range(5):
        assert provider.candidates(location, None) == []
    assert len(services.seen(path)) == 3  # open: skipped without touching the network
    assert (provider.stats[FAILED], provider.stats[SKIPPED_OPEN]) == (3, 5)

    clock.now += 30.0  # cool-down over: one trial call; it fails and the circuit re-opens
    assert state_of(provider) is BreakerState.HALF_OPEN
    assert provider.candidates(location, None) == []
    assert state_of(provider) is BreakerState.OPEN and len(services.seen(path)) == 4
    assert provider.candidates(location, None) == [] and len(services.seen(path)) == 4

    clock.now += 30.0  # the next trial succeeds: closed again
    services.reply(path, Reply(good))
    assert provider.candidates(location, None)
    assert state_of(provider) is BreakerState.CLOSED
    assert provider.candidates(location, None) and len(services.seen(path)) == 6


def test_a_failure_logs_one_line_and_an_open_circuit_stays_quiet(
    services: FakeServices, caplog: pytest.LogCaptureFixture
) -> None:
    services.reply(RADAR_PATH, Reply("down", status=502))
    provider = make("radar", services.base_url, threshold=2)
    with caplog.at_level(logging.INFO, logger="dallas_calls.geocoding.providers"):
        provider.candidates(INTERSECTION, None)
        assert len(caplog.records) == 1
        assert "radar" in caplog.text and "HTTP 502" in caplog.text
        provider.candidates(INTERSECTION, None)  # second failure: the circuit opens
        assert len(caplog.records) == 3 and "circuit open" in caplog.records[-1].getMessage()
        for _ in range(3):
            provider.candidates(INTERSECTION, None)
        assert len(caplog.records) == 3
    assert "prj_test_pk_123" not in caplog.text


def test_429_retry_after_keeps_the_circuit_open_that_long(services: FakeServices) -> None:
    services.reply(RADAR_PATH, Reply({"meta": {"code": 429}}, status=429, headers={"Retry-After": "120"}))
    clock = FakeClock()
    provider = make("radar", services.base_url, clock=clock, threshold=5)
    assert provider.candidates(INTERSECTION, None) == []
    assert state_of(provider) is BreakerState.OPEN  # at once, not after five
    clock.now += 60.0  # past the 30 s cool-down, not past Retry-After
    assert state_of(provider) is BreakerState.OPEN
    clock.now += 60.0
    assert state_of(provider) is BreakerState.HALF_OPEN


# --- rate limiting ----------------------------------------------------------------------------------


def test_nominatim_blocking_mode_spaces_requests_at_least_a_second_apart(services: FakeServices) -> None:
    services.reply(NOMINATIM_PATH, Reply(NOMINATIM_PLACES))
    provider = make("nominatim", services.base_url, limiter=None, blocking=True)  # its own default limiter
    for _ in range(3):
        assert provider.candidates(ADDRESS, None)
    arrivals = [s.at for s in services.seen(NOMINATIM_PATH)]
    assert len(arrivals) == 3
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(arrivals))


def test_nominatim_non_blocking_mode_skips_instead_of_sleeping(services: FakeServices) -> None:
    services.reply(NOMINATIM_PATH, Reply(NOMINATIM_PLACES))
    provider = make("nominatim", services.base_url, limiter=None)
    assert provider.candidates(ADDRESS, None)
    assert provider.limiter.try_acquire() is False
    t0 = time.monotonic()
    assert provider.candidates(ADDRESS, None) == []
    assert time.monotonic() - t0 < 0.1
    assert len(services.seen(NOMINATIM_PATH)) == 1
    assert provider.stats[SKIPPED_RATE] == 1 and provider.stats[FAILED] == 0
    assert state_of(provider) is BreakerState.CLOSED


def test_a_rate_limited_half_open_trial_is_released(services: FakeServices) -> None:
    clock = FakeClock()
    limiter = RateLimiter(1.0, 1, clock=clock)
    services.reply(CENSUS_PATH, Reply("down", status=500))
    provider = make("census", services.base_url, clock=clock, threshold=1, limiter=limiter)
    provider.candidates(ADDRESS, None)
    clock.now += 30.0
    assert limiter.try_acquire()  # someone else takes the token: the trial call is rate-limited
    assert provider.candidates(ADDRESS, None) == [] and provider.stats[SKIPPED_RATE] == 1
    clock.now += 1.0
    services.reply(CENSUS_PATH, Reply(CENSUS_MATCH))
    assert provider.candidates(ADDRESS, None)  # the trial was not lost


def test_token_bucket_try_acquire_never_sleeps() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, burst=2, clock=clock, sleep=clock.sleep)
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]
    clock.now += 0.25
    assert limiter.try_acquire() is False
    assert limiter.wait_time() == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.try_acquire() is True
    assert clock.sleeps == []


def test_token_bucket_acquire_waits_its_turn_or_gives_up() -> None:
    clock = FakeClock()
    limiter = RateLimiter.min_interval(1.0, clock=clock, sleep=clock.sleep)
    assert limiter.acquire() and clock.sleeps == []
    assert limiter.acquire() and clock.sleeps == [pytest.approx(1.0)]
    assert limiter.acquire(max_wait_s=0.5) is False  # would wait 1 s: refused, nothing taken
    assert limiter.acquire(max_wait_s=1.0) and clock.sleeps[-1] == pytest.approx(1.0)


def test_token_bucket_queues_concurrent_callers() -> None:
    limiter = RateLimiter.min_interval(0.2)
    granted: list[float] = []
    lock = threading.Lock()

    def call() -> None:
        limiter.acquire()
        with lock:
            granted.append(time.monotonic())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted.sort()
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(granted))


def test_circuit_breaker_states() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(2, 10.0, clock=clock)
    assert breaker.allow()
    assert breaker.record_failure() is False
    assert breaker.record_success() is False and breaker.consecutive_failures == 0
    breaker.record_failure()
    assert breaker.record_failure() is True and not breaker.allow()
    clock.now += 10.0
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    assert breaker.record_success() is True and breaker.state is BreakerState.CLOSED


# --- the chain with the chooser ---------------------------------------------------------------------


def test_the_chooser_rejects_a_far_away_answer_from_the_chain(services: FakeServices) -> None:
    # The prototype's failure: "Frankford Rd / Midway Rd" (beat 613, far north) answered "exactly" as
    # 300 S Riverfront Blvd, downtown.
    services.reply(RADAR_PATH, Reply(RADAR_WRONG))
    areas = default_areas()
    radar = make("radar", services.base_url)
    explanation = Locator([radar], areas).explain(None, "Frankford Rd / Midway Rd", "613", "North Central")
    geo = explanation.choice.geo
    assert geo.precision == "beat" and geo.source == "beat_centroid"
    assert geo.lat is not None and geo.lat > 32.9
    (judged,) = explanation.choice.judged
    assert (judged.candidate.lat, judged.candidate.lon) == RIVERFRONT_300_S
    assert judged.accepted is False and "outside its beat" in judged.reason


def test_the_chain_takes_the_provider_that_lands_in_the_beat(services: FakeServices) -> None:
    services.reply(RADAR_PATH, Reply(RADAR_WRONG))
    services.reply(ARCGIS_PATH, Reply(ARCGIS_INTERSECTION))
    areas = default_areas()
    chain = [make("radar", services.base_url), make("arcgis", services.base_url)]
    explanation = Locator(chain, areas).explain(None, "Frankford Rd / Midway Rd", "613", "North Central")
    geo = explanation.choice.geo
    assert (geo.lat, geo.lon, geo.precision, geo.source, geo.in_beat) == (
        *FRANKFORD_MIDWAY,
        "intersection",
        "arcgis",
        True,
    )
    assert explanation.providers_asked == ("radar", "arcgis")


def test_a_provider_that_is_down_does_not_stop_the_chain(services: FakeServices) -> None:
    services.reply(ARCGIS_PATH, Reply({}, delay_s=0.6))
    services.reply(CENSUS_PATH, Reply(CENSUS_MATCH))
    chain = [make("arcgis", services.base_url, timeout_s=0.1), make("census", services.base_url)]
    geo = Locator(chain, default_areas()).locate("4300", "W Camp Wisdom Rd", "452", "Southwest")
    assert (geo.source, geo.precision, geo.in_beat) == ("census", "address", True)


# --- the factory ------------------------------------------------------------------------------------


def test_no_online_providers_by_default() -> None:
    from dallas_calls.config import Settings

    assert online_providers(Settings.model_validate({})) == []
    assert online_providers(SimpleNamespace(geocoders="")) == []
    assert online_providers(None) == []


def test_factory_builds_the_configured_chain_in_order(
    services: FakeServices, caplog: pytest.LogCaptureFixture
) -> None:
    settings = SimpleNamespace(
        geocoders=" Radar, arcgis ,nominatim,census,bogus,arcgis",
        radar_api_key="prj_live_pk_x",
        arcgis_api_key="esri-key",
        nominatim_user_agent="dallas-calls-test (ops@example.org)",
        arcgis_url=services.base_url,
        census_url=services.base_url,
        nominatim_url=services.base_url,
        radar_url=services.base_url,
        geocode_timeout_s=2.5,
    )
    with caplog.at_level(logging.WARNING, logger="dallas_calls.geocoding.providers"):
        chain = online_providers(settings)
    assert [p.name for p in chain] == ["radar", "arcgis", "nominatim", "census"]
    assert "bogus" in caplog.text
    assert all(isinstance(p, OnlineProvider) and p.timeout_s == 2.5 and not p.blocking for p in chain)
    nominatim = chain[2]
    assert isinstance(nominatim, NominatimProvider)
    assert nominatim.user_agent == "dallas-calls-test (ops@example.org)"
    assert nominatim.limiter.interval_s >= 1.0
    # One Nominatim limiter per service per process, however often the chain is built.
    again = online_providers(settings, blocking=True)
    assert isinstance(again[2], OnlineProvider) and again[2].limiter is nominatim.limiter
    assert all(isinstance(p, OnlineProvider) and p.blocking for p in again)

    services.reply(ARCGIS_PATH, Reply(ARCGIS_INTERSECTION))
    assert chain[1].candidates(INTERSECTION, None)  # the configured URL is the one called
    for p in [*chain, *again]:
        assert isinstance(p, OnlineProvider)
        p.close()


def test_factory_reads_secret_settings() -> None:
    from pydantic import SecretStr

    (radar,) = online_providers(SimpleNamespace(geocoders="radar", radar_api_key=SecretStr("pk_secret")))
    assert isinstance(radar, RadarProvider)
    assert radar.client.headers["authorization"] == "pk_secret"
    radar.close()


def test_factory_skips_radar_without_a_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dallas_calls.geocoding.providers"):
        chain = online_providers(SimpleNamespace(geocoders="radar,census", radar_api_key=None))
    assert [p.name for p in chain] == ["census"]
    assert "radar_api_key" in caplog.text
