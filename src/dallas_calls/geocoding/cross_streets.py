"""Where two streets cross, from their fitted models (see ``street_model``).

The feed gives cross-street calls no number, so the only local evidence is where each street is
known to run. A straight run of each street is a line; where the two lines cross, not too obliquely
and not far beyond the known points of either run, is where the streets meet. How far the crossing
lies beyond each run's known stretch (its *reach*) bounds the answer: streets bend, and a line
followed a kilometre past its last known point is a guess, not an intersection.

Pure geometry on the local plane; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dallas_calls.geocoding.street_model import PLANE, Knot, Run, StreetModel

# Lines meeting at less than this angle cross at a poorly defined place (and parallel streets
# with a kink "cross" anywhere).
MIN_ANGLE_DEG = 25.0
# A crossing this far (metres along the line) beyond a run's known stretch is still taken.
MAX_CROSS_REACH_M = 400.0
# A run shorter than this on the ground gives no reliable direction (its knots' scatter is ~30 m).
MIN_RUN_M = 120.0
# A point of the other street this close to a run's line is at the corner.
MAX_POINT_TO_LINE_M = 80.0


@dataclass(frozen=True, slots=True)
class Crossing:
    lat: float
    lon: float
    reach_m: float  # the larger of the two runs' reaches
    angle_deg: float
    detail: str


def _segment(run: Run) -> tuple[tuple[float, float], tuple[float, float]]:
    """The run's fitted line between its first and last known numbers, in metres."""
    return run.position(run.first), run.position(run.last)


def _reach(t: float, length: float) -> float:
    """Metres beyond the segment [0, length] of the point at ``t`` metres along it."""
    return max(0.0, -t, t - length)


def cross_runs(a: Run, b: Run) -> Crossing | None:
    """The crossing of two runs' lines, or None when they are near parallel or cross too far
    beyond either run's known stretch."""
    (ax, ay), (ax2, ay2) = _segment(a)
    (bx, by), (bx2, by2) = _segment(b)
    dax, day = ax2 - ax, ay2 - ay
    dbx, dby = bx2 - bx, by2 - by
    la, lb = math.hypot(dax, day), math.hypot(dbx, dby)
    if la < MIN_RUN_M or lb < MIN_RUN_M:
        return None
    uax, uay, ubx, uby = dax / la, day / la, dbx / lb, dby / lb
    sin = uax * uby - uay * ubx
    angle = math.degrees(math.asin(min(1.0, abs(sin))))
    if angle < MIN_ANGLE_DEG:
        return None
    # a + ta * ua = b + tb * ub
    wx, wy = bx - ax, by - ay
    ta = (wx * uby - wy * ubx) / sin
    tb = (wx * uay - wy * uax) / sin
    reach = max(_reach(ta, la), _reach(tb, lb))
    if reach > MAX_CROSS_REACH_M:
        return None
    lat, lon = PLANE.to_lat_lon(ax + ta * uax, ay + ta * uay)
    return Crossing(
        lat,
        lon,
        reach,
        angle,
        f"runs {a.first}-{a.last} and {b.first}-{b.last} cross at {angle:.0f} degrees, "
        f"{reach:.0f} m beyond the known points",
    )


def meet_run(run: Run, knot: Knot) -> Crossing | None:
    """A street known only by isolated points meets ``run`` where one of its points lies within
    ``MAX_POINT_TO_LINE_M`` of the run's line (within the run's stretch or its reach): at the
    foot of the perpendicular. A house that close to the other street is at its corner."""
    (ax, ay), (ax2, ay2) = _segment(run)
    length = math.hypot(ax2 - ax, ay2 - ay)
    if length < MIN_RUN_M:
        return None
    ux, uy = (ax2 - ax) / length, (ay2 - ay) / length
    t = (knot.x - ax) * ux + (knot.y - ay) * uy
    off = abs((knot.x - ax) * uy - (knot.y - ay) * ux)
    reach = _reach(t, length)
    if off > MAX_POINT_TO_LINE_M or reach > MAX_CROSS_REACH_M:
        return None
    lat, lon = PLANE.to_lat_lon(ax + t * ux, ay + t * uy)
    return Crossing(
        lat,
        lon,
        max(reach, off),
        90.0,
        f"{knot.number} lies {off:.0f} m from run {run.first}-{run.last}, {reach:.0f} m beyond its known points",
    )


def crossings(a: StreetModel, b: StreetModel) -> list[Crossing]:
    """Every place a run of ``a`` crosses a run of ``b``; failing any, where a point of a street
    without runs lies next to the other's run. Nearest the known points first."""
    found = [c for ra in a.runs for rb in b.runs if (c := cross_runs(ra, rb)) is not None]
    if not found:
        for model, other in ((a, b), (b, a)):
            if other.runs:
                continue
            found += [c for run in model.runs for k in other.knots if (c := meet_run(run, k)) is not None]
    return sorted(found, key=lambda c: c.reach_m)
