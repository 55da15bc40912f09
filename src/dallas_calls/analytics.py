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

from dallas_calls.api.stats import parse_time
from dallas_calls.model import CallFacts, iso_utc

TIME_ZONE = "America/Chicago"
LOCAL = ZoneInfo(TIME_ZONE)  # needs the tzdata package where the OS has no zone files (pinned)
GroupBy = Literal["division", "priority", "nature"]
GROUP_BYS: tuple[str, ...] = get_args(GroupBy)
TOP_BEATS = 10
UNKNOWN = "unknown"

_GROUP_INDEX = {"division": 2, "priority": 3, "nature": 4}
_UNREAD: tuple[str, int, int] = ("", -1, -1)  # a time not read yet (None: read, and not a time)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) of ascending values, linear between the nearest ranks; None if empty."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


class _Clock:
    """UTC text → (local day, local hour, epoch seconds), fast for the stores' own form
    ("2019-06-18T05:17:00Z"): a month of calls has ~60,000 times but only ~720 distinct UTC hours,
    and the zone's offsets are whole hours, so each hour is converted once and the minutes and
    seconds are added to it. Any other ISO 8601 form is parsed in full."""

    def __init__(self) -> None:
        self._hours: dict[str, tuple[str, int, int]] = {}

    def read(self, text: str) -> tuple[str, int, int] | None:
        if len(text) == 20 and text[19] == "Z" and text[13] == ":" and text[16] == ":":
            found = self._hours.get(text[:13])
            if found is None:
                found = self._convert(text[:13] + ":00:00Z")
                if found is None:
                    return None
                self._hours[text[:13]] = found
            minutes, seconds = text[14:16], text[17:19]
            if not (minutes.isdigit() and seconds.isdigit() and minutes.isascii() and seconds.isascii()):
                return self._convert(text)
            day, hour, epoch = found
            return day, hour, epoch + int(minutes) * 60 + int(seconds)
        return self._convert(text)

    @staticmethod
    def _convert(text: str) -> tuple[str, int, int] | None:
        parsed = parse_time(text)
        if parsed is None:
            return None
        local = parsed.astimezone(LOCAL)
        return local.date().isoformat(), local.hour, int(parsed.timestamp())


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
    read = _Clock().read
    low, high = int(start.timestamp()), int(end.timestamp())
    index = _GROUP_INDEX[group_by]
    # Each distinct time is read once: the calls of one poll share their first_seen, and closes
    # land on poll times too, so a month of ~60,000 calls has a few thousand distinct times.
    times: dict[str, tuple[str, int, int] | None] = {}
    skipped = 0
    for row in facts:
        text = row[0]
        first = times.get(text, _UNREAD)
        if first is _UNREAD:
            first = times[text] = read(text) if text else None
        if first is None:
            skipped += 1
            continue
        day, hour, first_epoch = first
        if not low <= first_epoch < high:
            continue
        per_day[day] = per_day.get(day, 0) + 1
        per_hour[hour] += 1
        # the group: its division or call type as the feed spells it, its priority as "1".."4";
        # "unknown" when the feed gave none
        value = row[index]
        key = UNKNOWN if value is None or value == "" else str(value)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group()
        group.count += 1
        closed_text = row[1]
        closed = None
        if closed_text:
            closed = times.get(closed_text, _UNREAD)
            if closed is _UNREAD:
                closed = times[closed_text] = read(closed_text)
        if closed is None:
            group.open += 1
        else:
            group.durations.append(float(max(closed[2] - first_epoch, 0)))
        beat = row[5]
        if beat:
            beats[beat] += 1
    for group in groups.values():
        total.count += group.count
        total.open += group.open
        total.durations.extend(group.durations)
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
