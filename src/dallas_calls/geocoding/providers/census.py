"""The US Census Bureau Geocoder (see :class:`CensusProvider`)."""

from __future__ import annotations

from typing import Any

import httpx

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.normalize import NormalizedLocation
from dallas_calls.geocoding.providers.base import (
    DEFAULT_USER_AGENT,
    OnlineProvider,
    ProviderRejected,
    ProviderUnavailable,
    coords,
    get_json,
    require_readable,
    split_base_url,
)

CENSUS_URL = "https://geocoding.geo.census.gov"
CENSUS_PATH = "/geocoder/locations/onelineaddress"
CENSUS_BENCHMARK = "Public_AR_Current"


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
        return self.parse(get_json(self.client, self.url, params, {}, self.timeout_s), location)

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
            where = coords(point.get("y"), point.get("x")) if isinstance(point, dict) else None
            if where is None:
                continue
            detail = f"{match.get('matchedAddress', '')} (TIGER range)"
            out.append(Candidate(where[0], where[1], "address", self.name, self.SCORE, detail))
        return require_readable(out, matches, len(out))

    def close(self) -> None:
        self.client.close()
