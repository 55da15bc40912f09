"""``GET /analytics``: the analytics of a window of history (``dallas_calls.analytics``), read with
the store's narrow ``call_facts_between`` (tuples from an index, never full calls).

I/O and input checks only; the numbers are computed by the pure core. Registered on the app itself
(as ``routes_extra``), so ``app.routes`` lists it for the docs check and the metrics.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dallas_calls.analytics import GROUP_BYS, GroupBy, aggregate
from dallas_calls.api import schemas
from dallas_calls.api.errors import ApiError
from dallas_calls.api.inputs import checked_window, time_param
from dallas_calls.api.openapi import responses
from dallas_calls.model import iso_utc
from dallas_calls.storage.port import ReadStore

DEFAULT_WINDOW = timedelta(days=7)


def analytics_window(
    start: str | None, end: str | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The window [start, end): ``end`` defaults to now, ``start`` to 7 days before ``end``.
    400 when a time is not one, ``end`` is not after ``start`` or the window is over 31 days."""
    finish = (
        time_param(end, "end") if end and end.strip() else (now or datetime.now(UTC)).replace(microsecond=0)
    )
    begin = time_param(start, "start") if start and start.strip() else finish - DEFAULT_WINDOW
    return checked_window(begin, finish)


def group_by_param(text: str | None) -> GroupBy:
    """``division`` (the default), ``priority`` or ``nature``; 400 otherwise."""
    value = (text or "division").strip()
    if value in GROUP_BYS:
        return cast(GroupBy, value)
    raise ApiError(400, "bad_request", f"group_by must be one of {', '.join(GROUP_BYS)}, got {value[:40]!r}")


class AnswerCache:
    """The last few answers (JSON bytes) by window, grouping, store and the newest event id the
    server has applied: any new event, or another store, makes them stale. The dashboard asks for
    windows that end on a whole minute, so its users share one computation per poll instead of
    each costing ~130 ms of CPU (30 days) in the process that also serves the event stream."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._answers: OrderedDict[tuple[object, ...], bytes] = OrderedDict()

    def get(self, key: tuple[object, ...]) -> bytes | None:
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
        return found

    def put(self, key: tuple[object, ...], body: bytes) -> None:
        self._answers[key] = body
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)


def add_analytics_routes(
    app: FastAPI, store: Callable[[], ReadStore], version: Callable[[], int] = lambda: -1
) -> None:
    """Register ``/analytics``; ``store`` gives the store served now (it can be replaced),
    ``version`` the newest event id applied (answers are reused until it moves)."""
    cache = AnswerCache()

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
        key = (iso_utc(begin), iso_utc(finish), grouping, id(current), version())
        answer = cache.get(key)
        if answer is None:
            body = await run_in_threadpool(
                lambda: aggregate(
                    current.call_facts_between(iso_utc(begin), iso_utc(finish)), begin, finish, grouping
                )
            )
            answer = bytes(JSONResponse(body).body)
            cache.put(key, answer)
        return Response(answer, media_type="application/json")
