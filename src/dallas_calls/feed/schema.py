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
- ``incident_number`` is at most :data:`~dallas_calls.model.INCIDENT_NUMBER_MAX_LENGTH` characters,
  the longest the API accepts: a call no one could look up must not be tracked.
- A ``date`` + ``time`` whose instant cannot be represented (``9999-12-31 23:59:59`` Dallas time is
  past year 9999 in UTC) is an error like any other bad timestamp.
- Text holding a lone surrogate (a ``"\\ud800"`` escape in the JSON: not a character, and not
  encodable as UTF-8) quarantines its row; the stored copy of the row has it replaced by U+FFFD,
  and the reason says so. Every quarantined copy is made safe this way, once, here.
- Text fields are stripped; blank text becomes ``None``. Odd but harmless values (a reporting area
  "System.Xml.XmlElement" or "4198,4225") are kept verbatim: they are real and not ours to fix.
- Unknown extra keys are ignored, so a new column in the feed does not break the poller.

Parsing is total: whatever JSON a row holds, :func:`parse_rows` returns; a row it cannot use is
quarantined with the reason. Plain code rather than pydantic: the rules are few. A row whose fields
are all text (nearly every row) is parsed once and then found in a memo of the previous snapshot's
rows, so a snapshot that barely changed costs a lookup per row.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from datetime import time as dt_time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from dallas_calls.model import INCIDENT_NUMBER_MAX_LENGTH, QuarantinedRow, Row

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
# Every key a Row is made from: a row's values for these are its identity in the memo.
_READ_KEYS: tuple[str, ...] = (*_REQUIRED_FIELDS, *_TEXT_FIELDS, "priority", "date", "time")
_TEXT_OR_NONE = frozenset({str, type(None)})
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"

# Rows parsed from the previous snapshot (and this one so far), by their _READ_KEYS values: the Row
# or the RowError it raised. Replaced by each parse_rows call, so it never outgrows one snapshot. A
# hit keeps the same Row object, so an unchanged snapshot makes no new long-lived object for the
# garbage collector to walk: the keys are tuples of text and None, which the collector stops
# tracking at its first pass, and no (key, row) pair is kept (50,000 rows made 50,000 such pairs,
# each walked by every full collection). A cache of a pure function: it changes no result.
_MemoKey = tuple[Any, ...]
_Memo = dict[_MemoKey, "Row | RowError"]
_memo: _Memo = {}

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
        if not stripped.isascii() and _LONE_SURROGATE.search(stripped):
            raise RowError(
                f"{key} holds a lone surrogate (replaced with U+FFFD in the stored row)",
                kind="lone surrogate",
            )
        return stripped or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            raise RowError(f"{key} is not text: {value!r}", kind=f"bad {key}")
        return str(value)
    raise RowError(f"{key} is not text: {_preview(value)}", kind=f"bad {key}")


def _preview(value: object, limit: int = 80) -> str:
    """A short, safe repr for a reason (reasons are logged and stored)."""
    text = safe_text(repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def safe_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (valid Unicode, encodable as UTF-8)."""
    return text if text.isascii() else _LONE_SURROGATE.sub(REPLACEMENT, text)


def made_safe(value: Any) -> tuple[Any, bool]:
    """``value`` (any JSON value) with every lone surrogate in its text, keys included, replaced by
    U+FFFD, and whether anything was replaced. What is stored or logged must be valid Unicode."""
    if isinstance(value, str):
        safe = safe_text(value)
        return safe, safe != value
    if isinstance(value, list):
        items = [made_safe(v) for v in value]
        return [v for v, _ in items], any(changed for _, changed in items)
    if isinstance(value, dict):
        pairs = [(made_safe(k), made_safe(v)) for k, v in value.items()]
        changed = any(kc or vc for (_, kc), (_, vc) in pairs)
        return {k: v for (k, _), (v, _) in pairs}, changed
    return value, False


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
        raise RowError(f"priority {_preview(value)} is not an integer 1-4", kind="bad priority")
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
    try:
        return local.astimezone(UTC).astimezone(CHICAGO).isoformat()
    except (OverflowError, ValueError):  # the instant falls outside years 1-9999 in UTC
        raise RowError(f"date {date!r} {time!r} is out of the representable range", kind="bad date") from None


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
        raise RowError(f"date/time are not text: {_preview(date)} {_preview(time)}", kind="bad date/time")
    if any(v is not None and not v.isascii() for v in (d, t)):
        raise RowError(f"date/time are not ASCII: {_preview(date)} {_preview(time)}", kind="bad date/time")
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
    if len(required["incident_number"]) > INCIDENT_NUMBER_MAX_LENGTH:
        raise RowError(
            f"incident_number is longer than {INCIDENT_NUMBER_MAX_LENGTH} characters",
            kind="long incident_number",
        )
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


def _parse_memoized(item: Any, memo: _Memo) -> Row | RowError:
    """parse_row's answer (a Row, or the RowError it raised), from the previous snapshot's memo when
    the row's fields are the same text. Rows holding anything but text and nulls are parsed anew:
    1 == 1.0 == True as dict keys, and they are not the same priority."""
    key: tuple[Any, ...] | None = None
    if type(item) is dict:
        key = tuple(map(item.get, _READ_KEYS))
        if _TEXT_OR_NONE.issuperset(map(type, key)):
            found = _memo.get(key)
            if found is not None:
                memo[key] = found
                return found
        else:
            key = None
    try:
        result: Row | RowError = parse_row(item)
    except RowError as error:
        result = error
    except Exception as error:  # parsing is total: an unforeseen fault quarantines the row only
        result = RowError(
            f"unreadable row ({type(error).__name__}: {_preview(error)})", kind="unreadable row"
        )
    if key is not None:
        memo[key] = result
    return result


def _quarantined(item: Any, error: RowError) -> QuarantinedRow:
    record, replaced = made_safe(item if isinstance(item, dict) else {"value": item})
    reason = error.reason
    if replaced and "lone surrogate" not in reason:
        reason += " (lone surrogates replaced with U+FFFD in the stored row)"
    return QuarantinedRow(raw=record, reason=reason)


def parse_rows(raw: list[Any]) -> tuple[list[Row], list[QuarantinedRow]]:
    """Split a snapshot into valid rows and quarantined ones, keeping the input order. Never raises.

    Each quarantined record keeps the raw data (a non-object row is wrapped as ``{"value": ...}``
    since :class:`QuarantinedRow` holds a dict; lone surrogates replaced) and the reason. Each kind
    of reason is logged once per process, with the count seen in this snapshot and one example.
    """
    global _memo
    rows: list[Row] = []
    quarantined: list[QuarantinedRow] = []
    by_kind: dict[str, list[str]] = {}
    memo: _Memo = {}
    for item in raw:
        result = _parse_memoized(item, memo)
        if isinstance(result, Row):
            rows.append(result)
        else:
            quarantined.append(_quarantined(item, result))
            by_kind.setdefault(result.kind, []).append(quarantined[-1].reason)
    _memo = memo
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
