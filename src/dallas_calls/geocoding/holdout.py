"""Leave-one-address-out: locate each address with the city's own point from a table without it.

The honest measure of an offline geocoder whose table is built from the same kind of points it is
measured on. Each distinct address is queried as the feed would give it (its hundred block, its
street, the call's beat and reporting area) and located from the table less that address *and its duplicates*: any
point with the same number on a street of the same core name (any spelling), and any point within
``DUPLICATE_M`` of its true position (the same place written another way, or another source's copy).
The reporting areas' centres come from the same reduced table, so the held-out point is not in them.

Used by ``bench/geocode_accuracy.py`` and by the tests that pin the accuracy on real data.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from dallas_calls.geocoding.address_points import AddressPoint, AddressPointIndex
from dallas_calls.geocoding.locator import AddressPointProvider, Locator
from dallas_calls.geocoding.normalize import NormalizedLocation, normalize_address
from dallas_calls.geodata.beats import BeatAreas
from dallas_calls.geodata.distance import distance_m
from dallas_calls.geodata.samples import LabelledPoint
from dallas_calls.model import Geo

DUPLICATE_M = 10.0
_CELL_DEG = 0.001  # ~100 m grid cells for the duplicate search


@dataclass(frozen=True, slots=True)
class HeldOut:
    """One distinct address: its normalized form, the city's point (median of its rows), the beat,
    division and reporting area (the commonest of its rows')."""

    loc: NormalizedLocation
    lat: float
    lon: float
    beat: str | None
    division: str | None
    reporting_area: str | None = None

    @property
    def block(self) -> str:
        """The hundred block, as the feed writes it: "4300" for 4302."""
        assert self.loc.number is not None
        return str(self.loc.number // 100 * 100)


def held_out_addresses(points: Iterable[LabelledPoint]) -> list[HeldOut]:
    """Distinct street addresses among ``points`` (by location key), in key order."""
    groups: dict[str, list[LabelledPoint]] = {}
    locs: dict[str, NormalizedLocation] = {}
    for p in points:
        loc = normalize_address(p.address)
        if loc.kind == "address" and loc.number is not None and loc.street is not None:
            groups.setdefault(loc.key, []).append(p)
            locs[loc.key] = loc
    out = []
    for key in sorted(groups):
        pts = groups[key]
        beats = Counter(p.beat for p in pts if p.beat)
        divisions = Counter(p.division for p in pts if p.division)
        reporting_areas = Counter(p.reporting_area for p in pts if p.reporting_area)
        out.append(
            HeldOut(
                locs[key],
                statistics.median(p.lat for p in pts),
                statistics.median(p.lon for p in pts),
                beats.most_common(1)[0][0] if beats else None,
                divisions.most_common(1)[0][0] if divisions else None,
                reporting_areas.most_common(1)[0][0] if reporting_areas else None,
            )
        )
    return out


class DuplicateFinder:
    """The table's points that are a held-out address itself (see the module docstring)."""

    def __init__(self, index: AddressPointIndex) -> None:
        self._by_core: dict[tuple[int, str], list[AddressPoint]] = {}
        self._grid: dict[tuple[int, int], list[AddressPoint]] = {}
        for p in index.all_points():
            street = normalize_address(f"{p.number} {p.street}").street
            self._by_core.setdefault((p.number, street.core if street else p.street), []).append(p)
            self._grid.setdefault(_cell(p.lat, p.lon), []).append(p)

    def of(self, held: HeldOut) -> set[AddressPoint]:
        assert held.loc.number is not None and held.loc.street is not None
        found = set(self._by_core.get((held.loc.number, held.loc.street.core), ()))
        i, j = _cell(held.lat, held.lon)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                for p in self._grid.get((i + di, j + dj), ()):
                    if distance_m(held.lat, held.lon, p.lat, p.lon) <= DUPLICATE_M:
                        found.add(p)
        return found


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return int(lat // _CELL_DEG), int(lon // _CELL_DEG)


@dataclass(frozen=True, slots=True)
class HeldOutResult:
    held: HeldOut
    geo: Geo
    street_known: bool  # whether the table, less the address, has any point of its street

    @property
    def error_m(self) -> float | None:
        if self.geo.lat is None or self.geo.lon is None:
            return None
        return distance_m(self.held.lat, self.held.lon, self.geo.lat, self.geo.lon)


def locate_held_out(
    index: AddressPointIndex, areas: BeatAreas, held: Sequence[HeldOut]
) -> Iterator[HeldOutResult]:
    """Each held-out address located by the address-point chain from ``index`` less it."""
    duplicates = DuplicateFinder(index)
    for h in held:
        assert h.loc.street is not None
        table = index.without(duplicates.of(h))
        geo = Locator([AddressPointProvider(table)], areas).locate(
            h.block, h.loc.street.label, h.beat, h.division, h.reporting_area
        )
        yield HeldOutResult(h, geo, bool(table.street_names(h.loc.street)))
