"""Group validated feed rows into calls: the feed has one row per unit, a marker one per incident."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from dallas_calls.geocoding.keys import location_key
from dallas_calls.model import Row, Unit

# How far along a unit is; the call shows its most advanced unit's status. Unknown statuses rank
# below the known ones, so a new status word in the feed never hides a known one.
STATUS_RANK: dict[str, int] = {
    "at scene": 5,
    "en route": 4,
    "dispatched": 3,
    "assigned": 2,
    "pending": 1,
}


@dataclass(frozen=True, slots=True)
class SnapshotCall:
    """The incident-level view of a snapshot's rows, before it is merged with stored state."""

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


def _status_rank(status: str | None) -> tuple[int, str]:
    if status is None:
        return (-1, "")
    return (STATUS_RANK.get(status.lower(), 0), status)


def call_status(units: Iterable[Unit], fallback: str | None) -> str | None:
    """The status of the most advanced unit (ties broken by name, so the result is stable)."""
    best: str | None = None
    for unit in units:
        if best is None or _status_rank(unit.status) > _status_rank(best):
            best = unit.status
    return best if best is not None else fallback


def group_rows(rows: Iterable[Row]) -> dict[str, SnapshotCall]:
    """One SnapshotCall per incident number. Incident fields come from the lowest unit's row, so the
    result does not depend on the feed's row order; duplicate (incident, unit) rows collapse."""
    by_incident: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_incident[row.incident_number].append(row)
    calls: dict[str, SnapshotCall] = {}
    for incident, group in by_incident.items():
        group.sort(key=lambda r: (r.unit_number or "", r.status or ""))
        first = group[0]
        units_by_number: dict[str, Unit] = {}
        for row in group:
            if row.unit_number and row.unit_number not in units_by_number:
                units_by_number[row.unit_number] = Unit(row.unit_number, row.status)
        units = tuple(units_by_number[n] for n in sorted(units_by_number))
        calls[incident] = SnapshotCall(
            incident_number=incident,
            division=first.division,
            nature_of_call=first.nature_of_call,
            priority=first.priority,
            received_at=first.received_at,
            block=first.block,
            location=first.location,
            beat=first.beat,
            reporting_area=first.reporting_area,
            status=call_status(units, first.status),
            units=units,
            location_key=location_key(first.block, first.location),
        )
    return calls
