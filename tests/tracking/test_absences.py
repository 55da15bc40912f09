"""A call missing from one snapshot is not closed; one that comes back after its close is reopened.
The diff on real rows, with the stored state in memory."""

from __future__ import annotations

from typing import Any

import pytest

from dallas_calls.feed.schema import parse_rows
from dallas_calls.model import Call
from dallas_calls.tracking.diff import DEFAULT_CLOSE_AFTER_POLLS, SnapshotDiff, diff_snapshot
from dallas_calls.tracking.snapshot import group_rows
from dallas_calls.tracking.state import CallsInMemory

T = [f"2019-06-18T05:{m:02d}:00Z" for m in range(17, 60, 4)]


def diff(
    calls: dict[str, Call],
    rows: list[dict[str, Any]],
    at: str,
    misses: dict[str, int] | None = None,
    closed: dict[str, Call] | None = None,
    close_after: int = DEFAULT_CLOSE_AFTER_POLLS,
) -> SnapshotDiff:
    known = closed or {}
    stored = CallsInMemory(calls, misses, closed=lambda numbers: {n: known[n] for n in numbers if n in known})
    return diff_snapshot(stored, group_rows(parse_rows(rows)[0]), at, close_after)


def opened(rows: list[dict[str, Any]]) -> dict[str, Call]:
    return {c.incident_number: c for c in diff({}, rows, T[0]).changes.opened}


def test_a_call_missing_from_one_snapshot_stays_open_and_counts_a_miss(
    first_snapshot: list[dict[str, Any]],
) -> None:
    calls = opened(first_snapshot)
    gone = first_snapshot[0]["incident_number"]
    rest = [r for r in first_snapshot if r["incident_number"] != gone]

    result = diff(calls, rest, T[1])
    assert result.changes.is_empty()
    assert result.misses == {gone: 1}

    back = diff(calls, first_snapshot, T[2], misses=result.misses)
    assert back.changes.is_empty() and back.misses == {}  # back: nothing happened, no miss kept


def test_a_call_closes_at_its_second_consecutive_absence(first_snapshot: list[dict[str, Any]]) -> None:
    calls = opened(first_snapshot)
    gone = first_snapshot[0]["incident_number"]
    rest = [r for r in first_snapshot if r["incident_number"] != gone]

    result = diff(calls, rest, T[2], misses={gone: 1})
    (closed,) = result.changes.closed
    assert closed.incident_number == gone and closed.closed_at == T[2]
    assert closed.last_seen == calls[gone].last_seen  # the last poll that held it
    assert not result.changes.opened and not result.changes.updated


@pytest.mark.parametrize("close_after", [1, 3])
def test_the_number_of_absences_is_configurable(
    first_snapshot: list[dict[str, Any]], close_after: int
) -> None:
    calls = opened(first_snapshot)
    gone = first_snapshot[0]["incident_number"]
    rest = [r for r in first_snapshot if r["incident_number"] != gone]
    misses: dict[str, int] = {}
    closes_at = None
    for poll in range(1, 5):
        result = diff(calls, rest, T[poll], misses=misses, close_after=close_after)
        if result.changes.closed:
            closes_at = poll
            break
        misses = result.misses
    assert closes_at == close_after
    with pytest.raises(ValueError):
        diff(calls, rest, T[1], close_after=0)


def test_a_closed_call_that_returns_is_reopened_as_an_update_of_its_own_record(
    first_snapshot: list[dict[str, Any]],
) -> None:
    calls = opened(first_snapshot)
    number = first_snapshot[0]["incident_number"]
    closed = calls.pop(number).with_changes(closed_at=T[2], last_seen=T[1])
    changed = [dict(r, status="Cleared") if r["incident_number"] == number else r for r in first_snapshot]

    result = diff(calls, changed, T[3], closed={number: closed})
    assert not result.changes.opened and not result.changes.closed
    (update,) = result.changes.updated
    assert update.reopened
    assert update.call.incident_number == number
    assert update.call.first_seen == T[0]  # its record continues
    assert update.call.closed_at is None and update.call.last_seen == T[3]
    assert update.changes["closed_at"] == (T[2], None)
    assert update.changes["status"] == ("At Scene", "Cleared")


def test_an_unknown_incident_is_opened_not_reopened(first_snapshot: list[dict[str, Any]]) -> None:
    result = diff({}, first_snapshot, T[0], closed={})
    assert len(result.changes.opened) == 38
    assert not any(u.reopened for u in result.changes.updated)
