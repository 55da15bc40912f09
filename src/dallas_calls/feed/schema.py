"""Validation of raw feed rows: pure functions, no I/O.

The Socrata feed sends every field as text and omits absent fields. One bad record must never sink
a whole snapshot, so :func:`parse_rows` splits the input into good :class:`~dallas_calls.model.Row`
objects and :class:`~dallas_calls.model.QuarantinedRow` records that keep the raw data and the reason.

What is checked, and why:

- ``incident_number`` and ``location`` are required: without the first a row has no identity,
  without the second it cannot be placed on the map.
- ``priority`` must be an integer 1-4 (blank or absent is allowed and becomes ``None``): the
  dashboard colours and sorts by it, so a garbage value must not pass as a priority.
- ``date`` and ``time`` must parse: ``received_at`` is derived from them and a wrong timestamp is
  worse than a visible quarantine.
- Text fields are stripped; blank text becomes ``None``. Odd but harmless values (a reporting area
  "System.Xml.XmlElement" or "4198,4225") are kept verbatim: they are real and not ours to fix.
- Unknown extra keys are ignored, so a new column in the feed does not break the poller.

Plain code rather than pydantic: the rules are few, and a 2,000-row snapshot parses in a few ms.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from datetime import time as dt_time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from dallas_calls.model import QuarantinedRow, Row

__all__ = [
    "CHICAGO",
    "RowError",
    "parse_row",
    "parse_rows",
    "received_at",
    "reset_quarantine_log",
]

logger = logging.getLogger(__name__)

CHICAGO = ZoneInfo("America/Chicago")

# Optional text fields of a Row, copied from the raw key of the same name.
_TEXT_FIELDS: tuple[str, ...] = (
    "unit_number",
    "division",
    "nature_of_call",
    "block",
    "beat",
    "reporting_area",
    "status",
)
_REQUIRED_FIELDS: tuple[str, ...] = ("incident_number", "location")

# Kinds of quarantine reason already logged by this process: each is logged once at WARNING,
# then at DEBUG, so a bad row that stays in the feed for hours does not flood the log every poll.
_logged_kinds: set[str] = set()


class RowError(ValueError):
    """A raw row failed validation.

    ``reason`` is the human-readable explanation stored with the quarantined row; ``kind`` is a
    short stable category (e.g. ``"bad priority"``) used to log each kind of problem once.
    """

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind or reason


def _text(raw: dict[str, Any], key: str) -> str | None:
    """The stripped text of ``raw[key]``; ``None`` when absent or blank.

    Numbers are accepted and turned into text (a beat sent as ``114`` is still beat "114"); any other
    type (list, dict, bool) means the row is not what we think it is, so it is an error.
    """
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RowError(f"{key} is not text: {value!r}", kind=f"bad {key}")


def _priority(raw: dict[str, Any]) -> int | None:
    value = raw.get("priority")
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return None
        if stripped.isascii() and stripped.isdigit():
            number = int(stripped)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if number is None or not 1 <= number <= 4:
        raise RowError(f"priority {value!r} is not an integer 1-4", kind="bad priority")
    return number


@lru_cache(maxsize=4096)
def _received_at_cached(date: str | None, time: str | None) -> str | None:
    if date is None and time is None:
        return None
    if date is None or time is None:
        missing = "date" if date is None else "time"
        raise RowError(f"{missing} is missing while the other is set", kind=f"missing {missing}")
    try:
        day = datetime.fromisoformat(date)
    except ValueError:
        raise RowError(f"date {date!r} is not an ISO date", kind="bad date") from None
    if day.tzinfo is not None:
        # The feed's date is a floating (zone-less) timestamp; an offset would mean a format change
        # we do not understand, and silently converting it could shift the call by a day.
        raise RowError(f"date {date!r} carries a time zone", kind="bad date")
    try:
        clock = dt_time.fromisoformat(time)
    except ValueError:
        raise RowError(f"time {time!r} is not a clock time", kind="bad time") from None
    if clock.tzinfo is not None:
        raise RowError(f"time {time!r} carries a time zone", kind="bad time")
    local = datetime.combine(day.date(), clock, tzinfo=CHICAGO)
    # A round trip through UTC normalizes a wall time that does not exist (02:30 on the spring-forward
    # day) to the real instant it denotes (03:30 CDT). An ambiguous time (01:30 on the fall-back day)
    # keeps fold=0: the first occurrence, in daylight time.
    return local.astimezone(UTC).astimezone(CHICAGO).isoformat()


def received_at(date: str | None, time: str | None) -> str | None:
    """When the call was received, as an aware ISO 8601 string in America/Chicago.

    The feed splits it into ``date`` (a floating timestamp always at midnight, e.g.
    ``"2019-06-17T00:00:00.000"``) and ``time`` (``"23:46:00"``), both local Dallas time. The offset is
    computed by zoneinfo for that very instant, so it is ``-05:00`` in summer and ``-06:00`` in
    winter; a fixed offset would put every call an hour off for half of the year.

    Blank or absent on both sides gives ``None`` (unknown). One without the other, or either
    malformed, raises :class:`RowError`: a half-known timestamp would be a wrong one.
    """
    d = (date.strip() or None) if isinstance(date, str) else date
    t = (time.strip() or None) if isinstance(time, str) else time
    if (d is not None and not isinstance(d, str)) or (t is not None and not isinstance(t, str)):
        raise RowError(f"date/time are not text: {date!r} {time!r}", kind="bad date/time")
    return _received_at_cached(d, t)


def parse_row(raw: Any) -> Row:
    """Validate one raw feed record; raise :class:`RowError` with the reason if it is unusable."""
    if not isinstance(raw, dict):
        raise RowError(f"row is a {type(raw).__name__}, not an object", kind="row not an object")
    required: dict[str, str] = {}
    for key in _REQUIRED_FIELDS:
        value = _text(raw, key)
        if value is None:
            raise RowError(f"missing {key}", kind=f"missing {key}")
        required[key] = value
    text = {key: _text(raw, key) for key in _TEXT_FIELDS}
    return Row(
        incident_number=required["incident_number"],
        unit_number=text["unit_number"],
        division=text["division"],
        nature_of_call=text["nature_of_call"],
        priority=_priority(raw),
        received_at=received_at(raw.get("date"), raw.get("time")),
        block=text["block"],
        location=required["location"],
        beat=text["beat"],
        reporting_area=text["reporting_area"],
        status=text["status"],
    )


def parse_rows(raw: list[Any]) -> tuple[list[Row], list[QuarantinedRow]]:
    """Split a snapshot into valid rows and quarantined ones, keeping the input order.

    Each quarantined record keeps the raw data (a non-object row is wrapped as ``{"value": ...}``
    since :class:`QuarantinedRow` holds a dict) and the reason. Each kind of reason is logged once
    per process, with the count seen in this snapshot and one example.
    """
    rows: list[Row] = []
    quarantined: list[QuarantinedRow] = []
    by_kind: dict[str, list[str]] = {}
    for item in raw:
        try:
            rows.append(parse_row(item))
        except RowError as error:
            record = item if isinstance(item, dict) else {"value": item}
            quarantined.append(QuarantinedRow(raw=record, reason=error.reason))
            by_kind.setdefault(error.kind, []).append(error.reason)
    for kind, reasons in by_kind.items():
        level = logging.DEBUG if kind in _logged_kinds else logging.WARNING
        _logged_kinds.add(kind)
        logger.log(
            level,
            "quarantined %d feed row(s): %s (e.g. %s)",
            len(reasons),
            kind,
            reasons[0],
            extra={"quarantine_kind": kind, "quarantine_count": len(reasons)},
        )
    return rows, quarantined


def reset_quarantine_log() -> None:
    """Forget which kinds of reason were logged, so the next occurrence logs at WARNING again.

    For tests, and for a long-running process that wants a periodic reminder.
    """
    _logged_kinds.clear()
