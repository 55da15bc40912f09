"""Server-side filters of ``/get-events/``: divisions, priorities, and an area (a circle around a
point, or a box), so that a client watching "near me" receives only the events that concern it.

Area rules: a call event passes when the call's point lies in the area, and also when an update
moves it out (its old point was inside: the client must drop it); a ``location.resolved`` passes
when its point lies inside, so a call located into the area after it opened reaches the client
then (it counts as new there). A call with no point yet is outside every area.

A circle holds the points whose great-circle distance (``geodata.distance``) from its centre is at
most its radius. Cost: a box around the circle rejects most points before any trigonometry, and a
client stream does not test every event of a slice: ``AreaIndex`` (the slice's points sorted by
latitude, built once per slice and shared by the clients at that cursor) hands an area only the
events with a point in its box, so 10,000 area clients cost what their areas hold, not
10,000 x the slice.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from dallas_calls.geodata.distance import EARTH_RADIUS_M, distance_m
from dallas_calls.model import Event

MAX_RADIUS_M = 50_000.0
DEFAULT_RADIUS_M = 1_000.0


class KnownCalls(Protocol):
    def call_matches(self, incident_number: str, flt: StreamFilter) -> bool | None:
        """Whether a call known to the view passes the filter (None: not known)."""


def _point(geo: object) -> tuple[float, float] | None:
    if not isinstance(geo, dict):
        return None
    lat, lon = geo.get("lat"), geo.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float) and not isinstance(lat, bool):
        return float(lat), float(lon)
    return None


def _floats(text: str, count: int, name: str) -> list[float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} must be {count} comma-separated numbers, got {text!r}")
    return values


@dataclass(frozen=True, slots=True)
class Area:
    """A circle (``radius_m`` around ``lat, lon``) or a box (``south, west, north, east``)."""

    lat: float = 0.0
    lon: float = 0.0
    radius_m: float = 0.0
    box: tuple[float, float, float, float] | None = None
    # south, west, north, east: every point of the area lies inside (a circle's box errs outward)
    bounds: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bounds", self.box or _circle_box(self.lat, self.lon, self.radius_m))

    @classmethod
    def parse(cls, near: str | None, radius_m: str | None, bbox: str | None) -> Area | None:
        """From the query parameters; None when neither is given; ValueError with a message."""
        if near and bbox:
            raise ValueError("give near (with radius_m) or bbox, not both")
        if radius_m and not near:
            raise ValueError("radius_m needs near=lat,lon")
        if near:
            lat, lon = _floats(near, 2, "near")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"near must be lat,lon in degrees, got {near!r}")
            radius = _floats(radius_m, 1, "radius_m")[0] if radius_m else DEFAULT_RADIUS_M
            if not 0 < radius <= MAX_RADIUS_M:
                raise ValueError(f"radius_m must be in (0, {MAX_RADIUS_M:g}], got {radius:g}")
            return cls(lat, lon, radius)
        if bbox:
            south, west, north, east = _floats(bbox, 4, "bbox")
            if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
                raise ValueError("bbox must be south,west,north,east with south < north and west < east")
            return cls(box=(south, west, north, east))
        return None

    def contains(self, geo: object) -> bool:
        return self.contains_point(_point(geo))

    def contains_point(self, point: tuple[float, float] | None) -> bool:
        if point is None:
            return False
        lat, lon = point
        south, west, north, east = self.bounds
        if not (south <= lat <= north and west <= lon <= east):
            return False
        return self.box is not None or distance_m(self.lat, self.lon, lat, lon) <= self.radius_m


def _circle_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """The latitude/longitude box around a spherical cap, widened a little against rounding: the
    whole longitude range when the cap reaches a pole or crosses the antimeridian."""
    arc = radius_m / EARTH_RADIUS_M
    dlat = math.degrees(arc) * (1 + 1e-9) + 1e-9
    south, north = lat - dlat, lat + dlat
    ratio = math.sin(arc) / math.cos(math.radians(lat)) if abs(lat) < 90 else 2.0
    if south <= -90 or north >= 90 or ratio >= 1:
        return max(south, -90.0), -180.0, min(north, 90.0), 180.0
    dlon = math.degrees(math.asin(ratio)) * (1 + 1e-9) + 1e-9
    if lon - dlon < -180 or lon + dlon > 180:
        return south, -180.0, north, 180.0
    return south, lon - dlon, north, lon + dlon


class HasFacts(Protocol):
    """An event as a stream reads it (the ring's ``RingEvent``): its filter facts."""

    @property
    def facts(self) -> EventFacts: ...


Entry = TypeVar("Entry", bound=HasFacts)


def event_points(facts: EventFacts) -> list[tuple[float, float]]:
    """The points that can put an event in an area (``StreamFilter.matches``): a call's point and
    the point an update moved it from; any other event's own ``geo``. None: in no area."""
    return [p for p in (facts.point, facts.moved_from) if p is not None]


class AreaIndex(Generic[Entry]):
    """A slice of events by their points' latitude: built once per slice (the view caches it for
    the clients at the same cursor), it gives an area the events with a point in its box, in the
    slice's order: a superset of the events the area holds, usually a small one."""

    __slots__ = ("_entries", "_lats", "events")

    def __init__(self, events: Sequence[Entry]) -> None:
        self.events = events
        self._entries = sorted(
            (lat, lon, i) for i, e in enumerate(events) for lat, lon in event_points(e.facts)
        )
        self._lats = [entry[0] for entry in self._entries]

    def near(self, area: Area) -> list[Entry]:
        south, west, north, east = area.bounds
        lo = bisect.bisect_left(self._lats, south)
        hi = bisect.bisect_right(self._lats, north, lo)
        found = {i for _, lon, i in self._entries[lo:hi] if west <= lon <= east}
        return [self.events[i] for i in sorted(found)]


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Divisions (upper-cased), priorities (None for "unknown") and an area; all optional."""

    divisions: frozenset[str] | None = None
    priorities: frozenset[int | None] | None = None
    area: Area | None = None

    @property
    def empty(self) -> bool:
        return self.divisions is None and self.priorities is None and self.area is None

    @classmethod
    def parse(
        cls,
        division: str | None,
        priority: str | None,
        near: str | None = None,
        radius_m: str | None = None,
        bbox: str | None = None,
    ) -> StreamFilter:
        """From the query parameters; raises ValueError with a message on a bad value."""
        divisions = None
        if division:
            divisions = frozenset(d.strip().upper() for d in division.split(",") if d.strip()) or None
        priorities: frozenset[int | None] | None = None
        if priority:
            found: set[int | None] = set()
            for part in (p.strip().lower() for p in priority.split(",")):
                if not part:
                    continue
                if part in ("unknown", "none", "null"):
                    found.add(None)
                elif part.isascii() and part.isdigit() and 1 <= int(part) <= 9:
                    found.add(int(part))
                else:
                    raise ValueError(f"priority must be a number 1-9 or 'unknown', got {part!r}")
            priorities = frozenset(found) or None
        return cls(divisions, priorities, Area.parse(near, radius_m, bbox))

    def matches_call(self, division: object, priority: object) -> bool:
        """The division and priority parts of the filter (the area is judged per event)."""
        if self.divisions is not None and (
            not isinstance(division, str) or division.strip().upper() not in self.divisions
        ):
            return False
        if self.priorities is not None:
            value = priority if isinstance(priority, int) else None
            if value not in self.priorities:
                return False
        return True

    def select(
        self, events: Sequence[Entry], calls: KnownCalls, index: AreaIndex[Entry] | None = None
    ) -> list[Entry]:
        """The events that pass, in order; ``index`` (of these very events) spares an area filter
        the events with no point near it."""
        if self.empty:
            return list(events)
        if self.area is not None and index is not None:
            events = index.near(self.area)
        return [e for e in events if self.matches(e.facts, calls)]

    def matches(self, facts: EventFacts, calls: KnownCalls) -> bool:
        if self.empty:
            return True
        if facts.is_call:
            if not self.matches_call(facts.division, facts.priority):
                return False
            return (
                self.area is None
                or self.area.contains_point(facts.point)
                or self.area.contains_point(facts.moved_from)
            )
        if self.area is not None and not self.area.contains_point(facts.point):
            return False
        if facts.incident_numbers is not None:
            known = [calls.call_matches(n, self) for n in facts.incident_numbers]
            decided = [k for k in known if k is not None]
            # A location for calls this replica does not know passes: the client decides.
            return any(decided) if decided else True
        return True


@dataclass(frozen=True, slots=True)
class EventFacts:
    """The few fields of an event that the filters read, kept beside its framed bytes (the ring of
    recent events holds these, not the event's decoded data): for a call event, the call's division,
    priority and point, and the point an update moved it from; for a ``location.resolved``, its
    point and the incidents it names."""

    is_call: bool
    division: object = None
    priority: object = None
    point: tuple[float, float] | None = None
    moved_from: tuple[float, float] | None = None
    incident_numbers: tuple[str, ...] | None = None

    @classmethod
    def of(cls, event: Event) -> EventFacts:
        data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
        call = data.get("call")
        if isinstance(call, dict):
            changes = data.get("changes")
            moved = changes.get("geo") if isinstance(changes, dict) else None
            old = moved[0] if isinstance(moved, list | tuple) and moved else None
            return cls(True, call.get("division"), call.get("priority"), _point(call.get("geo")), _point(old))
        incidents = data.get("incident_numbers")
        numbers = tuple(str(n) for n in incidents) if isinstance(incidents, list) else None
        return cls(False, point=_point(data.get("geo")), incident_numbers=numbers)
