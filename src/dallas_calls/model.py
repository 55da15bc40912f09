"""The domain model: plain data shared by every stage.

Nothing here does I/O. Calls and events travel between stages (and over the wire) as these
dataclasses or as the dicts produced by their ``to_dict`` methods; the dict form is the API contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

EventType = Literal["call.opened", "call.updated", "call.closed", "location.resolved"]
EVENT_TYPES: tuple[str, ...] = ("call.opened", "call.updated", "call.closed", "location.resolved")

# The largest event id: 2**53 - 1, the largest integer a browser's JSON numbers hold exactly. A
# larger id would be rounded by the dashboard and every reconnect would resume from a wrong id.
MAX_EVENT_ID = 2**53 - 1


def ascii_int(text: str) -> int | None:
    """The value of ``text`` if it is ASCII digits only, else None. ``str.isdigit()`` alone is not
    enough: it accepts digits such as "²" or "٣" that ``int()`` then refuses (or reads differently)."""
    return int(text) if text.isascii() and text.isdigit() else None


def iso_utc(at: datetime) -> str:
    """``at`` as the model's timestamps are written (UTC, whole seconds, ``Z``): one form, so
    timestamps compare as text in the stores' range queries and in the tracker's diffs."""
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# Best first. "reporting_area" and "beat" are the chooser's fallbacks (a centre, not a match).
Precision = Literal["address", "intersection", "street", "reporting_area", "beat", "none"]
PRECISIONS: tuple[str, ...] = ("address", "intersection", "street", "reporting_area", "beat", "none")

# The longest incident number a call may have: the feed schema quarantines longer ones and the API
# answers 404 for them without a lookup.
INCIDENT_NUMBER_MAX_LENGTH = 64

# Fields of a Call that the tracker compares between snapshots. A change to any of them is an update.
TRACKED_FIELDS: tuple[str, ...] = (
    "division",
    "nature_of_call",
    "priority",
    "received_at",
    "block",
    "location",
    "beat",
    "reporting_area",
    "status",
    "units",
)


@dataclass(frozen=True, slots=True)
class Row:
    """One validated record of the feed: one unit assigned to one incident."""

    incident_number: str
    unit_number: str | None
    division: str | None
    nature_of_call: str | None
    priority: int | None
    received_at: str | None  # aware ISO 8601, America/Chicago
    block: str | None
    location: str
    beat: str | None
    reporting_area: str | None
    status: str | None


@dataclass(frozen=True, slots=True)
class QuarantinedRow:
    """A feed record that failed validation, kept with the reason so nothing is lost."""

    raw: dict[str, Any]
    reason: str


class Unit(NamedTuple):
    """One unit on a call. A named tuple: the tracker hashes and compares every call's units on
    every poll, and tuples do that in C."""

    unit_number: str
    status: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"unit_number": self.unit_number, "status": self.status}


@dataclass(frozen=True, slots=True)
class Geo:
    """Where a call is drawn, and how sure we are of it."""

    lat: float | None
    lon: float | None
    precision: str  # one of PRECISIONS
    source: str
    in_beat: bool | None
    candidates_considered: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lon": self.lon,
            "precision": self.precision,
            "source": self.source,
            "in_beat": self.in_beat,
            "candidates_considered": self.candidates_considered,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Geo:
        return cls(
            lat=data.get("lat"),
            lon=data.get("lon"),
            precision=str(data.get("precision", "none")),
            source=str(data.get("source", "")),
            in_beat=data.get("in_beat"),
            candidates_considered=int(data.get("candidates_considered", 0)),
        )


@dataclass(frozen=True, slots=True)
class Call:
    """One incident: what a marker on the map shows. Units are sorted by unit number."""

    incident_number: str
    division: str | None
    nature_of_call: str | None
    priority: int | None
    received_at: str | None
    block: str | None
    location: str
    beat: str | None
    reporting_area: str | None
    status: str | None
    units: tuple[Unit, ...]
    location_key: str
    first_seen: str
    last_seen: str
    closed_at: str | None = None
    geo: Geo | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident_number": self.incident_number,
            "division": self.division,
            "nature_of_call": self.nature_of_call,
            "priority": self.priority,
            "received_at": self.received_at,
            "block": self.block,
            "location": self.location,
            "beat": self.beat,
            "reporting_area": self.reporting_area,
            "status": self.status,
            "units": [u.to_dict() for u in self.units],
            "location_key": self.location_key,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "closed_at": self.closed_at,
            "geo": self.geo.to_dict() if self.geo else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Call:
        geo = data.get("geo")
        return cls(
            incident_number=data["incident_number"],
            division=data.get("division"),
            nature_of_call=data.get("nature_of_call"),
            priority=data.get("priority"),
            received_at=data.get("received_at"),
            block=data.get("block"),
            location=data["location"],
            beat=data.get("beat"),
            reporting_area=data.get("reporting_area"),
            status=data.get("status"),
            units=tuple(Unit(u["unit_number"], u.get("status")) for u in data.get("units", [])),
            location_key=data["location_key"],
            first_seen=data["first_seen"],
            last_seen=data["last_seen"],
            closed_at=data.get("closed_at"),
            geo=Geo.from_dict(geo) if geo else None,
        )

    def field_value(self, name: str) -> Any:
        """The JSON-comparable value of a tracked field (units as a list of dicts)."""
        if name == "units":
            return [u.to_dict() for u in self.units]
        return getattr(self, name)

    def with_changes(self, **changes: Any) -> Call:
        return replace(self, **changes)


# The narrow facts of a call that /analytics aggregates: (first_seen, closed_at, division,
# priority, nature_of_call, beat). A plain tuple, not a Call: a month of history is ~60,000 of them,
# read straight from a store's index (SQLite rows are tuples already).
CallFacts = tuple[str, str | None, str | None, int | None, str | None, str | None]
FACT_COLUMNS = "first_seen, closed_at, division, priority, nature_of_call, beat"


def call_facts(call: Call) -> CallFacts:
    """A call's facts, in ``FACT_COLUMNS`` order (what a store writes beside the full call)."""
    return (call.first_seen, call.closed_at, call.division, call.priority, call.nature_of_call, call.beat)


FieldDelta = tuple[Any, Any]


@dataclass(frozen=True, slots=True)
class CallUpdate:
    """A call carried forward with its field-level deltas. A call closed earlier and back in the
    feed is *reopened*: the same record, with ``closed_at`` among the deltas (old value → None)."""

    call: Call
    changes: dict[str, FieldDelta]

    @property
    def reopened(self) -> bool:
        return "closed_at" in self.changes


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What one snapshot changed, at the incident level."""

    opened: tuple[Call, ...] = ()
    updated: tuple[CallUpdate, ...] = ()
    closed: tuple[Call, ...] = ()

    def is_empty(self) -> bool:
        return not (self.opened or self.updated or self.closed)

    def counts(self) -> dict[str, int]:
        return {"opened": len(self.opened), "updated": len(self.updated), "closed": len(self.closed)}


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event before the store has given it an id."""

    type: str
    at: str
    data: dict[str, Any]
    incident_number: str | None = None
    location_key: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """An event as stored and streamed: ids strictly increase per store."""

    id: int
    type: str
    at: str
    data: dict[str, Any]
    incident_number: str | None = None
    location_key: str | None = None
    # Its wire form (``events.encode.event_json``) when the store already made it while writing the
    # event: a poll of 25,000 events then encodes each call once, not once per use.
    wire: str | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "at": self.at, "data": self.data}


PollOutcome = Literal["ok", "failed", "held"]


@dataclass(frozen=True, slots=True)
class PollRecord:
    """The outcome of one poll, as kept in the poll log."""

    started_at: str
    outcome: str  # ok | failed | held
    rows: int = 0
    quarantined: int = 0
    duration_ms: float = 0.0
    reason: str | None = None
    source: str = ""
    snapshot_key: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
