"""The city's own address points as a geocoder.

Dallas Police Incidents carry addresses the city geocoded itself. Indexed by canonical street name,
they place a block address at the median of the known points on that street within the block, or, when
the block has none, interpolated between the nearest known numbers on the same street. Two streets'
points that come within a short distance of each other give their intersection. Points that carry
the police reporting area they were recorded in give, per area, a centre (``reporting_area_centre``):
the locator's fallback for a street the table does not know, finer than the beat's centre.

The index is in memory (a dict of sorted lists per street): built from CSV rows in well under a
second for the shipped seed table, and in a few seconds for the full Police Incidents export.
"""

from __future__ import annotations

import bisect
import csv
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.cross_streets import MAX_CROSS_REACH_M, crossings
from dallas_calls.geocoding.normalize import NormalizedLocation, Street, normalize_address
from dallas_calls.geocoding.number_lines import NumberLines
from dallas_calls.geocoding.street_model import StreetModel
from dallas_calls.geocoding.street_names import alternate_names, squashed
from dallas_calls.geodata.distance import distance_m
from dallas_calls.geodata.samples import normalize_reporting_area

SOURCE = "address_points"
SEED_TABLE = "data/address_points_seed.csv"
# Interpolate only between known numbers this close (in address numbers) and this near on the ground.
MAX_NUMBER_GAP = 1500
MAX_GROUND_GAP_M = 3000.0
# A block interpolated farther than this from the nearer known number, or extrapolated at all, is
# labelled "street": measured leave-one-address-out, such answers are within 250 m about 75% of
# the time, against 90% for blocks with known numbers within three blocks on both sides.
MAX_ADDRESS_REACH = 300
# The two halves of a street split by a baseline ("N"/"S ERVAY ST") and the sign each half's numbers
# take on the line they share.
OPPOSITE = {"N": "S", "S": "N", "E": "W", "W": "E"}
SIGN = {"N": 1, "E": 1, "S": -1, "W": -1}
# One known number on one side only: use it as a street-precision point when this close.
MAX_ONE_SIDED_GAP = 200
# Two streets' points this close make an intersection.
MAX_INTERSECTION_GAP_M = 200.0
# A reporting area's centre is the mean of its known points, when it has at least this many.
# Measured leave-one-address-out on the blocks that no candidate places (bench/RESULTS.md): 31% within
# 250 m (median 402 m) against 20% (602 m) for the beat's centre. The mean beats the median (26%,
# 441 m): an area's points bunch at a few busy addresses, and the median follows the bunch. A single
# point also beat the beat's centre (18% against 11%), but one point is a place in the area, not its
# centre.
MIN_AREA_POINTS = 2


@dataclass(frozen=True, slots=True)
class AddressPoint:
    number: int
    street: str  # canonical street name (``Street.name``)
    lat: float
    lon: float
    beat: str | None = None
    reporting_area: str | None = None


Row = tuple[str, float, float, str | None] | tuple[str, float, float, str | None, str | None]


class AddressPointIndex:
    """Known address points by canonical street name, each list sorted by number."""

    def __init__(self, points: Iterable[AddressPoint]) -> None:
        by_street: dict[str, list[AddressPoint]] = {}
        for p in points:
            by_street.setdefault(p.street, []).append(p)
        self._points = {k: sorted(v, key=lambda p: p.number) for k, v in by_street.items()}
        self._numbers = {k: [p.number for p in v] for k, v in self._points.items()}
        self._models: dict[str, StreetModel] = {}
        self._by_area: dict[str, list[AddressPoint]] = {}
        self._area_centres: dict[str, tuple[float, float, int] | None] = {}
        for pts in self._points.values():
            for p in pts:
                if p.reporting_area:
                    self._by_area.setdefault(p.reporting_area, []).append(p)
        self._number_lines: NumberLines | None = None
        self._by_core: dict[str, list[str]] = {}
        self._street_of_name: dict[str, Street] = {}
        for name, pts in self._points.items():
            street = normalize_address(f"{pts[0].number} {name}").street
            if street is None:
                continue
            self._street_of_name[name] = street
            self._by_core.setdefault(squashed(street.core), []).append(name)

    def __len__(self) -> int:
        return sum(len(v) for v in self._points.values())

    @property
    def street_count(self) -> int:
        return len(self._points)

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def from_rows(cls, rows: Iterable[Row]) -> AddressPointIndex:
        """Rows of (one-line address, lat, lon, beat[, reporting area]); addresses that do not
        normalize are skipped."""
        points = []
        for row in rows:
            address, lat, lon, beat = row[:4]
            area = row[4] if len(row) > 4 else None
            loc = normalize_address(address)
            if loc.kind == "address" and loc.number is not None and loc.street is not None:
                points.append(AddressPoint(loc.number, loc.street.name, lat, lon, beat, area))
        return cls(points)

    @classmethod
    def from_csv(cls, path: Path | str) -> AddressPointIndex:
        """A CSV with columns ``address, lat, lon`` and optionally ``beat``, ``reporting_area``."""
        with Path(path).open(newline="", encoding="utf-8") as f:
            return cls.from_rows(_csv_rows(csv.DictReader(f)))

    @classmethod
    def seed(cls) -> AddressPointIndex:
        """The small table shipped with the package (the city's points from the sample incidents)."""
        text = resources.files("dallas_calls.geocoding").joinpath(SEED_TABLE).read_text("utf-8")
        return cls.from_rows(_csv_rows(csv.DictReader(text.splitlines())))

    def without(self, dropped: set[AddressPoint]) -> AddressPointIndex:
        """The same index less ``dropped`` (leave-one-address-out evaluation)."""
        return AddressPointIndex(p for pts in self._points.values() for p in pts if p not in dropped)

    def all_points(self) -> list[AddressPoint]:
        return [p for pts in self._points.values() for p in pts]

    # -- lookup -------------------------------------------------------------------------------

    def reporting_area_centre(self, area: str | None) -> tuple[float, float, int] | None:
        """(lat, lon, points): the mean of the area's known points, when it has at least
        ``MIN_AREA_POINTS``; None for an unknown or thinly known area."""
        key = area or ""
        if key not in self._area_centres:
            points = self._by_area.get(key, [])
            self._area_centres[key] = (
                (
                    round(statistics.fmean(p.lat for p in points), 6),
                    round(statistics.fmean(p.lon for p in points), 6),
                    len(points),
                )
                if len(points) >= MIN_AREA_POINTS
                else None
            )
        return self._area_centres[key]

    def street_names(self, street: Street, *, either_half: bool = False) -> list[tuple[str, bool]]:
        """Indexed names that can mean ``street``: (name, exact). The exact name when indexed;
        otherwise the names with the same core (spaces aside) and compatible directional and
        suffix; failing those, the indexed alternates of the name (see ``street_names``).
        ``either_half``: also the other directional half ("S MERRIFIELD RD" for "N MERRIFIELD RD"):
        the same line on the ground, numbered the other way from the baseline, so good for where
        the street runs (cross streets) but not for a number on it."""
        if street.name in self._points and not either_half:
            return [(street.name, True)]
        out = []
        for name in self._by_core.get(squashed(street.core), []):
            known = self._street_of_name[name]
            if name == street.name:
                out.append((name, True))
                continue
            if not either_half and street.predir and known.predir and known.predir != street.predir:
                continue
            if street.suffix and known.suffix and known.suffix != street.suffix:
                continue
            out.append((name, False))
        return out or [(name, False) for name in alternate_names(street.name) if name in self._points]

    def locate(
        self,
        loc: NormalizedLocation,
        near: tuple[float, float] | None = None,
        *,
        exclude_number: bool = False,
    ) -> list[Candidate]:
        """Candidates for a normalized location; ``near`` (e.g. the beat centroid) picks among a street's
        points when there is no number. ``exclude_number`` ignores points at exactly ``loc.number``
        (for leave-one-address-out evaluation)."""
        if loc.kind == "address" and loc.number is not None and loc.street is not None:
            found = self.locate_address(loc.number, loc.street, exclude_number=exclude_number)
            # A street whose known numbers are all far from the block says little about where the
            # block is: with a beat to fall back to, its centre is the better guess (measured).
            return found or ([] if near is not None else self.locate_street(loc.street, None))
        if loc.kind == "intersection" and len(loc.streets) == 2:
            return self.locate_intersection(loc.streets[0], loc.streets[1])
        if loc.kind == "street" and loc.street is not None:
            return self.locate_street(loc.street, near)
        return []

    def locate_address(self, number: int, street: Street, *, exclude_number: bool = False) -> list[Candidate]:
        out = []
        for name, exact in self.street_names(street):
            cand = self._locate_on(name, number, exclude_number)
            if cand is not None:
                penalty = 0.0 if exact else 0.15
                out.append(
                    Candidate(cand.lat, cand.lon, cand.precision, SOURCE, cand.score - penalty, cand.detail)
                )
        if not out:
            found = self._locate_across_baseline(number, street) or self._locate_on_number_line(
                number, street
            )
            if found is not None:
                out.append(found)
        return out

    def _locate_on_number_line(self, number: int, street: Street) -> Candidate | None:
        """The street's known point nearest in number, moved across the number lines to the block
        (see ``number_lines``)."""
        names = [name for name, _ in self.street_names(street)]
        points = [p for name in names for p in self._points[name]]
        if not points:
            return None
        target = number + 50 if number % 100 == 0 else number
        anchor = min(points, key=lambda p: abs(p.number - target))
        if self._number_lines is None:
            self._number_lines = NumberLines(self.all_points())
        placed = self._number_lines.place(target, anchor, set(names))
        if placed is None:
            return None
        return Candidate(placed.lat, placed.lon, "street", SOURCE, 0.45, placed.detail)

    def _locate_across_baseline(self, number: int, street: Street) -> Candidate | None:
        """A block of "N ERVAY ST" placed from the points of "S ERVAY ST": the two halves are one
        line, numbered away from the baseline both ways, so signed numbers make one model."""
        if street.predir not in OPPOSITE:
            return None
        sign = SIGN[street.predir]
        other = Street(
            name=" ".join(
                p for p in (OPPOSITE[street.predir], street.core, street.suffix, street.postdir) if p
            ),
            core=street.core,
            predir=OPPOSITE[street.predir],
            suffix=street.suffix,
            postdir=street.postdir,
        )
        rows: list[tuple[int, float, float]] = []
        for s, half in ((sign, street), (-sign, other)):
            if half.name in self._points:
                rows.extend((s * p.number, p.lat, p.lon) for p in self._points[half.name])
        if not any(n * sign < 0 for n, _, _ in rows):
            return None
        target = number + 50 if number % 100 == 0 else number
        placement = StreetModel.from_points(rows).place(sign * target)
        if placement is None:
            return None
        return Candidate(
            placement.lat,
            placement.lon,
            "street",
            SOURCE,
            0.5,
            f"{placement.detail} of {street.name} and {other.name} as one line (signed numbers)",
        )

    def _locate_on(self, name: str, number: int, exclude_number: bool) -> Candidate | None:
        points = self._points[name]
        numbers = self._numbers[name]
        block = number // 100 * 100
        lo_i = bisect.bisect_left(numbers, block)
        hi_i = bisect.bisect_left(numbers, block + 100)
        in_block = [p for p in points[lo_i:hi_i] if not (exclude_number and p.number == number)]
        if in_block:
            lat = statistics.median(p.lat for p in in_block)
            lon = statistics.median(p.lon for p in in_block)
            return Candidate(
                lat,
                lon,
                "address",
                SOURCE,
                1.0,
                f"median of {len(in_block)} point(s) in the {block} block of {name}",
            )
        # Nothing in the block: along the street's fitted model, else its nearest known number.
        target = number + 50 if number % 100 == 0 else number
        others = [p for p in points if not (exclude_number and p.number == number)]
        placement = self._model(name, others, exclude_number).place(target)
        if placement is not None:
            precision = (
                "address"
                if placement.kind == "interpolated" and placement.reach <= MAX_ADDRESS_REACH
                else "street"
            )
            score = 0.85 if placement.kind == "interpolated" else 0.7
            score -= 0.2 * min(1.0, placement.reach / 500)
            return Candidate(
                placement.lat, placement.lon, precision, SOURCE, score, f"{placement.detail} of {name}"
            )
        nearest = min(others, key=lambda p: abs(p.number - target), default=None)
        if nearest is not None and abs(nearest.number - target) <= MAX_ONE_SIDED_GAP:
            return Candidate(
                nearest.lat,
                nearest.lon,
                "street",
                SOURCE,
                0.6,
                f"nearest known number {nearest.number} {name}",
            )
        return None

    def _model(self, name: str, points: Sequence[AddressPoint], uncached: bool) -> StreetModel:
        if uncached:
            return StreetModel.from_points((p.number, p.lat, p.lon) for p in points)
        model = self._models.get(name)
        if model is None:
            model = self._models[name] = StreetModel.from_points((p.number, p.lat, p.lon) for p in points)
        return model

    def locate_street(self, street: Street, near: tuple[float, float] | None = None) -> list[Candidate]:
        """A point on the street: the known point nearest ``near``, or the street's median point."""
        out = []
        for name, exact in self.street_names(street):
            points = self._points[name]
            if near is not None:
                p = min(points, key=lambda p: distance_m(p.lat, p.lon, near[0], near[1]))
                lat, lon, detail = p.lat, p.lon, f"point of {name} nearest the beat"
            else:
                lat = statistics.median(p.lat for p in points)
                lon = statistics.median(p.lon for p in points)
                detail = f"median of {len(points)} point(s) of {name}"
            out.append(Candidate(lat, lon, "street", SOURCE, 0.5 if exact else 0.4, detail))
        return out

    def locate_intersection(self, a: Street, b: Street) -> list[Candidate]:
        """Where the two streets' fitted runs cross (see ``cross_streets``), and where known points
        of the two come within ``MAX_INTERSECTION_GAP_M`` (the midpoint of the closest pair)."""
        out = []
        for name_a, exact_a in self.street_names(a, either_half=True):
            for name_b, exact_b in self.street_names(b, either_half=True):
                penalty = 0 if exact_a and exact_b else 0.1
                model_a = self._model(name_a, self._points[name_a], False)
                model_b = self._model(name_b, self._points[name_b], False)
                for c in crossings(model_a, model_b):
                    score = 0.85 - 0.3 * c.reach_m / MAX_CROSS_REACH_M - penalty
                    detail = f"{name_a} and {name_b}: {c.detail}"
                    out.append(Candidate(c.lat, c.lon, "intersection", SOURCE, score, detail))
                pair = _closest_pair(self._points[name_a], self._points[name_b])
                if pair is None:
                    continue
                gap, pa, pb = pair
                if gap > MAX_INTERSECTION_GAP_M:
                    continue
                score = 0.9 - 0.4 * gap / MAX_INTERSECTION_GAP_M - penalty
                out.append(
                    Candidate(
                        (pa.lat + pb.lat) / 2,
                        (pa.lon + pb.lon) / 2,
                        "intersection",
                        SOURCE,
                        score,
                        f"{pa.number} {name_a} and {pb.number} {name_b} are {gap:.0f} m apart",
                    )
                )
        return out


def _csv_rows(rows: Iterable[dict[str, str]]) -> Iterable[Row]:
    for row in rows:
        yield (
            row["address"],
            float(row["lat"]),
            float(row["lon"]),
            row.get("beat") or None,
            normalize_reporting_area(row.get("reporting_area")),
        )


def _closest_pair(
    a: Sequence[AddressPoint], b: Sequence[AddressPoint]
) -> tuple[float, AddressPoint, AddressPoint] | None:
    if not a or not b:
        return None
    cell = 0.003  # degrees, ~300 m: a grid over b so each point of a looks at its neighbours only
    grid: dict[tuple[int, int], list[AddressPoint]] = {}
    for p in b:
        grid.setdefault((int(p.lat // cell), int(p.lon // cell)), []).append(p)
    best: tuple[float, AddressPoint, AddressPoint] | None = None
    for p in a:
        i, j = int(p.lat // cell), int(p.lon // cell)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                for q in grid.get((i + di, j + dj), ()):
                    d = distance_m(p.lat, p.lon, q.lat, q.lon)
                    if best is None or d < best[0]:
                        best = (d, p, q)
    return best
