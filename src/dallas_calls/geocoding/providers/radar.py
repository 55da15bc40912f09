"""Radar's forward geocoder (see :class:`RadarProvider`)."""

from __future__ import annotations

from typing import Any

import httpx

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.normalize import NormalizedLocation
from dallas_calls.geocoding.providers.base import (
    DEFAULT_USER_AGENT,
    OnlineProvider,
    ProviderUnavailable,
    coords,
    get_json,
    precision_for,
    require_readable,
    split_base_url,
)

RADAR_URL = "https://api.radar.io"
RADAR_PATH = "/v1/geocode/forward"
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
        return self.parse(get_json(self.client, self.url, params, {}, self.timeout_s), location)

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
            where = coords(item.get("latitude"), item.get("longitude"))
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
        return require_readable(out, items, readable)

    def close(self) -> None:
        self.client.close()
