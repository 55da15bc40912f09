"""What every online geocoder shares: errors, the HTTP plumbing, and :class:`OnlineProvider`.

The providers (one module each: ``arcgis``, ``census``, ``nominatim``, ``radar``) are asked after
the local sources; ``chain.online_providers`` builds the configured ones from settings.

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
httpx directly.
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
from urllib.parse import urlsplit

import httpx
from geopy.adapters import AdapterHTTPError, BaseSyncAdapter
from geopy.exc import GeocoderParseError, GeocoderQueryError, GeocoderRateLimited, GeocoderTimedOut
from geopy.exc import GeocoderUnavailable as GeopyUnavailable
from prometheus_client import Counter

from dallas_calls.geocoding.candidate import Candidate
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

# Requests a second. Nominatim's limit is its own (``nominatim.NOMINATIM_MIN_INTERVAL_S``); the
# others publish no hard per-second limit for this use: stay polite.
# The city's geocoder: its own service, unknown capacity; five a second stays polite.
DEFAULT_RATES_PER_S = {"arcgis": 10.0, "census": 5.0, "radar": 10.0, "dallas": 5.0}
PROVIDER_NAMES = ("dallas", "arcgis", "census", "nominatim", "radar")


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


def coords(lat: Any, lon: Any) -> tuple[float, float] | None:
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(la) and math.isfinite(lo) and -90 <= la <= 90 and -180 <= lo <= 180):
        return None
    return la, lo


def require_readable(found: list[Candidate], items: list[Any], readable: int) -> list[Candidate]:
    """``found``, unless the answer listed results of which none had usable coordinates: that is a
    broken answer (an outage), not "no match"."""
    if items and not readable:
        raise ProviderUnavailable(f"none of {len(items)} results has usable coordinates")
    return found


def clamp01(x: float) -> float:
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


def adapter_factory(*, proxies: Any, ssl_context: Any) -> _HttpxAdapter:
    return _HttpxAdapter(proxies=proxies, ssl_context=ssl_context)


def get_json(
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
