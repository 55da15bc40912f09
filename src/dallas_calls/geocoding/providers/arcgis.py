"""Esri's World Geocoding Service, through geopy's ArcGIS geocoder (see :class:`ArcGISProvider`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from geopy.geocoders import ArcGIS

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.normalize import NormalizedLocation
from dallas_calls.geocoding.providers.base import (
    DALLAS_BBOX,
    DEFAULT_USER_AGENT,
    OnlineProvider,
    ProviderRejected,
    ProviderUnavailable,
    adapter_factory,
    clamp01,
    coords,
    precision_for,
    require_readable,
    split_base_url,
)

ARCGIS_URL = "https://geocode.arcgis.com"
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
            adapter_factory=adapter_factory,
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
        return parse_candidates(response, location, self.name)

    def close(self) -> None:
        self.geocoder.adapter.client.close()


def parse_candidates(
    response: Any, location: NormalizedLocation, source: str, match_types: dict[str, str] = ARCGIS_MATCH_TYPES
) -> list[Candidate]:
    """Candidates of an ArcGIS GeocodeServer ``findAddressCandidates`` answer (Esri's World service
    and the city's own locator share the shape).

    Shape: {"spatialReference": {...}, "candidates": [{"address", "location": {"x", "y"}, "score",
    "attributes": {"Addr_type", ...}, "extent"}]}; errors come as HTTP 200 with {"error": {"code",
    "message", "details"}} ("Find address candidates" and "Response types", developers.arcgis.com).
    """
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
        candidate, usable = parse_candidate(item, location, source, match_types)
        readable += usable
        if candidate is not None:
            out.append(candidate)
    return require_readable(out, items, readable)


def parse_candidate(
    item: Any, location: NormalizedLocation, source: str, match_types: dict[str, str]
) -> tuple[Candidate | None, bool]:
    """One candidate (or batch location) and whether it had usable coordinates."""
    if not isinstance(item, dict):
        return None, False
    point = item.get("location") or {}
    attrs = item.get("attributes") or {}
    where = coords(point.get("y"), point.get("x")) if isinstance(point, dict) else None
    addr_type = str(attrs.get("Addr_type", "")) if isinstance(attrs, dict) else ""
    precision = precision_for(match_types.get(addr_type), location.kind)
    if where is None or precision is None:
        return None, where is not None
    try:
        score = clamp01(float(item.get("score", 0)) / 100.0)
    except (TypeError, ValueError):
        score = 0.0
    detail = f"{addr_type} {item.get('address', '')!s} (score {item.get('score')})"
    return Candidate(where[0], where[1], precision, source, score, detail), True
