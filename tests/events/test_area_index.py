"""The area filter's measure (great-circle distance) and its index: what an area client gets through
``AreaIndex`` is exactly what testing every event would give it, and what an independent haversine
says lies in its circle."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from dallas_calls.events.filters import Area, AreaIndex, StreamFilter
from dallas_calls.events.ring import RingEvent
from dallas_calls.model import Event

DALLAS = (32.7767, -96.7970)


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))


def _destination(lat: float, lon: float, bearing_deg: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` away from ``lat, lon`` along ``bearing_deg`` on the sphere."""
    p1, l1, b, d = math.radians(lat), math.radians(lon), math.radians(bearing_deg), metres / 6_371_008.8
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


def _geo(point: tuple[float, float] | None) -> dict[str, Any] | None:
    return None if point is None else {"lat": point[0], "lon": point[1], "precision": "address"}


class NoCalls:
    def call_matches(self, incident_number: str, flt: StreamFilter) -> bool | None:
        return None


def _events(rnd: random.Random, count: int) -> tuple[list[RingEvent], list[list[tuple[float, float]]]]:
    """Calls at a point, calls moved (old and new point), locations, calls with no point yet, and an
    event of another kind (as the ring keeps them); with the points that concern an area, per event."""
    events: list[Event] = []
    points = []
    for i in range(count):

        def here() -> tuple[float, float]:
            return DALLAS[0] + rnd.uniform(-0.2, 0.2), DALLAS[1] + rnd.uniform(-0.2, 0.2)

        call: dict[str, Any] = {"incident_number": f"N-{i}", "division": "CENTRAL", "priority": 2}
        kind = i % 5
        if kind in (0, 1):
            p = here()
            data: dict[str, Any] = {"call": {**call, "geo": _geo(p)}, "changes": {}}
            pts = [p]
        elif kind == 2:
            old, new = here(), here()
            data = {"call": {**call, "geo": _geo(new)}, "changes": {"geo": [_geo(old), _geo(new)]}}
            pts = [old, new]
        elif kind == 3:
            p = here()
            data = {"location_key": f"K{i}", "geo": _geo(p), "incident_numbers": [f"N-{i}"]}
            pts = [p]
        else:
            data = {"call": {**call, "geo": None}, "changes": {}} if i % 2 else {"poll": {"ok": True}}
            pts = []
        kind_name = "location.resolved" if kind == 3 else "call.updated"
        events.append(Event(i + 1, kind_name if "poll" not in data else "poll.finished", "t", data))
        points.append(pts)
    return [RingEvent.of(e) for e in events], points


def test_an_indexed_area_gets_exactly_the_events_with_a_point_inside() -> None:
    rnd = random.Random(12)
    events, points = _events(rnd, 400)
    index = AreaIndex(events)
    checked = 0
    for _ in range(300):
        centre = (DALLAS[0] + rnd.uniform(-0.2, 0.2), DALLAS[1] + rnd.uniform(-0.2, 0.2))
        radius = rnd.uniform(200, 8000)
        flt = StreamFilter.parse(None, None, near=f"{centre[0]},{centre[1]}", radius_m=str(radius))
        distances = [[_haversine_m(*centre, *p) for p in pts] for pts in points]
        if any(abs(d - radius) < 0.01 for ds in distances for d in ds):
            continue  # a point on the edge: either answer is right
        want = [e.id for e, ds in zip(events, distances, strict=True) if any(d <= radius for d in ds)]
        got = [e.id for e in flt.select(events, NoCalls(), index)]
        assert got == want == [e.id for e in flt.select(events, NoCalls())]
        checked += 1
    assert checked > 250


def test_a_box_through_the_index_is_the_box() -> None:
    rnd = random.Random(3)
    events, points = _events(rnd, 200)
    flt = StreamFilter.parse(None, None, bbox="32.70,-96.85,32.80,-96.70")
    want = [
        e.id
        for e, pts in zip(events, points, strict=True)
        if any(32.70 <= lat <= 32.80 and -96.85 <= lon <= -96.70 for lat, lon in pts)
    ]
    assert [e.id for e in flt.select(events, NoCalls(), AreaIndex(events))] == want and want


@pytest.mark.parametrize(
    "centre", [DALLAS, (0.0, 0.0), (-33.9, 151.2), (64.1, -21.9), (0.0, 179.999), (89.99, 10.0)]
)
def test_a_circle_holds_what_lies_within_its_radius_on_the_ground(centre: tuple[float, float]) -> None:
    """In every direction: 0.1% inside the radius is in, 0.1% beyond is out (a flat-earth measure
    with one metres-per-degree figure for the world is off by more than that at Dallas)."""
    radius = 5000.0
    area = Area(centre[0], centre[1], radius)
    for bearing in range(0, 360, 15):
        assert area.contains(_geo(_destination(*centre, bearing, radius * 0.999))), bearing
        assert not area.contains(_geo(_destination(*centre, bearing, radius * 1.001))), bearing
    south, west, north, east = area.bounds
    assert south < centre[0] < north and west <= centre[1] <= east
