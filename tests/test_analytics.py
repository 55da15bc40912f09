"""The analytics core: hand-computable medians and 90th percentiles, groups, call types kept by
their code, Dallas local hours and days across midnight and both daylight-saving changes."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dallas_calls.analytics import aggregate, local_days, percentile
from dallas_calls.model import CallFacts

START = datetime(2025, 1, 1, 6, tzinfo=UTC)  # midnight, Jan 1, in Dallas (CST, UTC-6)
END = START + timedelta(days=3)


def fact(
    first: str,
    minutes: float | None = None,
    division: str | None = "CENTRAL",
    priority: int | None = 2,
    nature: str | None = "40 - OTHER",
    beat: str | None = "111",
) -> CallFacts:
    """A call first seen at ``first``, closed ``minutes`` later (None: still open)."""
    closed = None
    if minutes is not None:
        at = datetime.fromisoformat(first.replace("Z", "+00:00")) + timedelta(minutes=minutes)
        closed = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return (first, closed, division, priority, nature, beat)


def groups(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["key"]: g for g in body["groups"]}


def test_percentiles_interpolate_between_the_nearest_ranks() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.5
    assert percentile(values, 0.9) == pytest.approx(9.1)
    assert percentile(values, 0.9) == pytest.approx(
        statistics.quantiles(values, n=10, method="inclusive")[-1]
    )
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.5) is None


def test_medians_and_p90_per_group_leave_open_calls_out_and_count_them() -> None:
    facts = [
        fact("2025-01-01T12:00:00Z", 60),
        fact("2025-01-01T12:04:00Z", 120),
        fact("2025-01-01T12:08:00Z", 180),
        fact("2025-01-01T12:12:00Z", None),  # open: no duration
        fact("2025-01-01T13:00:00Z", 10, division="NORTH"),
        fact("2025-01-01T13:04:00Z", 30, division="NORTH"),
    ]
    body = aggregate(facts, START, END, "division")
    central, north = groups(body)["CENTRAL"], groups(body)["NORTH"]
    assert (central["count"], central["open"], central["closed"]) == (4, 1, 3)
    assert central["median_s"] == 7200.0  # 60, 120, 180 minutes: the middle one
    assert central["p90_s"] == 10080.0  # rank 1.8: 120 min + 0.8 × 60 min = 168 min
    assert (north["count"], north["median_s"], north["p90_s"]) == (2, 1200.0, 1680.0)  # 10, 30 min
    assert [g["key"] for g in body["groups"]] == ["CENTRAL", "NORTH"]  # busiest first
    assert (body["count"], body["open"], body["closed"]) == (6, 1, 5)
    assert body["median_s"] == 3600.0  # 10, 30, 60, 120, 180 minutes
    assert body["p90_s"] == 9360.0  # rank 3.6: 120 + 0.6 × 60 = 156 min


def test_call_types_keep_their_code_and_missing_values_are_unknown() -> None:
    facts = [
        fact("2025-01-01T12:00:00Z", 5, nature="40 - OTHER", priority=1),
        fact("2025-01-01T12:00:00Z", 5, nature="40/01 - OTHER", priority=None),
        fact("2025-01-01T12:00:00Z", 5, nature="40/01 - OTHER", priority=1),
        fact("2025-01-01T12:00:00Z", 5, nature=None, priority=4),
    ]
    by_nature = groups(aggregate(facts, START, END, "nature"))
    assert {k: g["count"] for k, g in by_nature.items()} == {
        "40/01 - OTHER": 2,
        "40 - OTHER": 1,
        "unknown": 1,
    }
    by_priority = groups(aggregate(facts, START, END, "priority"))
    assert {k: g["count"] for k, g in by_priority.items()} == {"1": 2, "4": 1, "unknown": 1}


def test_hours_and_days_are_dallas_local_time() -> None:
    facts = [
        fact("2025-01-02T05:30:00Z"),  # 23:30 on Jan 1 in Dallas, not Jan 2
        fact("2025-01-02T06:00:00Z"),  # 00:00 on Jan 2
        fact("2025-01-01T18:00:00-06:00"),  # an offset instead of Z: 18:00 local
        fact("2025-01-03T00:00:00Z"),  # 18:00 on Jan 2
    ]
    body = aggregate(facts, START, END)
    hours = {h["hour"]: h["count"] for h in body["per_hour_of_day"] if h["count"]}
    assert hours == {23: 1, 0: 1, 18: 2}
    assert len(body["per_hour_of_day"]) == 24
    assert body["per_day"] == [
        {"day": "2025-01-01", "count": 2},
        {"day": "2025-01-02", "count": 2},
        {"day": "2025-01-03", "count": 0},  # a day with no calls is still listed
    ]
    assert body["time_zone"] == "America/Chicago"


def test_daylight_saving_changes_move_the_local_hour() -> None:
    start, end = datetime(2025, 3, 8, tzinfo=UTC), datetime(2025, 11, 4, tzinfo=UTC)
    facts = [
        fact("2025-03-09T07:30:00Z"),  # 01:30 CST, before clocks go forward
        fact("2025-03-09T08:30:00Z"),  # 03:30 CDT: 02:xx never happens that night
        fact("2025-11-02T06:30:00Z"),  # 01:30 CDT
        fact("2025-11-02T07:30:00Z"),  # 01:30 CST again, an hour later
    ]
    body = aggregate(facts, start, end)
    hours = {h["hour"]: h["count"] for h in body["per_hour_of_day"] if h["count"]}
    assert hours == {1: 3, 3: 1}
    days = {d["day"]: d["count"] for d in body["per_day"] if d["count"]}
    assert days == {"2025-03-09": 2, "2025-11-02": 2}


def test_local_days_cover_the_window_in_dallas_time() -> None:
    assert local_days(START, END) == ["2025-01-01", "2025-01-02", "2025-01-03"]
    # 00:00Z to 00:00Z next day: 18:00 Dec 31 to 18:00 Jan 1 in Dallas
    assert local_days(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)) == [
        "2024-12-31",
        "2025-01-01",
    ]


def test_busiest_beats_rank_by_count_then_name_and_skip_calls_without_a_beat() -> None:
    beats = ["241", "111", "241", "111", "333", "241", None, None, None, ""]
    facts = [fact("2025-01-01T12:00:00Z", 5, beat=b) for b in beats]
    body = aggregate(facts, START, END, top_beats=2)
    assert body["busiest_beats"] == [{"beat": "241", "count": 3}, {"beat": "111", "count": 2}]


def test_calls_outside_the_window_and_unreadable_times_are_not_counted() -> None:
    facts = [
        fact("2024-12-31T12:00:00Z", 5),  # before
        fact("2025-01-04T06:00:00Z", 5),  # at the end: the window is half-open
        fact("2025-01-01T06:00:00Z", 5),  # at the start: counted
        ("not a time", None, "CENTRAL", 2, "x", "111"),
    ]
    body = aggregate(facts, START, END)
    assert body["count"] == 1 and body["unreadable"] == 1
    assert body["start"] == "2025-01-01T06:00:00Z" and body["end"] == "2025-01-04T06:00:00Z"


def test_a_close_recorded_before_first_seen_counts_as_no_time() -> None:
    body = aggregate([("2025-01-01T12:00:00Z", "2025-01-01T11:00:00Z", "C", 1, "x", "1")], START, END)
    assert body["median_s"] == 0.0 and body["closed"] == 1


def test_an_unknown_group_by_is_refused() -> None:
    with pytest.raises(ValueError, match="group_by"):
        aggregate([], START, END, "status")  # type: ignore[arg-type]


def test_the_fast_reading_of_stored_times_equals_a_full_parse() -> None:
    """Times in the stores' form take a shortcut (per-hour memo + minutes and seconds); every one
    must read as the slow path does, across both daylight-saving changes of two years."""
    from dallas_calls.analytics import _Clock

    clock = _Clock()
    rng = random.Random(4)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(5000):
        at = base + timedelta(seconds=rng.randrange(2 * 366 * 86400))
        text = at.isoformat().replace("+00:00", "Z")
        local = at.astimezone(ZoneInfo("America/Chicago"))
        assert clock.read(text) == (local.date().isoformat(), local.hour, int(at.timestamp())), text
    assert clock.read("2025-01-01T12:3a:00Z") is None
    assert clock.read("2025-01-01T12:00:00+00:00") == clock.read("2025-01-01T12:00:00Z")
