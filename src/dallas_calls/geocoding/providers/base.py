"""Optional online geocoders, asked after the local sources: ArcGIS, US Census, Nominatim, Radar.

Each is a :class:`~dallas_calls.geocoding.locator.Provider`: it turns a
:class:`~dallas_calls.geocoding.normalize.NormalizedLocation` into :class:`Candidate` points, and the
chooser decides whether to believe them. Nothing here trusts a provider: a far-away answer is still
returned as a candidate, and the chooser rejects it against the call's beat.

Every provider has

* a configurable base URL (so tests point it at a loopback server),
* its own timeout,
* its own rate limiter: in the default, non-blocking mode (the Lambda path) a call that would exceed
  the rate is skipped, never slept on; in blocking mode (the CLI) it waits its turn,
* a circuit breaker: after ``failure_threshold`` consecutive failures the provider is skipped without
  touching the network until ``cooldown_s`` has passed, then one trial call decides,
* and it never raises: a failure is logged (one line), counted, and answered with ``[]``.

ArcGIS and Nominatim go through geopy (with an httpx adapter, so every provider shares one HTTP
stack with keep-alive); geopy has no Census or Radar geocoder, so those two call their REST APIs with
httpx directly. :func:`online_providers` builds the configured chain from settings.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from geopy.adapters import AdapterHTTPError, BaseSyncAdapter
from geopy.exc import GeocoderParseError, GeocoderQueryError, GeocoderRateLimited, GeocoderTimedOut
from geopy.exc import GeocoderUnavailable as GeopyUnavailable
from geopy.geocoders import ArcGIS, Nominatim
from prometheus_client import Counter

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.locator import Provider
from dallas_calls.geocoding.normalize import NormalizedLocation
from dallas_calls.geocoding.resilience import CircuitBreaker, RateLimiter

log = logging.getLogger(__name__)

GEOCODER_CALLS = Counter(
    "dallas_calls_geocoder_calls_total",
    "Online geocoder calls by provider and outcome",
    ["provider", "outcome"],
)

# Outcomes counted per provider (``provider.stats``) and in ``GEOCODER_CALLS``.
OK, EMPTY, FAILED, REJECTED = "ok", "empty", "failed", "rejected"
SKIPPED_OPEN, SKIPPED_RATE, UNSUPPORTED = "skipped_open", "skipped_rate", "unsupported"

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_COOLDOWN_S = 60.0

# The city limits' bounding box (from the shipped city outline: lon -97.000..-96.464, lat
# 32.613..33.024) padded by about 5 km. Sent as a search area where a provider takes one.
DALLAS_BBOX = (32.57, -97.05, 33.07, -96.41)  # south, west, north, east

ARCGIS_URL = "https://geocode.arcgis.com"
CENSUS_URL = "https://geocoding.geo.census.gov"
NOMINATIM_URL = "https://nominatim.openstreetmap.org"
RADAR_URL = "https://api.radar.io"
CENSUS_PATH = "/geocoder/locations/onelineaddress"
CENSUS_BENCHMARK = "Public_AR_Current"
RADAR_PATH = "/v1/geocode/forward"

# Nominatim's usage policy (https://operations.osmfoundation.org/policies/nominatim/): "an absolute
# maximum of 1 request per second". The limiter spaces request *starts*; network jitter can bring two
# requests closer at the server than they left here, so leave a margin.
NOMINATIM_MIN_INTERVAL_S = 1.05
# The others publish no hard per-second limit for this use; stay polite.
DEFAULT_RATES_PER_S = {"arcgis": 10.0, "census": 5.0, "radar": 10.0}
PROVIDER_NAMES = ("arcgis", "census", "nominatim", "radar")


def _version() -> str:
    try:
        return metadata.version("dallas-calls")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


DEFAULT_USER_AGENT = f"dallas-calls/{_version()}"


class ProviderError(Exception):
    """A provider call that produced no usable answer."""


class ProviderUnavailable(ProviderError):
    """The provider is down or misbehaving (timeout, connection, 5xx, 429, auth, garbage): counts
    towards opening its circuit."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProviderRejected(ProviderError):
    """The provider is up but refused this query (a 4xx for the query itself): not an outage."""


def precision_for(answer: str | None, asked: str) -> str | None:
    """The candidate's precision: what the provider matched, never more specific than what was asked.

    An address answer to an intersection query (or the reverse) is only known to be on a street.
    """
    if answer is None:
        return None
    return answer if answer == asked else "street"


def _coords(lat: Any, lon: Any) -> tuple[float, float] | None:
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(la) and math.isfinite(lo) and -90 <= la <= 90 and -180 <= lo <= 180):
        return None
    return la, lo


def _readable(found: list[Candidate], items: list[Any], readable: int) -> list[Candidate]:
    """``found``, unless the answer listed results of which none had usable coordinates: that is a
    broken answer (an outage), not "no match"."""
    if items and not readable:
        raise ProviderUnavailable(f"none of {len(items)} results has usable coordinates")
    return found


def _clamp01(x: float) -> float:
    return max(0.0, min(1.0, x))


def split_base_url(url: str) -> tuple[str, str]:
    """``"http://127.0.0.1:8080/prefix/"`` -> ``("http", "127.0.0.1:8080/prefix")`` (geopy's scheme and
    domain)."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts.scheme, (parts.netloc + parts.path).rstrip("/")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from APIs; the breaker's own cool-down applies


class _HttpxAdapter(BaseSyncAdapter):  # type: ignore[misc]  # geopy ships no type hints
    """geopy's adapter interface over one shared-per-geocoder ``httpx.Client`` (keep-alive)."""

    def __init__(self, *, proxies: Any, ssl_context: Any) -> None:
        super().__init__(proxies=proxies, ssl_context=ssl_context)
        self.client = httpx.Client(verify=ssl_context if ssl_context is not None else True)

    def get_json(self, url: str, *, timeout: float, headers: dict[str, str]) -> Any:
        text = self.get_text(url, timeout=timeout, headers=headers)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise GeocoderParseError(f"response is not JSON: {text[:80]!r}") from exc

    def get_text(self, url: str, *, timeout: float, headers: dict[str, str]) -> str:
        try:
            response = self.client.get(url, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise GeocoderTimedOut("timed out") from exc
        except httpx.HTTPError as exc:
            raise GeopyUnavailable(type(exc).__name__) from exc
        if response.status_code >= 400:
            raise AdapterHTTPError(
                f"HTTP {response.status_code}",
                status_code=response.status_code,
                headers={k.lower(): v for k, v in response.headers.items()},
                text=response.text[:500],
            )
        return response.text

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def _adapter_factory(*, proxies: Any, ssl_context: Any) -> _HttpxAdapter:
    return _HttpxAdapter(proxies=proxies, ssl_context=ssl_context)


def _get_json(
    client: httpx.Client, url: str, params: Mapping[str, str], headers: Mapping[str, str], timeout: float
) -> Any:
    """GET a JSON document, mapping every failure onto :class:`ProviderUnavailable` or
    :class:`ProviderRejected`."""
    try:
        response = client.get(url, params=dict(params), headers=dict(headers), timeout=timeout)
    except httpx.TimeoutException as exc:
        raise ProviderUnavailable("timed out") from exc
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"{type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if status == 429:
        raise ProviderUnavailable("HTTP 429", _retry_after(response.headers.get("retry-after")))
    if status in (400, 404, 422):
        raise ProviderRejected(f"HTTP {status}")
    if status in (401, 403):
        raise ProviderUnavailable(f"HTTP {status} (check the API key)")
    if status >= 400:
        raise ProviderUnavailable(f"HTTP {status}")
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderUnavailable(f"response is not JSON: {response.text[:80]!r}") from exc


class ProviderStats:
    """Per-provider outcome counts (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Tally[str] = Tally()

    def bump(self, outcome: str) -> None:
        with self._lock:
            self._counts[outcome] += 1

    def __getitem__(self, outcome: str) -> int:
        with self._lock:
            return self._counts[outcome]

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class OnlineProvider:
    """The shared behaviour: supported kinds, breaker, limiter, failure handling. Subclasses implement
    :meth:`_lookup`, which may raise anything."""

    name = "online"
    kinds: frozenset[str] = frozenset({"address", "intersection", "street"})

    def __init__(
        self,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        blocking: bool = False,
        max_wait_s: float | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        self.timeout_s = timeout_s
        self.limiter = limiter or RateLimiter(DEFAULT_RATES_PER_S.get(self.name, 5.0))
        self.breaker = breaker or CircuitBreaker(DEFAULT_FAILURE_THRESHOLD, DEFAULT_COOLDOWN_S)
        self.blocking = blocking
        self.max_wait_s = max_wait_s
        self.stats = ProviderStats()
        self._secrets = tuple(s for s in secrets if s)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} breaker={self.breaker.state.value}>"

    def candidates(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        if location.kind not in self.kinds or not location.query_text():
            return self._count(UNSUPPORTED, [])
        if not self.breaker.allow():
            return self._count(SKIPPED_OPEN, [])
        acquired = self.limiter.acquire(self.max_wait_s) if self.blocking else self.limiter.try_acquire()
        if not acquired:
            self.breaker.cancel()
            return self._count(SKIPPED_RATE, [])
        try:
            found = self._lookup(location, near)
        except Exception as exc:  # a provider never breaks the chain
            return self._failed(location, exc)
        if self.breaker.record_success():
            log.info("geocoder %s: back up, circuit closed", self.name)
        return self._count(OK if found else EMPTY, found)

    def _lookup(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        raise NotImplementedError

    def close(self) -> None:
        """Release HTTP connections."""

    def _count(self, outcome: str, found: list[Candidate]) -> list[Candidate]:
        self.stats.bump(outcome)
        GEOCODER_CALLS.labels(self.name, outcome).inc()
        return found

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text[:200]

    def _failed(self, location: NormalizedLocation, exc: Exception) -> list[Candidate]:
        message = self._redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, (ProviderRejected, GeocoderQueryError)):
            # The service answered; it only refused this query. Not an outage.
            self.breaker.record_success()
            log.info("geocoder %s refused %r: %s", self.name, location.key, message)
            return self._count(REJECTED, [])
        retry_after = getattr(exc, "retry_after_s", None)
        if isinstance(exc, GeocoderRateLimited):
            retry_after = exc.retry_after
        opened = self.breaker.record_failure(retry_after)
        log.warning("geocoder %s failed on %r: %s", self.name, location.key, message)
        if opened:
            log.warning(
                "geocoder %s: circuit open after %d consecutive failures; skipping it for %.0f s",
                self.name,
                self.breaker.consecutive_failures,
                max(self.breaker.cooldown_s, retry_after or 0.0),
            )
        return self._count(FAILED, [])


# --- ArcGIS -----------------------------------------------------------------------------------------

# Addr_type values of the ArcGIS World Geocoding Service ("Geocoding service output", developers.arcgis.com)
ARCGIS_MATCH_TYPES = {
    "Subaddress": "address",
    "PointAddress": "address",
    "StreetAddress": "address",
    "StreetAddressExt": "address",
    "StreetInt": "intersection",
    "StreetMidBlock": "street",
    "StreetBetween": "street",
    "StreetName": "street",
}


class ArcGISProvider(OnlineProvider):
    """Esri's World Geocoding Service (``findAddressCandidates``), through geopy's ArcGIS geocoder.

    Intersections go as ``"A & B, DALLAS, TX"`` and come back as ``Addr_type: StreetInt``. With an API
    key the request is authenticated (``Authorization: Bearer``, kept out of URLs and logs) and sets
    ``forStorage=true``: Esri's terms allow storing (our cache) only results asked for that way.
    """

    name = "arcgis"

    def __init__(self, *, base_url: str = ARCGIS_URL, api_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(secrets=[api_key], **kwargs)
        scheme, domain = split_base_url(base_url)
        self.api_key = api_key
        self.geocoder = ArcGIS(
            scheme=scheme,
            domain=domain,
            timeout=self.timeout_s,
            user_agent=DEFAULT_USER_AGENT,
            adapter_factory=_adapter_factory,
        )

    def _lookup(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        params = {
            "singleLine": location.query_text(),
            "f": "json",
            "outFields": "Addr_type,Match_addr,Score",
            "maxLocations": "5",
            "sourceCountry": "USA",
            "searchExtent": f"{DALLAS_BBOX[1]},{DALLAS_BBOX[0]},{DALLAS_BBOX[3]},{DALLAS_BBOX[2]}",
        }
        if near is not None:
            params["location"] = f"{near[1]},{near[0]}"
        headers = {}
        if self.api_key:
            params["forStorage"] = "true"
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.geocoder.api}?{urlencode(params)}"
        response = self.geocoder._call_geocoder(url, lambda raw: raw, timeout=self.timeout_s, headers=headers)
        return self.parse(response, location)

    def parse(self, response: Any, location: NormalizedLocation) -> list[Candidate]:
        # Shape: {"spatialReference": {...}, "candidates": [{"address", "location": {"x", "y"}, "score",
        # "attributes": {"Addr_type", ...}, "extent"}]}; errors come as HTTP 200 with {"error": {"code",
        # "message", "details"}} ("Find address candidates" and "Response types", developers.arcgis.com).
        if not isinstance(response, dict):
            raise ProviderUnavailable("answer is not a JSON object")
        if "error" in response:
            error = response["error"] if isinstance(response["error"], dict) else {}
            code, text = error.get("code"), str(error.get("message", ""))[:120]
            if code == 400:
                raise ProviderRejected(f"error 400: {text}")
            raise ProviderUnavailable(f"error {code}: {text}")
        items = response.get("candidates")
        if not isinstance(items, list):
            raise ProviderUnavailable("answer has no candidates list")
        out, readable = [], 0
        for item in items:
            if not isinstance(item, dict):
                continue
            point = item.get("location") or {}
            attrs = item.get("attributes") or {}
            where = _coords(point.get("y"), point.get("x")) if isinstance(point, dict) else None
            readable += where is not None
            addr_type = str(attrs.get("Addr_type", "")) if isinstance(attrs, dict) else ""
            precision = precision_for(ARCGIS_MATCH_TYPES.get(addr_type), location.kind)
            if where is None or precision is None:
                continue
            try:
                score = _clamp01(float(item.get("score", 0)) / 100.0)
            except (TypeError, ValueError):
                score = 0.0
            detail = f"{addr_type} {item.get('address', '')!s} (score {item.get('score')})"
            out.append(Candidate(where[0], where[1], precision, self.name, score, detail))
        return _readable(out, items, readable)

    def close(self) -> None:
        self.geocoder.adapter.client.close()


# --- US Census --------------------------------------------------------------------------------------


class CensusProvider(OnlineProvider):
    """The US Census Bureau Geocoder (``locations/onelineaddress``): house numbers interpolated on TIGER
    address ranges. Addresses only: it matches neither intersections nor bare streets. Free, no key.
    """

    name = "census"
    kinds = frozenset({"address"})
    SCORE = 0.7  # an interpolated range match; the API gives no per-match score

    def __init__(
        self, *, base_url: str = CENSUS_URL, benchmark: str = CENSUS_BENCHMARK, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        scheme, domain = split_base_url(base_url)
        self.url = f"{scheme}://{domain}{CENSUS_PATH}"
        self.benchmark = benchmark
        self.client = httpx.Client(headers={"User-Agent": DEFAULT_USER_AGENT})

    def _lookup(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        params = {"address": location.query_text(), "benchmark": self.benchmark, "format": "json"}
        return self.parse(_get_json(self.client, self.url, params, {}, self.timeout_s), location)

    def parse(self, response: Any, location: NormalizedLocation) -> list[Candidate]:
        # Shape: {"result": {"input": {...}, "addressMatches": [{"matchedAddress", "coordinates": {"x",
        # "y"}, "tigerLine": {"tigerLineId", "side"}, "addressComponents": {...}}]}}; a refused query:
        # {"errors": [...], "status": "400"} (Census Geocoding Services API documentation,
        # geocoding.geo.census.gov/geocoder/Geocoding_Services_API.html).
        if not isinstance(response, dict):
            raise ProviderUnavailable("answer is not a JSON object")
        if "errors" in response:
            raise ProviderRejected(str(response["errors"])[:120])
        result = response.get("result")
        matches = result.get("addressMatches") if isinstance(result, dict) else None
        if not isinstance(matches, list):
            raise ProviderUnavailable("answer has no addressMatches list")
        out = []
        for match in matches:
            point = match.get("coordinates") if isinstance(match, dict) else None
            where = _coords(point.get("y"), point.get("x")) if isinstance(point, dict) else None
            if where is None:
                continue
            detail = f"{match.get('matchedAddress', '')} (TIGER range)"
            out.append(Candidate(where[0], where[1], "address", self.name, self.SCORE, detail))
        return _readable(out, matches, len(out))

    def close(self) -> None:
        self.client.close()


# --- Nominatim --------------------------------------------------------------------------------------


class NominatimProvider(OnlineProvider):
    """OpenStreetMap's Nominatim through geopy: a structured query bounded to the Dallas area.

    The public instance's policy: at most one request a second, a User-Agent naming the application,
    results cached (the store does). Nominatim has no intersection search, so intersections are not
    asked. A house-number hit is an address; a road (``class: highway``) is a street.
    """

    name = "nominatim"
    kinds = frozenset({"address", "street"})

    def __init__(
        self,
        *,
        base_url: str = NOMINATIM_URL,
        user_agent: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("limiter") is None:
            kwargs["limiter"] = RateLimiter.min_interval(NOMINATIM_MIN_INTERVAL_S)
        super().__init__(**kwargs)
        scheme, domain = split_base_url(base_url)
        self.user_agent = user_agent or DEFAULT_USER_AGENT
        self.geocoder = Nominatim(
            scheme=scheme,
            domain=domain,
            timeout=self.timeout_s,
            user_agent=self.user_agent,
            adapter_factory=_adapter_factory,
        )

    def _lookup(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        street = location.street
        assert street is not None  # kinds address/street always have one
        line = f"{location.number} {street.name}" if location.kind == "address" else street.name
        query = {"street": line, "city": "Dallas", "state": "TX"}
        south, west, north, east = DALLAS_BBOX
        places = self.geocoder.geocode(
            query,
            exactly_one=False,
            limit=5,
            addressdetails=True,
            country_codes="us",
            viewbox=[(north, west), (south, east)],
            bounded=True,
            timeout=self.timeout_s,
        )
        return self.parse([p.raw for p in places or []], location)

    def parse(self, places: list[Any], location: NormalizedLocation) -> list[Candidate]:
        # Shape (format=json): [{"place_id", "lat": "32.7", "lon": "-96.8", "display_name", "class",
        # "type", "importance", "address": {"house_number", "road", "city", ...}}] ("Place Output",
        # nominatim.org/release-docs/latest/api/Output/).
        out, readable = [], 0
        for place in places:
            if not isinstance(place, dict):
                continue
            where = _coords(place.get("lat"), place.get("lon"))
            readable += where is not None
            address = place.get("address")
            if isinstance(address, dict) and address.get("house_number"):
                answer, score = "address", 0.8
            elif place.get("class") == "highway" or place.get("addresstype") == "road":
                answer, score = "street", 0.5
            else:  # a city, postcode, building without a number...
                continue
            precision = precision_for(answer, location.kind)
            if where is None or precision is None:
                continue
            detail = f"{place.get('class')}/{place.get('type')} {place.get('display_name', '')}"[:160]
            out.append(Candidate(where[0], where[1], precision, self.name, score, detail))
        return _readable(out, places, readable)

    def close(self) -> None:
        self.geocoder.adapter.client.close()


# --- Radar ------------------------------------------------------------------------------------------

RADAR_LAYERS = {"address": "address", "intersection": "intersection", "street": "street"}
RADAR_CONFIDENCE = {"exact": 1.0, "interpolated": 0.75, "fallback": 0.3}


class RadarProvider(OnlineProvider):
    """Radar's forward geocoder (the prototype's provider; kept for parity). Needs a publishable key,
    sent as the ``Authorization`` header."""

    name = "radar"

    def __init__(self, *, api_key: str, base_url: str = RADAR_URL, **kwargs: Any) -> None:
        super().__init__(secrets=[api_key], **kwargs)
        scheme, domain = split_base_url(base_url)
        self.url = f"{scheme}://{domain}{RADAR_PATH}"
        self.client = httpx.Client(headers={"User-Agent": DEFAULT_USER_AGENT, "Authorization": api_key})

    def _lookup(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        params = {"query": location.query_text(), "country": "US"}
        return self.parse(_get_json(self.client, self.url, params, {}, self.timeout_s), location)

    def parse(self, response: Any, location: NormalizedLocation) -> list[Candidate]:
        # Shape: {"meta": {"code": 200}, "addresses": [{"latitude", "longitude", "geometry", "layer":
        # "address|intersection|street|place|postalCode|locality|...", "confidence":
        # "exact|interpolated|fallback", "formattedAddress", "addressLabel", "number", "street", ...}]}
        # (Radar API reference, "Forward geocode", radar.com/documentation/api#forward-geocode).
        if not isinstance(response, dict) or not isinstance(response.get("addresses"), list):
            raise ProviderUnavailable("answer has no addresses list")
        items: list[Any] = response["addresses"]
        out, readable = [], 0
        for item in items:
            if not isinstance(item, dict):
                continue
            where = _coords(item.get("latitude"), item.get("longitude"))
            readable += where is not None
            layer = item.get("layer")
            answer = RADAR_LAYERS.get(str(layer)) if layer is not None else location.kind
            precision = precision_for(answer, location.kind)
            if where is None or precision is None:
                continue
            confidence = str(item.get("confidence", ""))
            score = RADAR_CONFIDENCE.get(confidence, 0.5)
            detail = f"{layer}/{confidence} {item.get('formattedAddress', '')}"
            out.append(Candidate(where[0], where[1], precision, self.name, score, detail))
        return _readable(out, items, readable)

    def close(self) -> None:
        self.client.close()


# --- The chain --------------------------------------------------------------------------------------

_DEFAULT_URLS = {"arcgis": ARCGIS_URL, "census": CENSUS_URL, "nominatim": NOMINATIM_URL, "radar": RADAR_URL}
_SHARED_LIMITERS: dict[str, RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(key: str, rate_per_s: float, burst: int = 1) -> RateLimiter:
    """One limiter per service per process, however many times the chain is built (Nominatim's limit
    is per client, not per object)."""
    with _SHARED_LOCK:
        limiter = _SHARED_LIMITERS.get(key)
        if limiter is None:
            limiter = _SHARED_LIMITERS[key] = RateLimiter(rate_per_s, burst)
        return limiter


def _setting(settings: Any, name: str, default: Any = None) -> Any:
    value: Any = getattr(settings, name, None)
    if hasattr(value, "get_secret_value"):  # a pydantic SecretStr
        value = value.get_secret_value()
    return default if value is None or value == "" else value


def online_providers(settings: Any, *, blocking: bool = False) -> list[Provider]:
    """The online providers named in ``settings.geocoders`` ("arcgis,census,nominatim,radar"), in that
    order; ``""`` (the default) gives none. Reads settings with getattr, so any object will do.

    ``blocking=False`` (the pipeline, Lambda): a provider over its rate is skipped, never slept on.
    ``blocking=True`` (the CLI): calls wait their turn.
    """
    names = [n.strip().lower() for n in str(_setting(settings, "geocoders", "")).split(",") if n.strip()]
    timeout = float(_setting(settings, "geocode_timeout_s", DEFAULT_TIMEOUT_S))
    threshold = int(_setting(settings, "geocode_breaker_failures", DEFAULT_FAILURE_THRESHOLD))
    cooldown = float(_setting(settings, "geocode_breaker_cooldown_s", DEFAULT_COOLDOWN_S))
    out: list[Provider] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        if name not in PROVIDER_NAMES:
            log.warning(
                "geocoders: unknown provider %r (known: %s); skipped", name, ", ".join(PROVIDER_NAMES)
            )
            continue
        url = str(_setting(settings, f"{name}_url", _DEFAULT_URLS[name]))
        scheme, domain = split_base_url(url)
        if name == "nominatim":
            rate = 1.0 / NOMINATIM_MIN_INTERVAL_S
        else:
            rate = float(_setting(settings, f"{name}_rate_per_s", DEFAULT_RATES_PER_S[name]))
        common: dict[str, Any] = {
            "timeout_s": float(_setting(settings, f"{name}_timeout_s", timeout)),
            "limiter": shared_limiter(f"{name} {scheme}://{domain}", rate),
            "breaker": CircuitBreaker(threshold, cooldown),
            "blocking": blocking,
        }
        provider: OnlineProvider
        if name == "arcgis":
            key = _setting(settings, "arcgis_api_key")
            if not key:
                log.warning(
                    "geocoders: arcgis without arcgis_api_key: Esri's terms do not allow storing (caching) "
                    "results of unauthenticated requests; set DALLAS_CALLS_ARCGIS_API_KEY"
                )
            provider = ArcGISProvider(base_url=url, api_key=key, **common)
        elif name == "census":
            provider = CensusProvider(base_url=url, **common)
        elif name == "nominatim":
            agent = _setting(settings, "nominatim_user_agent")
            if not agent and domain == urlsplit(NOMINATIM_URL).netloc:
                log.warning(
                    "geocoders: nominatim without nominatim_user_agent; sending %r. The public "
                    "instance's policy asks for a User-Agent that identifies you (add a contact)",
                    DEFAULT_USER_AGENT,
                )
            provider = NominatimProvider(base_url=url, user_agent=agent, **common)
        else:
            key = _setting(settings, "radar_api_key")
            if not key:
                log.warning("geocoders: radar needs radar_api_key; skipped")
                continue
            provider = RadarProvider(base_url=url, api_key=key, **common)
        out.append(provider)
    return out
