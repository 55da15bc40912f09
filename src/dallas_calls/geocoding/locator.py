"""The locator: normalize a call's location, ask the providers in order, choose.

Local providers come first and need no network. A provider is anything with a ``name`` and a
``candidates(location, near)`` method; one that raises is logged and skipped, never fatal. The chain
stops early once a candidate is an address or intersection match inside the call's own beat. When
no candidate passes, the call's reporting area (the feed's ``reporting_area``, smaller than a beat)
gives the fallback point if a provider knows that area's centre (``AreaCentres``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from dallas_calls.geocoding.address_points import SOURCE as ADDRESS_POINTS_SOURCE
from dallas_calls.geocoding.address_points import AddressPointIndex
from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.choose import Choice, choose, judge
from dallas_calls.geocoding.city_points import CITY_POINTS_DB, CityPoints
from dallas_calls.geocoding.normalize import NormalizedLocation, normalize_location
from dallas_calls.geocoding.provider import Provider
from dallas_calls.geocoding.providers.chain import online_providers
from dallas_calls.geocoding.street_index import StreetIndex
from dallas_calls.geodata.beats import BeatAreas, default_areas
from dallas_calls.geodata.samples import normalize_reporting_area
from dallas_calls.model import Geo

log = logging.getLogger(__name__)

GOOD_ENOUGH = ("address", "intersection")


@runtime_checkable
class AreaCentres(Protocol):
    """A provider that knows reporting areas' centres (from its own labelled points)."""

    def reporting_area_centre(self, area: str | None) -> tuple[float, float, int] | None: ...


class AddressPointProvider:
    """The city's own address points (see ``address_points``)."""

    name = ADDRESS_POINTS_SOURCE

    def __init__(self, index: AddressPointIndex) -> None:
        self.index = index

    def candidates(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        return self.index.locate(location, near)

    def reporting_area_centre(self, area: str | None) -> tuple[float, float, int] | None:
        return self.index.reporting_area_centre(area)


class StreetIndexProvider:
    """Street centerlines with address ranges (the city's, or TIGER/Line; built by `dallas-calls
    geodata build`): a block interpolated on its segment, the shared node(s) of two cross streets,
    or the piece of a street nearest the beat. Named after the index's data (``index.source``)."""

    def __init__(self, index: StreetIndex) -> None:
        self.index = index
        self.name = index.source

    def candidates(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        streets = location.streets
        if location.kind == "address" and location.number is not None and streets:
            found = self.index.address(location.number, streets[0].name)
        elif location.kind == "intersection" and len(streets) >= 2:
            found = self.index.intersection(streets[0].name, streets[1].name)
        elif location.kind == "street" and streets:
            found = self.index.street(streets[0].name, near)
        else:
            found = []
        return [c.as_candidate() for c in found]


@dataclass(frozen=True, slots=True)
class Explanation:
    location: NormalizedLocation
    choice: Choice
    providers_asked: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.location.key,
            "kind": self.location.kind,
            "number": self.location.number,
            "streets": [s.label for s in self.location.streets],
            "notes": list(self.location.notes),
            "providers_asked": list(self.providers_asked),
            **self.choice.to_dict(),
        }


class Locator:
    """``locate(block, location, beat, division, reporting_area) -> Geo``: the
    ``CallLocator`` of :mod:`dallas_calls.locating`."""

    def __init__(self, providers: Sequence[Provider], areas: BeatAreas | None = None) -> None:
        self.providers = list(providers)
        self.areas = areas or default_areas()
        self._area_centres = [p for p in self.providers if isinstance(p, AreaCentres)]

    def signature(self) -> str:
        """What this chain can know: its sources (and the street index's build), and which beat check
        it uses. When it changes, answers cached as only approximate deserve another try."""
        parts = [p.name for p in self.providers]
        for provider in self.providers:
            index = getattr(provider, "index", provider)
            if isinstance(index, StreetIndex | CityPoints):
                parts.append(f"{provider.name}@{index.path.stat().st_mtime_ns}")
        parts.append(f"beats:{self.areas.check}")
        return ",".join(parts)

    def locate(
        self,
        block: str | None,
        location: str,
        beat: str | None,
        division: str | None,
        reporting_area: str | None = None,
    ) -> Geo:
        return self.explain(block, location, beat, division, reporting_area).choice.geo

    def explain(
        self,
        block: str | None,
        location: str,
        beat: str | None,
        division: str | None,
        reporting_area: str | None = None,
    ) -> Explanation:
        """The chosen point with every candidate, its checks and verdict (for the CLI and debugging)."""
        loc = normalize_location(block, location)
        near = self.areas.beat_centroid(beat)
        candidates: list[Candidate] = []
        asked: list[str] = []
        if loc.valid:
            for provider in self.providers:
                asked.append(provider.name)
                try:
                    candidates.extend(provider.candidates(loc, near))
                except Exception as exc:  # one broken provider must not stop the chain
                    log.warning("provider %s failed on %r: %s", provider.name, loc.key, exc)
                    continue
                if self._good_enough(candidates, beat, division):
                    break
        choice = choose(candidates, beat, division, self.areas, lambda: self._area_centre(reporting_area))
        return Explanation(loc, choice, tuple(asked))

    def _area_centre(self, reporting_area: str | None) -> tuple[float, float] | None:
        """The first provider's centre of the call's reporting area, if any knows it."""
        area = normalize_reporting_area(reporting_area)
        if area is None:
            return None
        for provider in self._area_centres:
            found = provider.reporting_area_centre(area)
            if found is not None:
                return found[0], found[1]
        return None

    def _good_enough(self, candidates: list[Candidate], beat: str | None, division: str | None) -> bool:
        if not candidates:
            return False
        return any(
            j.accepted and j.in_beat and j.candidate.precision in GOOD_ENOUGH
            for j in judge(candidates, beat, division, self.areas)
        )


def geodata_dir(settings: Any) -> Path | None:
    """Where `dallas-calls geodata fetch/build` put downloaded and built geography, if anywhere."""
    data_dir = getattr(settings, "data_dir", None)
    return Path(data_dir) / "geodata" if data_dir else None


def local_providers(geodata: Path | None) -> list[Provider]:
    """What `dallas-calls geodata build` made, best first: the city's per-block address points (and
    its geocoded incidents' intersections), the city's centerlines, TIGER."""
    if geodata is None:
        return []
    found: list[Provider] = []
    points = CityPoints.open(geodata / CITY_POINTS_DB)
    if points is not None:
        found.append(points)
    for name in ("city_streets.sqlite3", "streets.sqlite3"):
        streets = StreetIndex.open(geodata / name)
        if streets is not None:
            found.append(StreetIndexProvider(streets))
    return found


def default_locator(settings: Any = None, *, blocking: bool = False) -> Locator:
    """The configured chain: local sources first (the city's block points, its centerlines and the
    TIGER street index once `geodata build` has made them, then the address-point seed or a fuller
    CSV named by ``address_points_path``), then the online geocoders named in ``geocoders``. Beat
    checks use real beat polygons (``beat_polygons_path``, else ``DATA_DIR/geodata/beats.geojson``
    once fetched) and the city's limits (``DATA_DIR/geodata/city.geojson``), falling back to the
    shipped approximations. ``blocking``: wait for a geocoder's rate limit (the CLI) instead of
    skipping it (the pipeline and Lambda)."""
    points_path = getattr(settings, "address_points_path", None)
    beats_path = getattr(settings, "beat_polygons_path", None)
    geodata = geodata_dir(settings)
    if beats_path is None and geodata is not None and (geodata / "beats.geojson").exists():
        beats_path = geodata / "beats.geojson"
    city_path = geodata / "city.geojson" if geodata is not None else None
    divisions_path = geodata / "divisions.geojson" if geodata is not None else None
    index = AddressPointIndex.seed()
    if points_path and Path(points_path).exists():
        index = AddressPointIndex.from_csv(points_path)
    fetched = [p for p in (city_path, divisions_path) if p is not None and p.is_file()]
    if beats_path or fetched:
        areas = BeatAreas.load(Path(beats_path) if beats_path else None, city_path, divisions_path)
    else:
        areas = default_areas()
    providers = local_providers(geodata)
    providers.append(AddressPointProvider(index))
    providers.extend(online_providers(settings, blocking=blocking))
    return Locator(providers, areas)
