"""The area part of ``bench/sse_fanout.py --areas``: a random circle per client, a burst spread over
Dallas, and the ids each circle must receive, computed here independently of the server's filter.

Circles: centre uniform inside the city limits (the polygon shipped in ``dallas_calls.geodata``),
radius uniform in 0.5-5 km. The burst mixes what the filter treats differently (its module
docstring): calls at a point; updates that move a call (``changes.geo`` = [old, new]: a client
receives one when either point is inside, so it can drop a call that left); ``location.resolved``
events (received when their point is inside); calls with no point yet (inside no area).

Expected ids use this module's own haversine (mean Earth radius). A point within ``EDGE_M`` of a
circle's edge is "on the edge": it may be received or not (two float formulas may round apart).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

EARTH_M = 6_371_008.8
EDGE_M = 0.001
RADIUS_M = (500.0, 5000.0)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def city_sampler(seed: int) -> Callable[[], tuple[float, float]]:
    """Uniform random points inside the city limits (rejection sampling in the polygon's box)."""
    from shapely.geometry import Point, shape
    from shapely.ops import unary_union
    from shapely.prepared import prep

    text = resources.files("dallas_calls.geodata").joinpath("data/city.geojson").read_text()
    city = unary_union([shape(f["geometry"]) for f in json.loads(text)["features"]])
    inside = prep(city)
    west, south, east, north = city.bounds
    rnd = random.Random(seed)

    def sample() -> tuple[float, float]:
        while True:
            lon, lat = rnd.uniform(west, east), rnd.uniform(south, north)
            if inside.contains(Point(lon, lat)):
                return round(lat, 6), round(lon, 6)

    return sample


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float
    lon: float
    radius_m: float

    def query(self) -> str:
        return f"near={self.lat},{self.lon}&radius_m={self.radius_m}"

    def where(self, point: tuple[float, float] | None) -> int:
        """1 inside, 0 outside, -1 on the edge (either answer is right)."""
        if point is None:
            return 0
        d = haversine_m(self.lat, self.lon, *point)
        if abs(d - self.radius_m) <= EDGE_M:
            return -1
        return 1 if d < self.radius_m else 0


def circles(n: int, seed: int = 12) -> list[Circle]:
    sample = city_sampler(seed)
    rnd = random.Random(seed + 1)
    out = []
    for _ in range(n):
        lat, lon = sample()
        out.append(Circle(lat, lon, round(rnd.uniform(*RADIUS_M), 1)))
    return out


def _geo(point: tuple[float, float]) -> dict[str, Any]:
    return {"lat": point[0], "lon": point[1], "precision": "address", "source": "local", "in_beat": True}


def burst_events(
    burst: int, start_id: int, call_dict: Callable[[int], dict[str, Any]], seed: int = 99
) -> tuple[list[dict[str, Any]], list[list[tuple[float, float]]]]:
    """The burst's events and, per event, the points that make it concern an area (none: no area).
    Of every 20 events: 15 calls updated at a point, 3 moved (old and new point), 1 location
    resolved, 1 call with no point yet."""
    sample = city_sampler(seed)
    events, points = [], []
    for i in range(burst):
        call = call_dict(i)
        kind = i % 20
        event_id = start_id + i
        if kind < 15:
            here = sample()
            call["geo"] = _geo(here)
            data: dict[str, Any] = {"call": call, "changes": {"status": ["En Route", "At Scene"]}}
            pts = [here]
        elif kind < 18:
            old, new = sample(), sample()
            call["geo"] = _geo(new)
            data = {"call": call, "changes": {"geo": [_geo(old), _geo(new)]}}
            pts = [new, old]
        elif kind == 18:
            here = sample()
            data = {
                "location_key": call["location_key"],
                "geo": _geo(here),
                "incident_numbers": [call["incident_number"]],
            }
            pts = [here]
        else:
            call["geo"] = None
            data = {"call": call, "changes": {"status": ["En Route", "At Scene"]}}
            pts = []
        kind_name = "location.resolved" if kind == 18 else "call.updated"
        events.append({"id": event_id, "type": kind_name, "at": "2019-06-18T05:21:00Z", "data": data})
        points.append(pts)
    return events, points


@dataclass(slots=True)
class Expected:
    """What one circle must receive: ``ids`` surely, ``maybe`` (edge points) either way."""

    ids: list[int]
    maybe: frozenset[int]

    def accepts(self, got: list[int]) -> bool:
        return [i for i in got if i not in self.maybe] == self.ids and set(got) <= set(self.ids) | self.maybe


def expected_ids(circle: Circle, ids: list[int], points: list[list[tuple[float, float]]]) -> Expected:
    """The ids whose event has a point inside the circle (any of its points), in order."""
    sure, maybe = [], set()
    dlat = math.degrees(circle.radius_m / EARTH_M) * 1.01 + 1e-6  # a cheap reject before haversine
    for event_id, pts in zip(ids, points, strict=True):
        where = [circle.where(p) for p in pts if abs(p[0] - circle.lat) <= dlat]
        if 1 in where:
            sure.append(event_id)
        elif -1 in where:
            maybe.add(event_id)
    return Expected(sure, frozenset(maybe))
