"""``GET /analytics``: the analytics of a window of history (``dallas_calls.analytics``), read with
the store's narrow ``call_facts_between`` (tuples from an index, never full calls).

I/O and input checks only; the numbers are computed by the pure core. Registered on the app itself
(as ``routes_extra``), so ``app.routes`` lists it for the docs check and the metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast, get_args

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dallas_calls.analytics import GROUP_BYS, GroupBy, aggregate
from dallas_calls.api import schemas
from dallas_calls.api.errors import ApiError
from dallas_calls.api.inputs import time_param
from dallas_calls.api.openapi import responses
from dallas_calls.api.stats import iso_utc
from dallas_calls.storage.port import ReadStore

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=31)  # as /history


def analytics_window(
    start: str | None, end: str | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The window [start, end): ``end`` defaults to now, ``start`` to 7 days before ``end``.
    400 when a time is not one, ``end`` is not after ``start`` or the window is over 31 days."""
    finish = (
        time_param(end, "end") if end and end.strip() else (now or datetime.now(UTC)).replace(microsecond=0)
    )
    begin = time_param(start, "start") if start and start.strip() else finish - DEFAULT_WINDOW
    if finish <= begin:
        raise ApiError(400, "bad_request", "end must be after start")
    if finish - begin > MAX_WINDOW:
        raise ApiError(400, "bad_request", f"the window may span at most {MAX_WINDOW.days} days")
    return begin, finish


def group_by_param(text: str | None) -> GroupBy:
    """``division`` (the default), ``priority`` or ``nature``; 400 otherwise."""
    value = (text or "division").strip()
    for choice in get_args(GroupBy):
        if value == choice:
            return cast(GroupBy, choice)
    raise ApiError(400, "bad_request", f"group_by must be one of {', '.join(GROUP_BYS)}, got {value[:40]!r}")


def add_analytics_routes(app: FastAPI, store: Callable[[], ReadStore]) -> None:
    """Register ``/analytics``; ``store`` gives the store served now (it can be replaced)."""

    @app.get(
        "/analytics",
        tags=["calls"],
        summary="Calls per hour and day, time on the feed and busiest beats for a window",
        responses=responses(schemas.AnalyticsBody, 400, 422),
    )
    async def analytics(
        start: str | None = Query(None, json_schema_extra={"format": "date-time"}),
        end: str | None = Query(None, json_schema_extra={"format": "date-time"}),
        group_by: str | None = Query(None, json_schema_extra={"enum": list(GROUP_BYS)}),
    ) -> Response:
        """Calls first seen in `[start, end)` (default: the 7 days up to now; at most 31 days;
        ISO 8601, UTC when no offset is given). Hours of day and days are America/Chicago local time.
        `group_by=division|priority|nature` (default division): per group the count, the open
        calls, and the median and 90th percentile of time on the feed (first seen → closed, in
        seconds; open calls are left out of them). `busiest_beats`: the top 10 beats."""
        begin, finish = analytics_window(start, end)
        grouping = group_by_param(group_by)
        current = store()
        body = await run_in_threadpool(
            lambda: aggregate(
                current.call_facts_between(iso_utc(begin), iso_utc(finish)), begin, finish, grouping
            )
        )
        return JSONResponse(body)
