"""The HTTP API (REST + Server-Sent Events) and the dashboard route.

``create_app`` wires a settings object, a state store and an event bus into a FastAPI app. Its
lifespan starts the bus, builds the current-calls view from the store and subscribes it to the bus,
runs ``background`` (the poller, in ``dallas-calls serve``) as a task, and undoes all of it on
shutdown.

Ingest (``POST /events/``) takes events whose ids were given elsewhere (the AWS publisher: DynamoDB
Streams). They are published to the bus (every replica, with Redis) and applied to the view; they are
NOT appended to the local SQLite store, whose own ids would not match. Resume of such events is
served from the view's in-memory ring (the last ``DEFAULT_RING_SIZE`` events, at most
``DALLAS_CALLS_SSE_RING_MAX_BYTES`` of frames); an id older than the ring gets a ``reset``. Ids at or below the newest seen are skipped (idempotent redelivery). Do not
feed one process both a poller and ingest: the two id spaces would collide.

Around the routes: the per-client limits (``limits.py``), the security headers and /docs
(``security.py``), the error format (``errors.py``) and the OpenAPI document (``openapi.py``,
models in ``schemas.py``). How uvicorn serves it is in ``server.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastapi
from fastapi import FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from dallas_calls.api import schemas
from dallas_calls.api.errors import ApiError, install_error_handlers
from dallas_calls.api.event_stream import EventStreamResponse
from dallas_calls.api.ingest import ingest_events
from dallas_calls.api.inputs import event_id_param
from dallas_calls.api.limits import (
    EVENT_STREAM_PATHS,
    RateLimitMiddleware,
    StreamConnectionLimit,
    trusted_proxies,
)
from dallas_calls.api.middleware import MetricsMiddleware
from dallas_calls.api.openapi import INGEST_BODY_REF, install_openapi, responses
from dallas_calls.api.pwa import add_pwa_routes
from dallas_calls.api.routes_analytics import add_analytics_routes
from dallas_calls.api.routes_extra import (
    ExportFormat,
    add_extra_routes,
    current_calls_export,
    geo_file,
    history_export,
    with_export_content,
)
from dallas_calls.api.routes_history import add_history_routes, history_window
from dallas_calls.api.security import install_docs, install_security_headers, require_bearer
from dallas_calls.api.stats import parse_time
from dallas_calls.api.view import DEFAULT_RING_SIZE, CurrentCallsView
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus
from dallas_calls.events.filters import StreamFilter
from dallas_calls.events.sse import RETRY_MS, client_stream
from dallas_calls.liveness import Liveness
from dallas_calls.mode import ModeState
from dallas_calls.model import INCIDENT_NUMBER_MAX_LENGTH, iso_utc
from dallas_calls.storage.port import ReadStore

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parents[1]
WEB_DIR = PACKAGE / "web"
GEO_DATA_DIR = PACKAGE / "geodata" / "data"
HISTORY_MAX_LIMIT = 5000
SSE_SEND_TIMEOUT_S = 30.0
STALE_POLL_INTERVALS = 3

Readiness = Callable[[], Mapping[str, Any]]

PLACEHOLDER_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dallas-calls</title></head>
<body><h1>dallas-calls</h1><p>The dashboard is not built into this package. The API is live:
<a href="/current-calls/">/current-calls/</a>, <a href="/stats">/stats</a>, <a href="/docs">/docs</a>.</p>
</body></html>
"""


# -- helpers -----------------------------------------------------------------------------------


class _SelectiveGZip:
    """GZip for everything but the event stream (each SSE write would pass through it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.plain = app
        self.gzip = GZipMiddleware(app, minimum_size=1000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in EVENT_STREAM_PATHS:
            await self.gzip(scope, receive, send)
        else:
            await self.plain(scope, receive, send)


def _lag_reason(body: Mapping[str, Any]) -> str:
    if body.get("store_check_error"):
        return f"cannot read the store: {body['store_check_error']}"
    return f"{body['store_lag_events']} events behind the store for {body['store_behind_s']} s"


class _GeoJsonResponse(JSONResponse):
    """The media type of /geo/ (the files are served as they are; this names the type in /docs)."""

    media_type = "application/geo+json"


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


def _age_s(at: str | None) -> float | None:
    parsed = parse_time(at)
    return None if parsed is None else max((datetime.now(UTC) - parsed).total_seconds(), 0.0)


class _PollFreshness:
    """Age of the last good poll: from its timestamp, or from when this process saw a new one appear
    (a replay of old recordings stamps polls with the recorded time, which is always old)."""

    def __init__(self) -> None:
        self.seen_at: str | None = None
        self.changed_mono: float | None = None
        self.first = True

    def age(self, started_at: str | None) -> float | None:
        if started_at != self.seen_at:
            if not self.first and started_at is not None:
                self.changed_mono = time.monotonic()
            self.seen_at = started_at
        self.first = False
        ages = [a for a in (_age_s(started_at),) if a is not None]
        if self.changed_mono is not None:
            ages.append(time.monotonic() - self.changed_mono)
        return min(ages) if ages else None


# -- the app -----------------------------------------------------------------------------------


def create_app(
    settings: Settings,
    store: ReadStore,
    bus: EventBus,
    background: Callable[[], Awaitable[None]] | None = None,
    readiness: Readiness | None = None,
    mode: ModeState | None = None,
    liveness: Liveness | None = None,
    geodata_status: Callable[[], Mapping[str, Any]] | None = None,
) -> FastAPI:
    """The API. ``background`` (the poller) runs as a task for the app's lifetime; ``readiness``
    replaces the default ``/readyz`` check (it returns the body; ``"ready"`` decides 200 or 503);
    ``mode`` says whether the calls are live, a replay or the demo (default: live); ``liveness``
    is the poller's heartbeat behind ``/healthz`` (503 when the poller stopped or stalled).

    ``app.state.replace_store(store, reason)`` makes the app serve another store from then on (the
    next demo run, or live data replacing the demo): the view rebuilds and every stream resets."""
    mode = mode or ModeState()
    view = CurrentCallsView(
        store,
        ring_size=max(DEFAULT_RING_SIZE, 2 * settings.sse_queue_size),
        mode=mode,
        ring_max_bytes=settings.sse_ring_max_bytes,
        ring_min_events=2 * settings.sse_queue_size,
    )
    current: dict[str, ReadStore] = {"store": store}
    freshness = _PollFreshness()
    tasks: dict[str, asyncio.Task[None]] = {}
    started = {"at": time.monotonic()}
    stopped: dict[str, str] = {}

    async def run_background() -> None:
        assert background is not None
        try:
            await background()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stopped["error"] = f"{type(exc).__name__}: {exc}"
            log.exception("the background task (poller) stopped with an error")
            return
        if liveness is not None and liveness.finished is None:
            stopped["error"] = "it returned"

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bus.start()
        # No await between loading and subscribing: no event can fall between the two.
        view.load()
        view.attach(bus)
        if background is not None:
            tasks["background"] = asyncio.get_running_loop().create_task(run_background(), name="poller")
        started["at"] = time.monotonic()
        try:
            yield
        finally:
            task = tasks.pop("background", None)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await view.detach()
            await bus.stop()

    app = FastAPI(
        title="dallas-calls",
        summary="Live Dallas police calls: current calls, an event stream, stats and history.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )

    async def replace_store(new_store: ReadStore, reason: str) -> None:
        await view.sync()  # no await between here and the rebuild: no event falls between
        current["store"] = new_store
        view.replace_store(new_store, reason)
        log.info("now serving %s (%s)", mode.current.mode, reason)

    app.state.view = view
    app.state.bus = bus
    app.state.mode = mode
    app.state.replace_store = replace_store
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app, settings.tile_url)
    install_security_headers(app, settings.tile_url)

    def default_readiness() -> dict[str, Any]:
        store = current["store"]
        poll = store.last_good_poll()
        body: dict[str, Any] = {
            **mode.current.to_dict(),
            "geodata": dict(geodata_status()) if geodata_status else None,
            "ready": False,
            "last_good_poll_at": poll.started_at if poll else None,
            "last_good_poll_age_s": None,
            "poll_interval_s": settings.poll_interval_s,
            "reason": None,
            "last_event_id": view.last_event_id,
            "bus_connected": bool(getattr(bus, "connected", True)),
            **view.lag.report(),
        }
        if background is None and poll is None:
            # API-only replica: nothing polls here; ready when the bus is connected.
            body["role"] = "api-only"
            body["ready"] = body["bus_connected"] and body["in_step"]
            if not body["bus_connected"]:
                body["reason"] = "event bus disconnected"
            elif not body["in_step"]:
                body["reason"] = _lag_reason(body)
            return body
        body["role"] = "poller" if background is not None else "api-shared-store"
        limit = STALE_POLL_INTERVALS * settings.poll_interval_s
        age = freshness.age(poll.started_at if poll else None)
        if age is not None:
            body["last_good_poll_age_s"] = round(age, 3)
        if poll is None:
            body["reason"] = "no successful poll yet"
        elif age is None or age > limit:
            body["reason"] = (
                f"last good poll is older than {STALE_POLL_INTERVALS} poll intervals ({limit:g} s)"
            )
        elif not body["bus_connected"]:
            body["reason"] = "event bus disconnected"
        elif not body["in_step"]:
            body["reason"] = _lag_reason(body)
        else:
            body["ready"] = True
        return body

    check_ready = readiness or default_readiness

    # -- routes ----------------------------------------------------------------------------------

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
                current["store"].get_call(incident_number),
                current["store"].call_events(incident_number),
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
            return history_export(current["store"], begin, finish, format)
        calls = await run_in_threadpool(
            current["store"].calls_between, iso_utc(begin), iso_utc(finish), limit + 1
        )
        return JSONResponse(
            {
                "start": iso_utc(begin),
                "end": iso_utc(finish),
                "count": min(len(calls), limit),
                "truncated": len(calls) > limit,
                "calls": [c.to_dict() for c in calls[:limit]],
            }
        )

    @app.get(
        "/healthz",
        tags=["ops"],
        summary="Liveness: is the poller alive?",
        responses={
            **responses(schemas.HealthBody),
            503: {"model": schemas.HealthBody, "description": "The poller stopped or stalled (`reason`)"},
        },
    )
    async def healthz() -> Response:
        """200 while the process serves and its poller (if any) polls; 503 when the poller task is
        gone or no poll attempt finished within 3 of its intervals (plus one attempt's timeouts),
        so a supervisor restarts the process. A replay that played to its end stays 200."""
        body: dict[str, Any] = {"ok": True}
        if liveness is not None:
            task = tasks.get("background")
            running = task is not None and not task.done() and "error" not in stopped
            body = liveness.report(running, stopped.get("error"))
        body["uptime_s"] = round(time.monotonic() - started["at"], 1)
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Readiness: feed freshness (or bus, on API-only replicas)",
        responses={
            **responses(schemas.ReadyBody),
            503: {"model": schemas.ReadyBody, "description": "Not ready (`reason` says why)"},
        },
    )
    async def readyz() -> Response:
        body = dict(await run_in_threadpool(check_ready))
        return JSONResponse(body, status_code=200 if body.get("ready") else 503)

    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics",
        response_class=Response,
        responses=responses(CONTENT_TYPE_LATEST.split(";")[0], 401),
    )
    async def prometheus(request: Request) -> Response:
        """Open unless `DALLAS_CALLS_METRICS_TOKEN` is set; then `Authorization: Bearer <token>`."""
        if settings.metrics_token:
            require_bearer(request, settings.metrics_token)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/config.json",
        tags=["dashboard"],
        summary="Dashboard configuration",
        responses=responses(schemas.DashboardConfigBody),
    )
    async def config_json() -> Response:
        return JSONResponse(
            {
                "tile_url": settings.tile_url,
                "tile_attribution": settings.tile_attribution,
                "poll_interval_s": settings.poll_interval_s,
                **mode.current.to_dict(),
                "geodata": dict(geodata_status()) if geodata_status else None,
            }
        )

    @app.get(
        "/geo/{name}.geojson",
        tags=["dashboard"],
        summary="City limits and police beats",
        response_class=_GeoJsonResponse,
        responses=responses(schemas.GeoJsonBody, 404, 422),
    )
    async def geojson(name: str = fastapi.Path(json_schema_extra={"enum": ["city", "beats"]})) -> Response:
        if name not in ("city", "beats"):
            raise ApiError(404, "not_found", f"no geography {name!r} (city or beats)")
        path = geo_file(name, settings, GEO_DATA_DIR / f"{name}.geojson")
        if not path.is_file():
            raise ApiError(404, "not_found", f"{name}.geojson is not installed (run `dallas-calls geodata`)")
        return FileResponse(path, media_type=_GeoJsonResponse.media_type)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        page = WEB_DIR / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html")
        return HTMLResponse(PLACEHOLDER_INDEX)

    add_extra_routes(app, settings)
    add_pwa_routes(app, WEB_DIR)
    add_history_routes(app, lambda: current["store"])
    add_analytics_routes(app, lambda: current["store"], lambda: view.last_event_id)
    app.mount("/static", StaticFiles(directory=WEB_DIR, check_dir=False), name="static")

    # Outermost last: proxy headers (trusted peers only) decide the client IP the limits count by.
    app.add_middleware(_SelectiveGZip)
    app.add_middleware(StreamConnectionLimit, per_ip=settings.sse_max_clients_per_ip)
    app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_min)
    app.add_middleware(MetricsMiddleware)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "If-None-Match"],
            expose_headers=["ETag"],
        )
    app.add_middleware(trusted_proxies, proxies=settings.trusted_proxies)
    return app
