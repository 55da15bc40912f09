"""The calls and their events: ``/current-calls/``, the event stream ``/get-events/``, ingest
(``POST /events/``), one call ``/calls/{incident_number}``, ``/stats`` and ``/history``.

These are the API's core, read from the current-calls view (``view.py``) and the store served now;
they are apart from ``app.py`` so that the app factory holds only the wiring (lifespan, state,
middleware). Registered on the app itself (as ``routes_history``), so ``app.routes`` lists them for
the docs check and the metrics. The exports behind ``?format=`` are in ``routes_extra.py``, ingest
itself in ``ingest.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import fastapi
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dallas_calls.api import schemas
from dallas_calls.api.errors import ApiError
from dallas_calls.api.event_stream import EventStreamResponse
from dallas_calls.api.ingest import ingest_events
from dallas_calls.api.inputs import event_id_param
from dallas_calls.api.openapi import INGEST_BODY_REF, responses
from dallas_calls.api.routes_extra import (
    ExportFormat,
    current_calls_export,
    history_export,
    with_export_content,
)
from dallas_calls.api.routes_history import history_window
from dallas_calls.api.view import CurrentCallsView
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus
from dallas_calls.events.filters import StreamFilter
from dallas_calls.events.sse import RETRY_MS, client_stream
from dallas_calls.mode import ModeState
from dallas_calls.model import INCIDENT_NUMBER_MAX_LENGTH, iso_utc
from dallas_calls.storage.port import ReadStore

HISTORY_MAX_LIMIT = 5000
SSE_SEND_TIMEOUT_S = 30.0


def _etag_matches(header: str, etag: str) -> bool:
    base = etag.strip('"').removesuffix("-gz")
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/").strip('"').removesuffix("-gz")
        if tag == base:
            return True
    return False


def add_call_routes(
    app: FastAPI,
    settings: Settings,
    view: CurrentCallsView,
    bus: EventBus,
    mode: ModeState,
    store_of: Callable[[], ReadStore],
) -> None:
    """Register the calls and events routes on the app (``store_of``: the store served now; it
    can be replaced, see ``app.state.replace_store``)."""

    @app.get(
        "/current-calls/",
        tags=["calls"],
        summary="Open calls, with the last event id",
        responses=with_export_content(responses(schemas.CurrentCallsBody, 422)),
    )
    async def current_calls(request: Request, format: ExportFormat | None = None) -> Response:
        """`{"current_active_calls": [Call], "last_event_id": N, "as_of": ts}`. Strong ETag;
        `If-None-Match` → 304; gzip when accepted. Open `/get-events/?last_event_id=N` next.
        `?format=csv|geojson`: the same calls as a download (with `precision` and `source`)."""
        await view.sync()
        if format is not None:
            meta = {"last_event_id": view.last_event_id, "as_of": view.as_of, **mode.current.to_dict()}
            return current_calls_export(view.calls, meta, format)
        rendered = view.rendered()
        gz = "gzip" in request.headers.get("accept-encoding", "")
        etag = rendered.etag[:-1] + '-gz"' if gz else rendered.etag
        headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        inm = request.headers.get("if-none-match")
        if inm and _etag_matches(inm, rendered.etag):
            return Response(status_code=304, headers=headers)
        if gz:
            headers["Content-Encoding"] = "gzip"
            return Response(rendered.gzipped, media_type="application/json", headers=headers)
        return Response(rendered.body, media_type="application/json", headers=headers)

    @app.get(
        "/get-events/",
        tags=["events"],
        summary="Server-Sent Events stream of call and location events",
        response_class=Response,
        responses=responses("text/event-stream", 400, 422),
    )
    async def get_events(
        last_event_id: str | None = None,
        division: str | None = None,
        priority: str | None = None,
        near: str | None = Query(None, max_length=64, description="lat,lon: only events in a circle"),
        radius_m: str | None = Query(None, max_length=16, description="the circle's radius (default 1000)"),
        bbox: str | None = Query(None, max_length=128, description="south,west,north,east: a box"),
        store: str | None = Query(None, max_length=64),
        last_event_id_header: str | None = fastapi.Header(None, alias="Last-Event-ID"),
    ) -> Response:
        """`id:` / `event:` / `data:` framing, a `retry:` hint and a heartbeat comment. Resumes
        after the `Last-Event-ID` header (or `?last_event_id=`) with no gap and no duplicate; an id
        the log no longer holds gets `event: reset`. A client too slow for its queue gets
        `event: overflow` and is disconnected (resume by id). `?store=` names the store the id came
        from (`store_id` of `/current-calls/`): an id from another store (an earlier demo run)
        gets `reset`, and so does every stream when the server switches stores. Filters: `?division=` (comma
        separated), `?priority=` (1-4 or `unknown`, comma separated), an area: `?near=lat,lon&radius_m=M` or
        `?bbox=south,west,north,east` (a call's events while its point is inside, the update that
        moves it out, and the `location.resolved` that places a call inside)."""
        after = event_id_param(last_event_id_header, "Last-Event-ID")
        if after is None:
            after = event_id_param(last_event_id, "last_event_id")
        try:
            flt = StreamFilter.parse(division, priority, near, radius_m, bbox)
        except ValueError as exc:
            raise ApiError(400, "bad_request", str(exc)) from exc
        stream = client_stream(
            view,
            after,
            flt,
            queue_size=settings.sse_queue_size,
            retry_ms=RETRY_MS,
            store_id=store,
            heartbeat_s=settings.sse_heartbeat_s,
            max_backlog=settings.sse_max_backlog,
        )
        return EventStreamResponse(stream, send_timeout_s=SSE_SEND_TIMEOUT_S)

    @app.post(
        "/events/",
        tags=["events"],
        summary="Ingest events (the AWS publisher)",
        responses=responses(schemas.IngestResultBody, 400, 401, 404, 413, 422),
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": INGEST_BODY_REF}}}
        },
    )
    async def ingest(request: Request) -> Response:
        """Bearer token required (`DALLAS_CALLS_INGEST_TOKEN`; 404 while unset). Body
        `{"events": [{id, type, at, data}]}` at most `ingest_max_bytes`. Idempotent by id: events at
        or below the newest id seen are skipped."""
        return await ingest_events(request, settings, view, bus)

    @app.get(
        "/calls/{incident_number}",
        tags=["calls"],
        summary="One call with its event history",
        responses=responses(schemas.CallDetailBody, 404, 422),
    )
    async def get_call(incident_number: str) -> Response:
        if len(incident_number) > INCIDENT_NUMBER_MAX_LENGTH:
            raise ApiError(404, "not_found", "no such call")
        call, events = await run_in_threadpool(
            lambda: (
                store_of().get_call(incident_number),
                store_of().call_events(incident_number),
            )
        )
        if call is not None:
            body = call.to_dict()
        else:  # an API-only replica knows ingested calls from its view and ring only
            await view.sync()
            known = view.calls.get(incident_number)
            if known is None:
                raise ApiError(404, "not_found", f"no call {incident_number!r}")
            body = known
        history = [e.to_dict() for e in events]
        if not events:
            key = body.get("location_key")
            history = [
                e.to_dict()
                for e in view.ring_events()
                if e.incident_number == incident_number
                or (e.type == "location.resolved" and key is not None and e.location_key == key)
            ]
        return JSONResponse({"call": body, "events": history})

    @app.get(
        "/stats",
        tags=["calls"],
        summary="Counts, ages and calls per hour",
        responses=responses(schemas.StatsBody),
    )
    async def stats() -> Response:
        await view.sync()
        return JSONResponse(view.stats())

    @app.get(
        "/history",
        tags=["calls"],
        summary="Calls first seen in a time window",
        responses=with_export_content(responses(schemas.HistoryBody, 400, 422)),
    )
    async def history(
        start: str | None = Query(None, json_schema_extra={"format": "date-time"}),
        end: str | None = Query(None, json_schema_extra={"format": "date-time"}),
        limit: int = Query(1000, ge=1, le=HISTORY_MAX_LIMIT),
        format: ExportFormat | None = None,
    ) -> Response:
        """Calls (open or closed) first seen in `[start, end)`, oldest first. ISO 8601 times from
        1900 to 2199; the window may span at most 31 days. `?format=csv|geojson`: every call of
        the window (no `limit`), streamed."""
        begin, finish = history_window(start, end)
        if format is not None:
            return history_export(store_of(), begin, finish, format)
        calls = await run_in_threadpool(store_of().calls_between, iso_utc(begin), iso_utc(finish), limit + 1)
        return JSONResponse(
            {
                "start": iso_utc(begin),
                "end": iso_utc(finish),
                "count": min(len(calls), limit),
                "truncated": len(calls) > limit,
                "calls": [c.to_dict() for c in calls[:limit]],
            }
        )
