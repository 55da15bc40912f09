"""`/stats` over the open calls: pure, from the view's calls and the calls closed in the last day."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from dallas_calls.model import iso_utc

STATS_HOURS = 24


# The times the API accepts and computes with. Outside them a time is treated as no time at all:
# 400/422 on input, skipped by /stats. Python's datetime reaches years 1 and 9999, but converting
# 0001-01-01T00:00+14:00 to UTC, or stepping a day past 9999-12-31, overflows.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)


def parse_time(text: object) -> datetime | None:
    """An aware datetime from ISO 8601 text (UTC when it names no offset), or None when the text is
    not one or lies outside [EARLIEST_TIME, LATEST_TIME)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        in_range = EARLIEST_TIME <= parsed < LATEST_TIME
    except (ValueError, OverflowError):
        return None
    return parsed if in_range else None


def call_stats(
    open_calls: dict[str, dict[str, Any]], recent_closed: dict[str, datetime], as_of: str
) -> dict[str, Any]:
    """Counts over the open calls, the oldest open call and calls opened per hour for the 24 hours
    up to ``as_of`` (the time of the newest event: a replay of old recordings gets a meaningful
    chart). Closed calls older than the window are dropped from ``recent_closed``."""
    anchor = parse_time(as_of) or datetime.now(UTC)
    calls = list(open_calls.values())
    by_priority: dict[str, int] = {"1": 0, "2": 0, "3": 0, "4": 0, "unknown": 0}
    for call in calls:
        p = call.get("priority")
        label = str(p) if isinstance(p, int) else "unknown"
        by_priority[label] = by_priority.get(label, 0) + 1

    def count(field: str) -> dict[str, int]:
        found = Counter(str(c.get(field) or "unknown") for c in calls)
        return dict(sorted(found.items()))

    oldest = None
    received = [(parse_time(c.get("received_at")) or parse_time(c.get("first_seen")), c) for c in calls]
    dated = [(at, c) for at, c in received if at is not None]
    if dated:
        at, call = min(dated, key=lambda pair: pair[0])
        oldest = {
            "incident_number": call.get("incident_number"),
            "received_at": call.get("received_at"),
            "age_s": round(max((anchor - at).total_seconds(), 0.0), 1),
        }
    top = anchor.replace(minute=0, second=0, microsecond=0)
    hours = [top - timedelta(hours=h) for h in range(STATS_HOURS - 1, -1, -1)]
    start = hours[0]
    for number, at in list(recent_closed.items()):
        if at < start - timedelta(hours=1):
            del recent_closed[number]
    buckets = dict.fromkeys(hours, 0)
    for at in [at for at, _ in dated] + list(recent_closed.values()):
        hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if hour in buckets:
            buckets[hour] += 1
    located = sum(1 for c in calls if isinstance(c.get("geo"), dict) and c["geo"].get("lat") is not None)
    return {
        "as_of": as_of,
        "open_calls": len(calls),
        "by_division": count("division"),
        "by_priority": by_priority,
        "by_nature": count("nature_of_call"),
        "by_status": count("status"),
        "oldest_open": oldest,
        "opened_per_hour": [{"hour": iso_utc(h), "count": buckets[h]} for h in hours],
        "located": located,
        "unlocated": len(calls) - located,
    }
