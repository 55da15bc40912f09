"""The configured chain of online providers, built from settings (:func:`online_providers`)."""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from dallas_calls.geocoding.provider import Provider
from dallas_calls.geocoding.providers.arcgis import ARCGIS_URL, ArcGISProvider
from dallas_calls.geocoding.providers.base import (
    DEFAULT_COOLDOWN_S,
    DEFAULT_FAILURE_THRESHOLD,
    DEFAULT_RATES_PER_S,
    DEFAULT_TIMEOUT_S,
    DEFAULT_USER_AGENT,
    PROVIDER_NAMES,
    OnlineProvider,
    split_base_url,
)
from dallas_calls.geocoding.providers.census import CENSUS_URL, CensusProvider
from dallas_calls.geocoding.providers.dallas import DallasProvider
from dallas_calls.geocoding.providers.nominatim import (
    NOMINATIM_MIN_INTERVAL_S,
    NOMINATIM_URL,
    NominatimProvider,
)
from dallas_calls.geocoding.providers.radar import RADAR_URL, RadarProvider
from dallas_calls.geocoding.resilience import CircuitBreaker, RateLimiter
from dallas_calls.geodata.sources import CITY_GEOCODER_URL

log = logging.getLogger(__name__)

_DEFAULT_URLS = {
    "arcgis": ARCGIS_URL,
    "census": CENSUS_URL,
    "nominatim": NOMINATIM_URL,
    "radar": RADAR_URL,
    "dallas": CITY_GEOCODER_URL,
}
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
    """The online providers named in ``settings.geocoders`` ("dallas,arcgis,census,nominatim,radar"), in that
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
        url_setting = "dallas_geocoder_url" if name == "dallas" else f"{name}_url"
        url = str(_setting(settings, url_setting, _DEFAULT_URLS[name]))
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
        elif name == "dallas":
            provider = DallasProvider(base_url=url, **common)
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
