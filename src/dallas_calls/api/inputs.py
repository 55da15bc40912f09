"""Query parameters and headers the routes parse themselves, each refused with a 400 (never a 500)
when it is not what it should be. FastAPI's own typing would answer 422 with its own wording, and
would take Unicode digits ("²") for numbers."""

from __future__ import annotations

from datetime import datetime, timedelta

from dallas_calls.api.errors import ApiError
from dallas_calls.api.stats import EARLIEST_TIME, LATEST_TIME, parse_time
from dallas_calls.model import MAX_EVENT_ID, ascii_int

# The widest window /history, /history/events, exports and /analytics answer.
MAX_WINDOW = timedelta(days=31)


def event_id_param(text: str | None, name: str) -> int | None:
    """An event id from a header or parameter: ASCII digits, 0 to MAX_EVENT_ID (400 otherwise)."""
    if text is None or text.strip() == "":
        return None
    value = text.strip()
    number = ascii_int(value) if len(value) <= 16 else None
    if number is None or number > MAX_EVENT_ID:
        raise ApiError(
            400, "bad_request", f"{name} must be an event id (0 to {MAX_EVENT_ID}), got {value[:40]!r}"
        )
    return number


def time_param(text: str | None, name: str) -> datetime:
    """A required ISO 8601 time within the supported range (a "+" of an offset may arrive as " ")."""
    if text is None or not text.strip():
        raise ApiError(400, "bad_request", f"{name} is required (ISO 8601 time, e.g. 2019-06-18T05:00:00Z)")
    parsed = parse_time(text.strip().replace(" ", "+"))
    if parsed is None:
        raise ApiError(
            400,
            "bad_request",
            f"{name} is not an ISO 8601 time from {EARLIEST_TIME.year} to {LATEST_TIME.year - 1}: {text[:80]!r}",
        )
    return parsed


def checked_window(begin: datetime, finish: datetime) -> tuple[datetime, datetime]:
    """``[begin, finish)`` when ``finish`` is after ``begin`` and the two at most ``MAX_WINDOW``
    apart; 400 otherwise."""
    if finish <= begin:
        raise ApiError(400, "bad_request", "end must be after start")
    if finish - begin > MAX_WINDOW:
        raise ApiError(400, "bad_request", f"the window may span at most {MAX_WINDOW.days} days")
    return begin, finish
