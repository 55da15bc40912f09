"""Snapshot diff: stored open calls + a new snapshot → ChangeSet. Pure; no I/O, no clock.

Only the calls that differ cost real work: new and changed calls are found by comparing each
snapshot call's fingerprint (made once per distinct incident, see ``tracking.snapshot``) with the
stored one, absent ones by one set difference of keys, and only those are loaded in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dallas_calls.model import TRACKED_FIELDS, Call, CallUpdate, ChangeSet, FieldDelta, Unit
from dallas_calls.tracking.snapshot import SnapshotCall
from dallas_calls.tracking.state import OpenCalls

# What a snapshot says about a call: the tracked fields plus the location key derived from them.
SNAPSHOT_FIELDS: tuple[str, ...] = (*TRACKED_FIELDS, "location_key")

# Consecutive snapshots a call must be missing from before it is closed. The feed sometimes drops a
# call for one poll and brings it back; closing it at once would show it vanish and reappear.
DEFAULT_CLOSE_AFTER_POLLS = 2


@dataclass(frozen=True, slots=True)
class SnapshotDiff:
    """What a snapshot changes: the ChangeSet, and the consecutive misses of every open call absent
    from it (those being closed included, so a guard that holds their close can keep the count)."""

    changes: ChangeSet
    misses: dict[str, int]


def _snapshot_value(snap: SnapshotCall, name: str) -> object:
    if name == "units":
        return [Unit(*unit).to_dict() for unit in snap.units]
    return getattr(snap, name)


def _snapshot_fields(snap: SnapshotCall) -> dict[str, Any]:
    """The fields a Call takes from the snapshot (its units as ``Unit`` named tuples)."""
    fields = {name: getattr(snap, name) for name in SNAPSHOT_FIELDS}
    fields["units"] = tuple(Unit(*unit) for unit in snap.units)
    return fields


def _new_call(snap: SnapshotCall, now: str) -> Call:
    return Call(incident_number=snap.incident_number, **_snapshot_fields(snap), first_seen=now, last_seen=now)


def field_changes(previous: Call, snap: SnapshotCall) -> dict[str, FieldDelta]:
    """Field-level deltas {field: (old, new)} over TRACKED_FIELDS; empty when nothing changed."""
    changes: dict[str, FieldDelta] = {}
    for name in TRACKED_FIELDS:
        old = previous.field_value(name)
        new = _snapshot_value(snap, name)
        if old != new:
            changes[name] = (old, new)
    return changes


def _continued(previous: Call, snap: SnapshotCall, now: str) -> CallUpdate:
    """The stored call carried forward to the snapshot's fields. A closed call that is back in the
    feed is reopened: same record and first_seen, ``closed_at`` cleared and shown as a delta."""
    changes = field_changes(previous, snap)
    if previous.closed_at is not None:
        changes["closed_at"] = (previous.closed_at, None)
    geo = previous.geo if snap.location_key == previous.location_key else None
    call = previous.with_changes(**_snapshot_fields(snap), last_seen=now, closed_at=None, geo=geo)
    return CallUpdate(call=call, changes=changes)


def diff_snapshot(
    stored: OpenCalls,
    snapshot: Mapping[str, SnapshotCall],
    now: str,
    close_after: int = DEFAULT_CLOSE_AFTER_POLLS,
) -> SnapshotDiff:
    """Calls opened (in the snapshot, never seen before), updated (open before and some tracked
    field differs, or closed before and back: reopened) and closed (open before and now missing
    from ``close_after`` consecutive snapshots). An identical snapshot yields an empty ChangeSet.

    ``now`` is the poll time (ISO 8601): first_seen of new calls, last_seen of updated ones and
    closed_at of closed ones. Output order is by incident number, so events are reproducible."""
    if close_after < 1:
        raise ValueError("close_after must be at least 1")
    previous = stored.fingerprints
    differing = {
        incident for incident, snap in snapshot.items() if previous.get(incident) != snap.fingerprint
    }
    misses = {incident: stored.misses.get(incident, 0) + 1 for incident in previous.keys() - snapshot.keys()}
    closing = {incident for incident, count in misses.items() if count >= close_after}
    calls = stored.load(differing | closing)
    opened: list[Call] = []
    updated: list[CallUpdate] = []
    for incident in sorted(differing):
        snap = snapshot[incident]
        known = calls.get(incident)
        if known is None:
            opened.append(_new_call(snap, now))
        else:
            updated.append(_continued(known, snap, now))
    closed = tuple(calls[incident].with_changes(closed_at=now) for incident in sorted(closing))
    return SnapshotDiff(ChangeSet(opened=tuple(opened), updated=tuple(updated), closed=closed), misses)
