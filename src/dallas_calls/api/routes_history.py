"""``GET /history/events``: a time window's events in order, for the dashboard's replay, and the
window check ``/history`` shares with it.

I/O only: what to answer is :mod:`dallas_calls.export.replay`. Both stores (SQLite on one machine,
DynamoDB for the replicas on ECS) read the events of a window, the calls open at its start and the
window's call count; only the part of a window older than the kept log is rebuilt from the call
records, and the answer says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dallas_calls.api import schemas
from dallas_calls.api.inputs import checked_window, time_param
from dallas_calls.api.openapi import responses
from dallas_calls.export.replay import WindowEvents, replay_cut, was_pruned, window_events
from dallas_calls.model import iso_utc
from dallas_calls.storage.port import ReadStore

HISTORY_EVENTS_DEFAULT = 10_000
HISTORY_EVENTS_MAX = 20_000


def history_window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """``[start, end)`` from query text: both required, ISO 8601, end after start, at most
    ``MAX_WINDOW`` wide (400 otherwise)."""
    return checked_window(time_param(start, "start"), time_param(end, "end"))


def _kept_from(store: ReadStore) -> str | None:
    """The time of the oldest event still in the log (None when it holds none)."""
    first = store.first_event_id()
    if first is None:
        return None
    found = store.events_after(first - 1, 1)
    return found[0].at if found else None


def _skipped(store: ReadStore, below: int | None) -> int:
    """Ids below ``below`` never given on purpose (SQLite's ``event_id_jumps``: a store that took
    over from another); 0 on a store that has no such jumps."""
    jumps = getattr(store, "event_id_jumps", None)
    if below is None or not callable(jumps):
        return 0
    return sum(max(0, min(b, below - 1) - a + 1) for a, b in jumps())


def read_window_events(store: ReadStore, start: str, end: str, limit: int) -> WindowEvents:
    """Blocking: every read ``/history/events`` needs, then the answer."""
    kept_from = _kept_from(store)
    first = store.first_event_id()
    cut = replay_cut(start, end, kept_from, was_pruned(first, store.last_event_id(), _skipped(store, first)))
    initial = store.calls_open_at(start, limit + 1)
    rebuilt = store.calls_between(start, cut, limit + 1) if cut > start else []
    logged = store.events_in_window(cut, end, limit + 1) if cut < end else []
    total = store.count_calls_between(start, end)
    return window_events(start, end, cut, initial, rebuilt, logged, limit, kept_from, total)


def add_history_routes(app: FastAPI, store_of: Callable[[], ReadStore]) -> None:
    """Register ``/history/events`` on the app (``store_of``: the store served now)."""

    @app.get(
        "/history/events",
        tags=["calls"],
        summary="A time window's events in order (for a replay)",
        responses=responses(schemas.HistoryEventsBody, 400, 422),
    )
    async def history_events(
        start: str | None = Query(None, json_schema_extra={"format": "date-time"}),
        end: str | None = Query(None, json_schema_extra={"format": "date-time"}),
        limit: int = Query(HISTORY_EVENTS_DEFAULT, ge=1, le=HISTORY_EVENTS_MAX),
    ) -> Response:
        """`initial`: the calls open at `start` (first seen before it, not closed before it);
        `events`: the events with `at` in `[start, end)`, oldest first, at most `limit`
        (`truncated` says more were left out). Where the event log was pruned, the window's part
        before the oldest kept event (`reconstructed_until`) is rebuilt from the call records:
        an open at `first_seen`, a close at `closed_at`, `reconstructed: true`, no id, and
        `note` says that field updates were not kept. `window_calls`: the calls first seen in
        the window. Same window rules as `/history`."""
        begin, finish = history_window(start, end)
        body = await run_in_threadpool(read_window_events, store_of(), iso_utc(begin), iso_utc(finish), limit)
        return JSONResponse(body.to_dict())
