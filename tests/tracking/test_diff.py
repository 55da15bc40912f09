"""The tracker on real snapshots: opened / updated / closed must be exactly right."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from dallas_calls.feed.schema import parse_rows
from dallas_calls.model import Call, ChangeSet
from dallas_calls.tracking.diff import diff_snapshot
from dallas_calls.tracking.snapshot import SnapshotCall, group_rows
from dallas_calls.tracking.state import CallsInMemory
from tests.fakes.data import load_feed_snapshot

T0 = "2019-06-18T05:17:00Z"
T1 = "2019-06-18T06:09:00Z"


def diff(previous: Mapping[str, Call], snap: Mapping[str, SnapshotCall], at: str) -> ChangeSet:
    """The diff against open calls in memory, closing a call at its first absence."""
    return diff_snapshot(CallsInMemory(previous), snap, at, close_after=1).changes


def open_calls(rows: list[dict[str, Any]], at: str = T0) -> dict[str, Call]:
    parsed, _ = parse_rows(rows)
    return {c.incident_number: c for c in diff({}, group_rows(parsed), at).opened}


def snapshot(rows: list[dict[str, Any]]) -> dict[str, SnapshotCall]:
    parsed, quarantined = parse_rows(rows)
    assert not quarantined
    return group_rows(parsed)


def units_by_incident(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        found[row["incident_number"]].add(row["unit_number"])
    return found


def test_first_snapshot_opens_each_incident_once_with_its_units(first_snapshot: list[dict[str, Any]]) -> None:
    changes = diff({}, snapshot(first_snapshot), T0)
    expected = units_by_incident(first_snapshot)
    assert {c.incident_number for c in changes.opened} == set(expected)
    assert len(changes.opened) == len(expected) == 38  # 59 unit rows, 38 incidents
    for call in changes.opened:
        assert {u.unit_number for u in call.units} == expected[call.incident_number]
        assert call.first_seen == T0
    assert not changes.updated and not changes.closed


def test_identical_snapshot_yields_no_changes(first_snapshot: list[dict[str, Any]]) -> None:
    previous = open_calls(first_snapshot)
    assert diff(previous, snapshot(first_snapshot), T1).is_empty()


def test_row_order_does_not_change_the_result(first_snapshot: list[dict[str, Any]]) -> None:
    previous = open_calls(first_snapshot)
    shuffled = list(first_snapshot)
    random.Random(7).shuffle(shuffled)
    assert diff(previous, snapshot(shuffled), T1).is_empty()


def test_real_consecutive_pair_gives_exact_opened_closed_and_unit_updates(
    first_snapshot: list[dict[str, Any]], second_snapshot: list[dict[str, Any]]
) -> None:
    before, after = units_by_incident(first_snapshot), units_by_incident(second_snapshot)
    changes = diff(open_calls(first_snapshot), snapshot(second_snapshot), T1)

    assert {c.incident_number for c in changes.opened} == set(after) - set(before)
    assert {c.incident_number for c in changes.closed} == set(before) - set(after)
    assert all(c.closed_at == T1 for c in changes.closed)
    unit_changed = {i for i in set(before) & set(after) if before[i] != after[i]}
    assert unit_changed, "the real pair has incidents whose units changed"
    updated_units = {u.call.incident_number for u in changes.updated if "units" in u.changes}
    assert updated_units == unit_changed
    for update in changes.updated:
        inc = update.call.incident_number
        if "units" in update.changes:
            old, new = update.changes["units"]
            assert {u["unit_number"] for u in old} == before[inc]
            assert {u["unit_number"] for u in new} == after[inc]
        assert update.call.first_seen == T0  # an update keeps the call's history
        assert update.call.last_seen == T1


def test_status_and_priority_changes_are_field_deltas(first_snapshot: list[dict[str, Any]]) -> None:
    previous = open_calls(first_snapshot)
    target = first_snapshot[0]["incident_number"]
    changed = [
        {**row, "status": "En Route", "priority": "1"} if row["incident_number"] == target else row
        for row in first_snapshot
    ]
    changes = diff(previous, snapshot(changed), T1)
    assert not changes.opened and not changes.closed
    (update,) = changes.updated
    assert update.call.incident_number == target
    assert update.changes["priority"] == (2, 1)
    assert update.changes["status"] == ("At Scene", "En Route")
    assert update.call.priority == 1


def test_a_unit_leaving_is_an_update_not_a_close(first_snapshot: list[dict[str, Any]]) -> None:
    counts = units_by_incident(first_snapshot)
    target = next(i for i, units in sorted(counts.items()) if len(units) >= 2)
    leaving = sorted(counts[target])[0]
    rows = [r for r in first_snapshot if not (r["incident_number"] == target and r["unit_number"] == leaving)]
    changes = diff(open_calls(first_snapshot), snapshot(rows), T1)
    (update,) = changes.updated
    assert list(update.changes) == ["units"]
    old, new = update.changes["units"]
    assert leaving in {u["unit_number"] for u in old} and leaving not in {u["unit_number"] for u in new}
    assert not changes.closed


def test_received_at_uses_chicago_time_with_daylight_saving() -> None:
    rows = load_feed_snapshot("2015-12-18T20-10-00Z")[:1]
    (call,) = diff({}, snapshot(rows), T0).opened
    assert call.received_at is not None and call.received_at.endswith("-06:00")  # CST in December
    summer = load_feed_snapshot("2019-06-18T05-17-00Z")[:1]
    (call,) = diff({}, snapshot(summer), T0).opened
    assert call.received_at == "2019-06-17T23:46:00-05:00"  # CDT in June


def test_cross_street_order_gives_one_location_key(first_snapshot: list[dict[str, Any]]) -> None:
    row = next(r for r in first_snapshot if " / " in r["location"])
    a, b = row["location"].split(" / ")
    swapped = {**row, "location": f"{b} / {a}", "incident_number": "X-1"}
    calls = snapshot([row, swapped])
    assert calls[row["incident_number"]].location_key == calls["X-1"].location_key
