"""The City of Dallas' own geocoder (an ArcGIS GeocodeServer), see :class:`DallasProvider`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.normalize import NormalizedLocation
from dallas_calls.geocoding.providers.arcgis import ARCGIS_MATCH_TYPES, parse_candidate, parse_candidates
from dallas_calls.geocoding.providers.base import (
    DEFAULT_USER_AGENT,
    OnlineProvider,
    ProviderUnavailable,
    get_json,
    split_base_url,
)
from dallas_calls.geodata.sources import CITY_GEOCODER_URL

# The city's locators are built on its address points and centerlines; besides Esri's usual
# Addr_type values they may answer "Address" or "Intersection" (documented locator roles).
DALLAS_MATCH_TYPES = {**ARCGIS_MATCH_TYPES, "Address": "address", "Intersection": "intersection"}
# geocodeAddresses takes at most this many records a request (the service may suggest fewer).
MAX_BATCH = 1000


class DallasProvider(OnlineProvider):
    """The city's GeocodeServer: ``findAddressCandidates`` (``SingleLine``, ``outSR=4326``: the
    service answers in State Plane feet otherwise) one location at a time, and
    :meth:`geocode_batch` (``geocodeAddresses``, at most 1,000 records a request) for many. Free and
    keyless. Rate limit and circuit breaker as every online provider; answers are cached by the
    store like any other located key."""

    name = "dallas"

    def __init__(self, *, base_url: str = CITY_GEOCODER_URL, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        scheme, domain = split_base_url(base_url)
        self.url = f"{scheme}://{domain}"
        self.client = httpx.Client(headers={"User-Agent": DEFAULT_USER_AGENT})

    def _lookup(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        params = {
            "SingleLine": location.query_text(),
            "outSR": "4326",
            "outFields": "Addr_type,Score,Match_addr",
            "maxLocations": "5",
            "f": "json",
        }
        response = get_json(self.client, f"{self.url}/findAddressCandidates", params, {}, self.timeout_s)
        return parse_candidates(response, location, self.name, DALLAS_MATCH_TYPES)

    def geocode_batch(
        self, locations: Sequence[NormalizedLocation], batch_size: int = MAX_BATCH
    ) -> list[Candidate | None]:
        """One candidate (or None) per location, in order, ``batch_size`` (≤ 1,000) records a request.
        Raises :class:`ProviderUnavailable` when a batch fails (the caller decides to retry)."""
        size = max(1, min(batch_size, MAX_BATCH))
        out: list[Candidate | None] = [None] * len(locations)
        for start in range(0, len(locations), size):
            chunk = locations[start : start + size]
            records = [
                {"attributes": {"OBJECTID": start + i, "SingleLine": loc.query_text()}}
                for i, loc in enumerate(chunk)
            ]
            body = self._post_batch({"records": records})
            for item in body:
                result_id = (item.get("attributes") or {}).get("ResultID") if isinstance(item, dict) else None
                if not isinstance(result_id, int) or not start <= result_id < start + len(chunk):
                    continue
                candidate, _ = parse_candidate(item, locations[result_id], self.name, DALLAS_MATCH_TYPES)
                out[result_id] = candidate
        return out

    def _post_batch(self, addresses: dict[str, Any]) -> list[Any]:
        data = {"addresses": json.dumps(addresses), "outSR": "4326", "f": "json"}
        try:
            response = self.client.post(f"{self.url}/geocodeAddresses", data=data, timeout=self.timeout_s * 4)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise ProviderUnavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderUnavailable("answer is not JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("locations"), list):
            error = body.get("error") if isinstance(body, dict) else None
            raise ProviderUnavailable(f"answer has no locations list ({error})")
        return list(body["locations"])

    def close(self) -> None:
        self.client.close()
