"""A candidate point from one provider, before the chooser judges it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# How specific a candidate is, best first. "reporting_area", "beat" and "none" are the chooser's
# fallbacks, never a provider's.
MATCH_PRECISIONS: tuple[str, ...] = ("address", "intersection", "street")


@dataclass(frozen=True, slots=True)
class Candidate:
    lat: float
    lon: float
    precision: str  # address | intersection | street
    source: str  # the provider's name: "address_points", "nominatim", ...
    score: float = 1.0  # the provider's own confidence, 0..1
    detail: str = ""  # how it was found: "median of 4 points in the 6100 block"

    def to_dict(self) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lon": self.lon,
            "precision": self.precision,
            "source": self.source,
            "score": round(self.score, 3),
            "detail": self.detail,
        }
