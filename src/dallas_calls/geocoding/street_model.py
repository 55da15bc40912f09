"""A street's known points fitted against house number, so a block can be placed along its street.

Dallas numbers its blocks by hundreds, and along a straight stretch of street the position of a
house is close to a linear function of its number. A street's known address points are grouped by
number into *knots* (median position per number, in metres on a local plane) and cut, in number
order, into *runs*: stretches where every knot lies within ``STRAIGHT_M`` of one straight line and
the numbers advance along it at a plausible rate (``MIN_/MAX_M_PER_NUMBER``). A bend, a jump in the
numbering or a bad geocode ends a run.

A number is then placed

- between two consecutive knots of one run: on the chord between them (``interpolated``), or between
  two knots of different runs when they are close in number and on the ground (also ``interpolated``:
  the street may bend in the gap, and the error grows with it);
- beyond the known numbers: along the nearest run's fitted line (``extrapolated``), at most
  ``MAX_REACH`` numbers and ``MAX_REACH_M`` metres beyond its last knot, and never farther than
  the run's own span (a line fitted over 60 numbers says little about the next 500);
- otherwise not at all: the caller falls back to the street's nearest known number, or the beat.

Pure: plain numbers in, plain numbers out; no I/O.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from dallas_calls.geodata.distance import M_PER_DEG_LAT, M_PER_DEG_LON

# Knots within this distance of a run's line are on it (city geocodes scatter ~30 m, more on
# wide roads; blocks that bend by less than this are straight for our purpose).
STRAIGHT_M = 70.0
# Metres per house number between two knots of a run (a 100-number block is 20 m to 800 m long),
# with ``NOISE_M`` of slack for the scatter of close knots.
MIN_M_PER_NUMBER = 0.2
MAX_M_PER_NUMBER = 8.0
NOISE_M = 60.0
# Numbers may run backwards this far along a run (scatter), never more.
BACKTRACK_M = 40.0
# Two knots of different runs (a bend between them) are joined by a chord only when this close.
MAX_CHORD_GAP = 800
MAX_CHORD_M = 1500.0
# How far beyond its last knot a run's line is followed.
MAX_REACH = 1000
MAX_REACH_M = 1500.0

PlacementKind = Literal["interpolated", "extrapolated"]


@dataclass(frozen=True, slots=True)
class Knot:
    """One known house number: the median of its points, in metres east/north of the origin."""

    number: int
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Run:
    """A straight stretch: ``position(n) = origin + velocity * n`` fitted over its knots."""

    knots: tuple[Knot, ...]
    origin: tuple[float, float]
    velocity: tuple[float, float]  # metres per house number, east and north

    @property
    def first(self) -> int:
        return self.knots[0].number

    @property
    def last(self) -> int:
        return self.knots[-1].number

    @property
    def span(self) -> int:
        return self.last - self.first

    def position(self, number: float) -> tuple[float, float]:
        return (self.origin[0] + self.velocity[0] * number, self.origin[1] + self.velocity[1] * number)


@dataclass(frozen=True, slots=True)
class Placement:
    lat: float
    lon: float
    kind: PlacementKind
    reach: int  # house numbers from the nearest knot used
    detail: str


class LocalPlane:
    """Degrees to metres around one origin (good to a fraction of a percent across Dallas)."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        return ((lon - self.lon0) * M_PER_DEG_LON, (lat - self.lat0) * M_PER_DEG_LAT)

    def to_lat_lon(self, x: float, y: float) -> tuple[float, float]:
        return (self.lat0 + y / M_PER_DEG_LAT, self.lon0 + x / M_PER_DEG_LON)


PLANE = LocalPlane(32.8, -96.8)


def knots_of(points: Iterable[tuple[int, float, float]]) -> list[Knot]:
    """(number, lat, lon) rows -> one knot per number (median position), in number order."""
    by_number: dict[int, list[tuple[float, float]]] = {}
    for number, lat, lon in points:
        by_number.setdefault(number, []).append(PLANE.to_xy(lat, lon))
    return [
        Knot(n, statistics.median(x for x, _ in xy), statistics.median(y for _, y in xy))
        for n, xy in sorted(by_number.items())
    ]


def _gap_m(a: Knot, b: Knot) -> float:
    return math.hypot(b.x - a.x, b.y - a.y)


def _plausible_step(a: Knot, b: Knot) -> bool:
    """Two consecutive knots can be on one stretch numbered at a plausible rate."""
    numbers = b.number - a.number
    ground = _gap_m(a, b)
    return MIN_M_PER_NUMBER * numbers - NOISE_M <= ground <= MAX_M_PER_NUMBER * numbers + NOISE_M


def fit_run(knots: Sequence[Knot]) -> Run | None:
    """The least-squares line of position against number, or None when the knots are not one
    straight, consistently numbered stretch."""
    if len(knots) < 2:
        return None
    numbers = [k.number for k in knots]
    mean_n = statistics.fmean(numbers)
    var_n = sum((n - mean_n) ** 2 for n in numbers)
    if var_n == 0:
        return None
    mean_x = statistics.fmean(k.x for k in knots)
    mean_y = statistics.fmean(k.y for k in knots)
    vx = sum((k.number - mean_n) * (k.x - mean_x) for k in knots) / var_n
    vy = sum((k.number - mean_n) * (k.y - mean_y) for k in knots) / var_n
    speed = math.hypot(vx, vy)
    if speed == 0:
        return None
    run = Run(tuple(knots), (mean_x - vx * mean_n, mean_y - vy * mean_n), (vx, vy))
    ux, uy = vx / speed, vy / speed
    along_prev = -math.inf
    for k in knots:
        px, py = run.position(k.number)
        off = abs((k.x - px) * uy - (k.y - py) * ux)  # distance from the line
        if off > STRAIGHT_M:
            return None
        along = (k.x - run.origin[0]) * ux + (k.y - run.origin[1]) * uy
        if along < along_prev - BACKTRACK_M:
            return None
        along_prev = max(along_prev, along)
    return run


def split_runs(knots: Sequence[Knot]) -> list[Run]:
    """Greedy, in number order: extend the current run while it stays one straight, plausibly
    numbered stretch; a knot that breaks it starts the next run (shared with the previous one)."""
    runs: list[Run] = []
    start = 0
    while start < len(knots) - 1:
        if not _plausible_step(knots[start], knots[start + 1]):
            start += 1
            continue
        best = fit_run(knots[start : start + 2])
        end = start + 2
        while end < len(knots) and _plausible_step(knots[end - 1], knots[end]):
            longer = fit_run(knots[start : end + 1])
            if longer is None:
                break
            best, end = longer, end + 1
        if best is not None:
            runs.append(best)
        start = end - 1
    return runs


class StreetModel:
    """One street's knots and runs; ``place(number)`` answers along the street or not at all."""

    def __init__(self, knots: Sequence[Knot]) -> None:
        self.knots = list(knots)
        self.runs = split_runs(self.knots)
        self._run_of_step = {
            (a.number, b.number): run
            for run in self.runs
            for a, b in zip(run.knots, run.knots[1:], strict=False)
        }

    @classmethod
    def from_points(cls, points: Iterable[tuple[int, float, float]]) -> StreetModel:
        return cls(knots_of(points))

    def place(self, number: float) -> Placement | None:
        knots = self.knots
        if len(knots) < 2:
            return None
        below = [k for k in knots if k.number <= number]
        above = [k for k in knots if k.number > number]
        if below and above:
            found = self._between(below[-1], above[0], number)
            if found is not None:
                return found
        return self._beyond(number)

    def _between(self, lo: Knot, hi: Knot, number: float) -> Placement | None:
        same_run = (lo.number, hi.number) in self._run_of_step
        gap = hi.number - lo.number
        if not same_run and (gap > MAX_CHORD_GAP or _gap_m(lo, hi) > MAX_CHORD_M):
            return None
        t = (number - lo.number) / gap
        lat, lon = PLANE.to_lat_lon(lo.x + t * (hi.x - lo.x), lo.y + t * (hi.y - lo.y))
        reach = int(min(number - lo.number, hi.number - number))
        where = "a straight run" if same_run else "a bend"
        return Placement(
            lat, lon, "interpolated", reach, f"interpolated between {lo.number} and {hi.number} on {where}"
        )

    def _beyond(self, number: float) -> Placement | None:
        best: tuple[float, Run, Knot] | None = None
        for run in self.runs:
            end = run.knots[0] if number < run.first else run.knots[-1] if number > run.last else None
            if end is None:
                continue
            reach = abs(number - end.number)
            if best is None or reach < best[0]:
                best = (reach, run, end)
        if best is None:
            return None
        reach, run, end = best
        if reach > min(MAX_REACH, max(run.span, 100)):
            return None
        x, y = run.position(number)
        # Follow the line from the end knot (not from the fit's own value there): the known point
        # is better than the line through it.
        ex, ey = run.position(end.number)
        x, y = end.x + (x - ex), end.y + (y - ey)
        if math.hypot(x - end.x, y - end.y) > MAX_REACH_M:
            return None
        lat, lon = PLANE.to_lat_lon(x, y)
        return Placement(
            lat,
            lon,
            "extrapolated",
            int(reach),
            f"{int(reach)} numbers beyond {end.number} along a run of {len(run.knots)} known numbers "
            f"({run.first}-{run.last})",
        )
