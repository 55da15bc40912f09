"""Dallas police geography: city limits, beats and divisions, and the checks a candidate point faces.

Two kinds of beat areas:

- ``"polygon"``: the city's real beat polygons (a GeoJSON FeatureCollection with a ``beat`` property
  and optionally ``division``), when they have been downloaded.
- ``"approx"``: areas derived from thousands of beat-labelled real points (shipped in
  ``geodata/data/beats_approx.geojson``, built by ``python -m dallas_calls.geodata.build_tables``). They are
  approximations, so a point "in" an approximate beat is tested with a tolerance (``APPROX_TOLERANCE_M``).

Every answer says which kind was used (:attr:`BeatAreas.check`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from shapely import Point, prepare
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from dallas_calls.geodata.distance import metres_to_degrees
from dallas_calls.geodata.samples import normalize_beat, normalize_division

BeatCheck = Literal["polygon", "approx"]
# An approximate beat is a guess at its edges: a point this close to it counts as inside.
APPROX_TOLERANCE_M = 250.0


@dataclass(frozen=True, slots=True)
class Beat:
    beat: str
    division: str | None
    area: BaseGeometry
    centroid: tuple[float, float]  # (lat, lon)


class BeatAreas:
    """Beats, divisions and the city outline, with point-in checks."""

    def __init__(
        self,
        beats: dict[str, Beat],
        city: BaseGeometry,
        check: BeatCheck,
        division_areas: dict[str, BaseGeometry] | None = None,
    ) -> None:
        self.beats = beats
        self.city = city
        self.check: BeatCheck = check
        self.tolerance_deg = metres_to_degrees(APPROX_TOLERANCE_M) if check == "approx" else 0.0
        prepare(city)
        for b in beats.values():
            prepare(b.area)
        divisions: dict[str, list[BaseGeometry]] = {}
        for b in beats.values():
            if b.division:
                divisions.setdefault(b.division, []).append(b.area)
        self.divisions: dict[str, BaseGeometry] = {d: unary_union(a) for d, a in divisions.items()}
        # The city's own division polygons, when fetched, replace the union of their beats.
        self.divisions.update(division_areas or {})
        for area in self.divisions.values():
            prepare(area)

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def from_geojson(
        cls,
        beats_geojson: dict[str, Any],
        city_geojson: dict[str, Any],
        check: BeatCheck,
        divisions_geojson: dict[str, Any] | None = None,
    ) -> BeatAreas:
        beats: dict[str, Beat] = {}
        for feature in beats_geojson["features"]:
            props = feature.get("properties") or {}
            beat = normalize_beat(str(props.get("beat") or props.get("BEAT") or ""))
            if not beat:
                continue
            area = shape(feature["geometry"])
            if beat in beats:  # a beat in several features: one area
                area = unary_union([beats[beat].area, area])
            centroid = props.get("centroid")
            if isinstance(centroid, list) and len(centroid) == 2:
                lat_lon = (float(centroid[0]), float(centroid[1]))
            else:
                rep = area.representative_point()
                lat_lon = (rep.y, rep.x)
            division = normalize_division(props.get("division") or props.get("DIVISION"))
            beats[beat] = Beat(beat, division, area, lat_lon)
        city = unary_union([shape(f["geometry"]) for f in city_geojson["features"]])
        division_areas: dict[str, list[BaseGeometry]] = {}
        for feature in (divisions_geojson or {}).get("features", []):
            name = normalize_division((feature.get("properties") or {}).get("name"))
            if name:
                division_areas.setdefault(name, []).append(shape(feature["geometry"]))
        return cls(beats, city, check, {d: unary_union(a) for d, a in division_areas.items()})

    @classmethod
    def load(
        cls,
        beat_polygons: Path | None = None,
        city_limits: Path | None = None,
        divisions: Path | None = None,
    ) -> BeatAreas:
        """Real beat polygons from ``beat_polygons`` when given and present, else the shipped
        approximation; the city's limits from ``city_limits`` when present, else the shipped outline;
        division polygons from ``divisions`` when present, else each division's beats."""
        if city_limits is not None and city_limits.is_file():
            city = json.loads(city_limits.read_text("utf-8"))
        else:
            city = _package_json("city.geojson")
        division_areas = (
            json.loads(divisions.read_text("utf-8")) if divisions and divisions.is_file() else None
        )
        if beat_polygons is not None and beat_polygons.exists():
            return cls.from_geojson(json.loads(beat_polygons.read_text()), city, "polygon", division_areas)
        return cls.from_geojson(_package_json("beats_approx.geojson"), city, "approx", division_areas)

    # -- checks -------------------------------------------------------------------------------

    def in_city(self, lat: float, lon: float) -> bool:
        return bool(self.city.covers(Point(lon, lat)))

    def beat_area(self, beat: str | None) -> BaseGeometry | None:
        b = self._beat(beat)
        return b.area if b else None

    def beat_centroid(self, beat: str | None) -> tuple[float, float] | None:
        b = self._beat(beat)
        return b.centroid if b else None

    def division_of(self, beat: str | None) -> str | None:
        b = self._beat(beat)
        return b.division if b else None

    def point_in_beat(self, lat: float, lon: float, beat: str | None) -> bool | None:
        """True/False, or None when the beat is unknown (no area to check against)."""
        b = self._beat(beat)
        if b is None:
            return None
        return self._covers(b.area, lat, lon)

    def point_in_division(self, lat: float, lon: float, division: str | None) -> bool | None:
        area = self.divisions.get(normalize_division(division) or "")
        if area is None:
            return None
        return self._covers(area, lat, lon)

    def distance_to_beat_m(self, lat: float, lon: float, beat: str | None) -> float | None:
        b = self._beat(beat)
        if b is None:
            return None
        return float(b.area.distance(Point(lon, lat))) / metres_to_degrees(1.0)

    def beat_at(self, lat: float, lon: float) -> str | None:
        """The beat whose area holds the point (the first, for overlapping approximate areas)."""
        p = Point(lon, lat)
        for name, b in self.beats.items():
            if b.area.covers(p):
                return name
        return None

    def _covers(self, area: BaseGeometry, lat: float, lon: float) -> bool:
        p = Point(lon, lat)
        if area.covers(p):
            return True
        return self.tolerance_deg > 0 and bool(area.dwithin(p, self.tolerance_deg))

    def _beat(self, beat: str | None) -> Beat | None:
        key = normalize_beat(beat)
        return self.beats.get(key) if key else None


def _package_json(name: str) -> dict[str, Any]:
    text = resources.files("dallas_calls.geodata").joinpath("data", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=1)
def default_areas() -> BeatAreas:
    """The shipped approximate beats and city outline (loaded once)."""
    return BeatAreas.load()


# Module-level conveniences over the shipped tables.


def in_city(lat: float, lon: float) -> bool:
    return default_areas().in_city(lat, lon)


def beat_area(beat: str | None) -> BaseGeometry | None:
    return default_areas().beat_area(beat)


def beat_centroid(beat: str | None) -> tuple[float, float] | None:
    return default_areas().beat_centroid(beat)


def point_in_beat(lat: float, lon: float, beat: str | None) -> bool | None:
    return default_areas().point_in_beat(lat, lon, beat)


def beat_check() -> BeatCheck:
    """Which check ``point_in_beat`` uses: "polygon" (real beat polygons) or "approx"."""
    return default_areas().check
