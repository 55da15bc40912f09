"""Group validated feed rows into calls: the feed has one row per unit, a marker one per incident."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dallas_calls.geocoding.keys import location_key
from dallas_calls.model import Row
from dallas_calls.tracking.state import Fingerprint, fingerprint

# How far along a unit is; the call shows its most advanced unit's status. Unknown statuses rank
# below the known ones, so a new status word in the feed never hides a known one.
STATUS_RANK: dict[str, int] = {
    "at scene": 5,
    "en route": 4,
    "dispatched": 3,
    "assigned": 2,
    "pending": 1,
}


# A unit of a snapshot's call as a plain (unit_number, status) tuple, not a ``Unit``: it compares
# and hashes the same, but the garbage collector stops tracking a plain tuple of text (and a tuple
# of those), where a named tuple stays tracked for good. The tracker keeps the previous snapshot's
# calls between polls (see _memo): 25,000 of them made 75,000 tracked objects here, each walked by
# every full collection while the API waited for the GIL.
UnitPair = tuple[str, str | None]


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
    units: tuple[UnitPair, ...]
    location_key: str
    # Its tracked fields as one tuple, made once: an unchanged incident keeps this very object from
    # poll to poll (see _memo), so comparing it with the stored one is nearly free.
    fingerprint: Fingerprint = field(init=False, compare=False, repr=False)
    # The rows it was grouped from, kept alive while it is in _memo (whose key is their ids).
    rows: tuple[Row, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", fingerprint(self))


def _status_rank(status: str | None) -> tuple[int, str]:
    if status is None:
        return (-1, "")
    return (STATUS_RANK.get(status.lower(), 0), status)


def call_status(units: Iterable[UnitPair], fallback: str | None) -> str | None:
    """The status of the most advanced unit (ties broken by name, so the result is stable)."""
    best: str | None = None
    for _, status in units:
        if best is None or _status_rank(status) > _status_rank(best):
            best = status
    return best if best is not None else fallback


# The previous snapshot's calls, by the identities of the Row objects they were grouped from. The
# row parser hands back the very same Row object for an unchanged row, so an unchanged incident is
# found here without being regrouped. Each call keeps its rows alive (``SnapshotCall.rows``), so no
# id in a key can be reused by another object while the entry exists. Replaced by every group_rows
# call. The keys are tuples of ints, untracked by the garbage collector: a hit makes no new
# long-lived object for it to walk.
_memo: dict[tuple[int, ...], SnapshotCall] = {}


def _row_order(row: Row) -> tuple[str, str]:
    return (row.unit_number or "", row.status or "")


def _snapshot_call(incident: str, group: list[Row]) -> SnapshotCall:
    rows = tuple(group)
    group = sorted(group, key=_row_order)
    first = group[0]
    units: list[UnitPair] = []
    seen: set[str] = set()
    for row in group:  # sorted by unit number: the first row of each unit is kept
        if row.unit_number and row.unit_number not in seen:
            seen.add(row.unit_number)
            units.append((row.unit_number, row.status))
    return SnapshotCall(
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
        units=tuple(units),
        location_key=location_key(first.block, first.location),
        rows=rows,
    )


def group_rows(rows: Iterable[Row]) -> dict[str, SnapshotCall]:
    """One SnapshotCall per incident number. Incident fields come from the lowest unit's row, so the
    result does not depend on the feed's row order; duplicate (incident, unit) rows collapse."""
    global _memo
    by_incident: dict[str, list[Row]] = {}
    for row in rows:
        group = by_incident.get(row.incident_number)
        if group is None:
            by_incident[row.incident_number] = [row]
        else:
            group.append(row)
    memo: dict[tuple[int, ...], SnapshotCall] = {}
    calls: dict[str, SnapshotCall] = {}
    for incident, group in by_incident.items():
        key = tuple(map(id, group))
        found = _memo.get(key)
        if found is None:
            found = _snapshot_call(incident, group)
        memo[key] = found
        calls[incident] = found
    _memo = memo
    return calls
