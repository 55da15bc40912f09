"""Snapshot diff: previous open calls + a new snapshot → ChangeSet. Pure; no I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dallas_calls.model import TRACKED_FIELDS, Call, CallUpdate, ChangeSet, FieldDelta
from dallas_calls.tracking.snapshot import SnapshotCall

# What a snapshot says about a call: the tracked fields plus the location key derived from them.
SNAPSHOT_FIELDS: tuple[str, ...] = (*TRACKED_FIELDS, "location_key")


def _snapshot_value(snap: SnapshotCall, name: str) -> object:
    if name == "units":
        return [u.to_dict() for u in snap.units]
    return getattr(snap, name)


def _snapshot_fields(snap: SnapshotCall) -> dict[str, Any]:
    return {name: getattr(snap, name) for name in SNAPSHOT_FIELDS}


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


def diff_snapshot(previous: Mapping[str, Call], snapshot: Mapping[str, SnapshotCall], now: str) -> ChangeSet:
    """Calls opened (in the snapshot, not open before), updated (open before, some tracked field
    differs) and closed (open before, absent now). An identical snapshot yields an empty ChangeSet.

    ``now`` is the poll time (ISO 8601): first_seen of new calls, last_seen of updated ones and
    closed_at of closed ones. Output order is by incident number, so events are reproducible."""
    opened: list[Call] = []
    updated: list[CallUpdate] = []
    for incident in sorted(snapshot):
        snap = snapshot[incident]
        prev = previous.get(incident)
        if prev is None:
            opened.append(_new_call(snap, now))
            continue
        changes = field_changes(prev, snap)
        if not changes:
            continue
        geo = prev.geo if snap.location_key == prev.location_key else None
        call = prev.with_changes(**_snapshot_fields(snap), last_seen=now, geo=geo)
        updated.append(CallUpdate(call=call, changes=changes))
    closed = [
        previous[incident].with_changes(closed_at=now)
        for incident in sorted(previous)
        if incident not in snapshot
    ]
    return ChangeSet(opened=tuple(opened), updated=tuple(updated), closed=tuple(closed))
