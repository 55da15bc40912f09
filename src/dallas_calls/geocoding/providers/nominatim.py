"""OpenStreetMap's Nominatim, through geopy (see :class:`NominatimProvider`)."""

from __future__ import annotations

from typing import Any

from geopy.geocoders import Nominatim

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.normalize import NormalizedLocation
from dallas_calls.geocoding.providers.base import (
    DALLAS_BBOX,
    DEFAULT_USER_AGENT,
    OnlineProvider,
    adapter_factory,
    coords,
    precision_for,
    require_readable,
    split_base_url,
)
from dallas_calls.geocoding.resilience import RateLimiter

NOMINATIM_URL = "https://nominatim.openstreetmap.org"
# Nominatim's usage policy (https://operations.osmfoundation.org/policies/nominatim/): "an absolute
# maximum of 1 request per second". The limiter spaces request *starts*; network jitter can bring two
# requests closer at the server than they left here (50 ms was not enough on a busy machine), so leave
# a margin.
NOMINATIM_MIN_INTERVAL_S = 1.2


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
            adapter_factory=adapter_factory,
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
            where = coords(place.get("lat"), place.get("lon"))
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
        return require_readable(out, places, readable)

    def close(self) -> None:
        self.geocoder.adapter.client.close()
