"""Analytics of a window of history: pure aggregation of narrow call facts (no I/O).

Input is ``CallFacts`` tuples (first_seen, closed_at, division, priority, nature_of_call, beat) as
a store's ``call_facts_between`` reads them. Output is the body of ``GET /analytics``: totals, calls
per hour of day and per day, the same per group (division, priority or call type) with the median
and 90th percentile of *time on the feed*, and the busiest beats.

- Hours and days are Dallas local time (America/Chicago, daylight saving included), because that is
  how people in Dallas read "3 pm" or "Tuesday". The window itself is given and answered in UTC.
- Time on the feed is first seen → closed, in seconds: both are poll times, so it is what the feed
  showed, not the police's own dispatch-to-clear time, and it moves in steps of the poll interval.
  Open calls have no duration yet: they are left out of medians and percentiles and counted apart.
- Percentiles interpolate linearly between the two nearest ranks (as ``statistics.quantiles`` with
  ``method="inclusive"`` and numpy's default), so the median of an even count is the mean of the
  two middle values and p90 of 1..10 is 9.1.
- Call types keep their code: "40 - OTHER" and "40/01 - OTHER" are different types.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from dallas_calls.api.stats import iso_utc, parse_time
from dallas_calls.model import CallFacts

TIME_ZONE = "America/Chicago"
LOCAL = ZoneInfo(TIME_ZONE)  # needs the tzdata package where the OS has no zone files (pinned)
GroupBy = Literal["division", "priority", "nature"]
GROUP_BYS: tuple[str, ...] = get_args(GroupBy)
TOP_BEATS = 10
UNKNOWN = "unknown"

_GROUP_INDEX = {"division": 2, "priority": 3, "nature": 4}


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) of ascending values, linear between the nearest ranks; None if empty."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


class _LocalClock:
    """UTC time → (local day, local hour), memoized per UTC hour: a month of calls has ~60,000
    times but only ~720 distinct hours, and the zone's offsets are whole hours."""

    def __init__(self) -> None:
        self._by_hour: dict[str, tuple[str, int]] = {}

    def day_and_hour(self, text: str) -> tuple[str, int] | None:
        key = text[:13] if len(text) == 20 and text.endswith("Z") else text
        found = self._by_hour.get(key)
        if found is None:
            parsed = parse_time(text)
            if parsed is None:
                return None
            local = parsed.astimezone(LOCAL)
            found = self._by_hour[key] = (local.date().isoformat(), local.hour)
        return found


@dataclass
class _Group:
    """Counts and closed-call durations of one group (or of the whole window)."""

    count: int = 0
    open: int = 0
    durations: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        self.durations.sort()
        median, p90 = percentile(self.durations, 0.5), percentile(self.durations, 0.9)
        return {
            "count": self.count,
            "open": self.open,
            "closed": len(self.durations),
            "median_s": None if median is None else round(median, 1),
            "p90_s": None if p90 is None else round(p90, 1),
        }


def group_key(facts: CallFacts, group_by: str) -> str:
    """The group a call falls in: its division or call type as the feed spells it, its priority
    as "1".."4"; "unknown" when the feed gave none."""
    value = facts[_GROUP_INDEX[group_by]]
    return UNKNOWN if value is None or value == "" else str(value)


def local_days(start: datetime, end: datetime) -> list[str]:
    """Every local date the window [start, end) touches, in order."""
    first = start.astimezone(LOCAL).date()
    last = (end - timedelta(microseconds=1)).astimezone(LOCAL).date()
    days: list[date] = []
    day = first
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return [d.isoformat() for d in days]


def aggregate(
    facts: Iterable[CallFacts],
    start: datetime,
    end: datetime,
    group_by: GroupBy = "division",
    top_beats: int = TOP_BEATS,
) -> dict[str, Any]:
    """The analytics of the calls first seen in [start, end) (``facts`` outside it are ignored)."""
    if group_by not in GROUP_BYS:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}")
    start_text, end_text = iso_utc(start), iso_utc(end)
    days = local_days(start, end)
    per_day = dict.fromkeys(days, 0)
    per_hour = [0] * 24
    total = _Group()
    groups: dict[str, _Group] = {}
    beats: Counter[str] = Counter()
    clock = _LocalClock()
    skipped = 0
    for row in facts:
        first_seen, closed_at = row[0], row[1]
        when = clock.day_and_hour(first_seen) if first_seen else None
        first = parse_time(first_seen) if when is not None else None
        if when is None or first is None or not (start <= first < end):
            skipped += when is None or first is None
            continue
        day, hour = when
        per_day[day] = per_day.get(day, 0) + 1
        per_hour[hour] += 1
        key = group_key(row, group_by)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group()
        total.count += 1
        group.count += 1
        closed = parse_time(closed_at) if closed_at else None
        if closed is None:
            total.open += 1
            group.open += 1
        else:
            seconds = max((closed - first).total_seconds(), 0.0)
            total.durations.append(seconds)
            group.durations.append(seconds)
        beat = row[5]
        if beat:
            beats[beat] += 1
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1].count, kv[0]))
    busiest = sorted(beats.items(), key=lambda kv: (-kv[1], kv[0]))[:top_beats]
    return {
        "start": start_text,
        "end": end_text,
        "time_zone": TIME_ZONE,
        "group_by": group_by,
        **total.summary(),
        "unreadable": skipped,
        "per_hour_of_day": [{"hour": h, "count": n} for h, n in enumerate(per_hour)],
        "per_day": [{"day": d, "count": n} for d, n in sorted(per_day.items())],
        "groups": [{"key": k, **g.summary()} for k, g in ranked],
        "busiest_beats": [{"beat": b, "count": n} for b, n in busiest],
    }
