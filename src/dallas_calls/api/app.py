"""The HTTP API (REST + Server-Sent Events) and the dashboard route.

``create_app`` wires a settings object, a state store and an event bus into a FastAPI app. Its
lifespan starts the bus, builds the current-calls view from the store and subscribes it to the bus,
runs ``background`` (the poller, in ``dallas-calls serve``) as a task, and undoes all of it on
shutdown.

Ingest (``POST /events/``) takes events whose ids were given elsewhere (the AWS publisher: DynamoDB
Streams). They are published to the bus (every replica, with Redis) and applied to the view; they are
NOT appended to the local SQLite store, whose own ids would not match. Resume of such events is
served from the view's in-memory ring (the last ``DEFAULT_RING_SIZE`` events); an id older than the
ring gets a ``reset``. Ids at or below the newest seen are skipped (idempotent redelivery). Do not
feed one process both a poller and ingest: the two id spaces would collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from dallas_calls import metrics
from dallas_calls.api.event_stream import EventStreamResponse
from dallas_calls.api.middleware import UNTIMED_PATHS, MetricsMiddleware, RateLimitMiddleware
from dallas_calls.api.routes_extra import (
    ExportFormat,
    add_extra_routes,
    current_calls_export,
    geo_file,
    history_export,
    with_export_content,
)
from dallas_calls.api.stats import iso_utc, parse_time
from dallas_calls.api.view import DEFAULT_RING_SIZE, CurrentCallsView
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus
from dallas_calls.events.sse import RETRY_MS, StreamFilter, client_stream
from dallas_calls.liveness import Liveness
from dallas_calls.mode import ModeState
from dallas_calls.model import EVENT_TYPES, INCIDENT_NUMBER_MAX_LENGTH, Call, Event
from dallas_calls.storage.port import ReadStore

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parents[1]
WEB_DIR = PACKAGE / "web"
GEO_DATA_DIR = PACKAGE / "geodata" / "data"
HISTORY_MAX_WINDOW = timedelta(days=31)
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


# -- errors ------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, dict(headers or {})


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
}


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        response = error_response(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such path: {request.url.path}"
        response = error_response(exc.status_code, _STATUS_CODES.get(exc.status_code, "error"), message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        summary = "; ".join(f"{'.'.join(p['loc'])}: {p['msg']}" for p in problems)
        return error_response(422, "invalid_request", f"invalid request: {summary}", errors=problems)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)


# -- ingest schema -----------------------------------------------------------------------------


class IngestEvent(BaseModel):
    """One event as the publisher sends it: the wire form ``{id, type, at, data}``."""

    model_config = ConfigDict(extra="forbid")

    id: StrictInt = Field(ge=1)
    type: Literal["call.opened", "call.updated", "call.closed", "location.resolved"]
    at: str = Field(min_length=1, max_length=64)
    data: dict[str, Any]

    @model_validator(mode="after")
    def _check(self) -> IngestEvent:
        if parse_time(self.at) is None:
            raise ValueError(f"at: not an ISO 8601 time: {self.at!r}")
        if self.type.startswith("call."):
            call = self.data.get("call")
            if not isinstance(call, dict):
                raise ValueError(f"{self.type} needs data.call (an object)")
            try:
                Call.from_dict(call)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"data.call is not a call: {exc!r}") from exc
        else:
            if not isinstance(self.data.get("location_key"), str):
                raise ValueError("location.resolved needs data.location_key (a string)")
            if not isinstance(self.data.get("geo"), dict):
                raise ValueError("location.resolved needs data.geo (an object)")
            numbers = self.data.get("incident_numbers", [])
            if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
                raise ValueError("data.incident_numbers must be a list of strings")
        return self


class IngestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[IngestEvent] = Field(max_length=10_000)


assert set(EVENT_TYPES) == {"call.opened", "call.updated", "call.closed", "location.resolved"}


# -- helpers -----------------------------------------------------------------------------------


class _SelectiveGZip:
    """GZip for everything but the event stream (each SSE write would pass through it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.plain = app
        self.gzip = GZipMiddleware(app, minimum_size=1000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in UNTIMED_PATHS:
            await self.gzip(scope, receive, send)
        else:
            await self.plain(scope, receive, send)


def _lag_reason(body: Mapping[str, Any]) -> str:
    if body.get("store_check_error"):
        return f"cannot read the store: {body['store_check_error']}"
    return f"{body['store_lag_events']} events behind the store for {body['store_behind_s']} s"


def _event_id(text: str | None, name: str) -> int | None:
    if text is None or text.strip() == "":
        return None
    value = text.strip()
    if not value.isdigit() or len(value) > 18:
        raise ApiError(400, "bad_request", f"{name} must be a non-negative integer event id, got {value!r}")
    return int(value)


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


def _parse_bound(text: str | None, name: str) -> datetime:
    if text is None or not text.strip():
        raise ApiError(400, "bad_request", f"{name} is required (ISO 8601 time, e.g. 2019-06-18T05:00:00Z)")
    parsed = parse_time(text.strip().replace(" ", "+"))
    if parsed is None:
        raise ApiError(400, "bad_request", f"{name} is not an ISO 8601 time: {text!r}")
    return parsed


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
) -> FastAPI:
    """The API. ``background`` (the poller) runs as a task for the app's lifetime; ``readiness``
    replaces the default ``/readyz`` check (it returns the body; ``"ready"`` decides 200 or 503);
    ``mode`` says whether the calls are live, a replay or the demo (default: live); ``liveness``
    is the poller's heartbeat behind ``/healthz`` (503 when the poller stopped or stalled).

    ``app.state.replace_store(store, reason)`` makes the app serve another store from then on (the
    next demo run, or live data replacing the demo): the view rebuilds and every stream resets."""
    mode = mode or ModeState()
    view = CurrentCallsView(store, ring_size=max(DEFAULT_RING_SIZE, 2 * settings.sse_queue_size), mode=mode)
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
    _install_error_handlers(app)

    def default_readiness() -> dict[str, Any]:
        store = current["store"]
        poll = store.last_good_poll()
        body: dict[str, Any] = {
            **mode.current.to_dict(),
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
        responses=with_export_content(),
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
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def get_events(
        request: Request,
        last_event_id: str | None = None,
        division: str | None = None,
        priority: str | None = None,
        store: str | None = Query(None, max_length=64),
    ) -> Response:
        """`id:` / `event:` / `data:` framing, a `retry:` hint and a heartbeat comment. Resumes
        after the `Last-Event-ID` header (or `?last_event_id=`) with no gap and no duplicate; an id
        the log no longer holds gets `event: reset`. A client too slow for its queue gets
        `event: overflow` and is disconnected (resume by id). `?store=` names the store the id came
        from (`store_id` of `/current-calls/`): an id from another store (an earlier demo run)
        gets `reset`, and so does every stream when the server switches stores. Filters: `?division=` (comma
        separated), `?priority=` (1-4 or `unknown`, comma separated)."""
        after = _event_id(request.headers.get("last-event-id"), "Last-Event-ID")
        if after is None:
            after = _event_id(last_event_id, "last_event_id")
        try:
            flt = StreamFilter.parse(division, priority)
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
        )
        return EventStreamResponse(stream, send_timeout_s=SSE_SEND_TIMEOUT_S)

    @app.post(
        "/events/",
        tags=["events"],
        summary="Ingest events (the AWS publisher)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": IngestBody.model_json_schema()}},
            }
        },
    )
    async def ingest(request: Request) -> Response:
        """Bearer token required (`DALLAS_CALLS_INGEST_TOKEN`; 404 while unset). Body
        `{"events": [{id, type, at, data}]}` at most `ingest_max_bytes`. Idempotent by id: events at
        or below the newest id seen are skipped."""
        token = settings.ingest_token
        if not token:
            raise ApiError(404, "not_found", "ingest is disabled (no ingest token configured)")
        auth = request.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(
                401, "unauthorized", "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
            )
        limit = settings.ingest_max_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise ApiError(400, "bad_request", "invalid Content-Length")
            if int(declared) > limit:
                raise ApiError(413, "too_large", f"body over {limit} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise ApiError(413, "too_large", f"body over {limit} bytes")
        try:
            parsed = IngestBody.model_validate_json(bytes(body))
        except ValidationError as exc:
            problems = [
                {"loc": [str(p) for p in e["loc"]], "msg": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
            summary = "; ".join(f"{'.'.join(p['loc']) or 'body'}: {p['msg']}" for p in problems[:5])
            return error_response(422, "invalid_request", f"invalid events: {summary}", errors=problems)
        await view.sync()
        newest = view.last_event_id
        fresh: dict[int, Event] = {}
        for item in parsed.events:
            if item.id > newest and item.id not in fresh:
                fresh[item.id] = Event(
                    item.id,
                    item.type,
                    item.at,
                    item.data,
                    incident_number=(item.data.get("call") or {}).get("incident_number"),
                    location_key=item.data.get("location_key"),
                )
        events = [fresh[i] for i in sorted(fresh)]
        if events:
            await bus.publish(events)
            await view.sync()
            for event in events:
                metrics.EVENTS.labels(event.type).inc()
        return JSONResponse(
            {
                "accepted": len(events),
                "duplicates": len(parsed.events) - len(events),
                "last_event_id": max(view.last_event_id, events[-1].id if events else 0),
            }
        )

    @app.get("/calls/{incident_number}", tags=["calls"], summary="One call with its event history")
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
        if not events:
            key = body.get("location_key")
            events = [
                e
                for e in view.ring_events()
                if e.incident_number == incident_number
                or (e.type == "location.resolved" and key is not None and e.location_key == key)
            ]
        return JSONResponse({"call": body, "events": [e.to_dict() for e in events]})

    @app.get("/stats", tags=["calls"], summary="Counts, ages and calls per hour")
    async def stats() -> Response:
        await view.sync()
        return JSONResponse(view.stats())

    @app.get(
        "/history",
        tags=["calls"],
        summary="Calls first seen in a time window",
        responses=with_export_content(),
    )
    async def history(
        start: str | None = None,
        end: str | None = None,
        limit: int = Query(1000, ge=1, le=HISTORY_MAX_LIMIT),
        format: ExportFormat | None = None,
    ) -> Response:
        """Calls (open or closed) first seen in `[start, end)`, oldest first. ISO 8601 times; the
        window may span at most 31 days. `?format=csv|geojson`: every call of the window (no
        `limit`), streamed."""
        begin, finish = _parse_bound(start, "start"), _parse_bound(end, "end")
        if finish <= begin:
            raise ApiError(400, "bad_request", "end must be after start")
        if finish - begin > HISTORY_MAX_WINDOW:
            raise ApiError(400, "bad_request", f"the window may span at most {HISTORY_MAX_WINDOW.days} days")
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

    @app.get("/healthz", tags=["ops"], summary="Liveness: is the poller alive?")
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

    @app.get("/readyz", tags=["ops"], summary="Readiness: feed freshness (or bus, on API-only replicas)")
    async def readyz() -> Response:
        body = dict(await run_in_threadpool(check_ready))
        return JSONResponse(body, status_code=200 if body.get("ready") else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/config.json", tags=["dashboard"], summary="Dashboard configuration")
    async def config_json() -> Response:
        return JSONResponse(
            {
                "tile_url": settings.tile_url,
                "tile_attribution": settings.tile_attribution,
                "poll_interval_s": settings.poll_interval_s,
                **mode.current.to_dict(),
            }
        )

    @app.get("/geo/{name}.geojson", tags=["dashboard"], summary="City limits and police beats")
    async def geojson(name: str) -> Response:
        if name not in ("city", "beats"):
            raise ApiError(404, "not_found", f"no geography {name!r} (city or beats)")
        path = geo_file(name, settings, GEO_DATA_DIR / f"{name}.geojson")
        if not path.is_file():
            raise ApiError(404, "not_found", f"{name}.geojson is not installed (run `dallas-calls geodata`)")
        return FileResponse(path, media_type="application/geo+json")

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        page = WEB_DIR / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html")
        return HTMLResponse(PLACEHOLDER_INDEX)

    add_extra_routes(app, settings)
    app.mount("/static", StaticFiles(directory=WEB_DIR, check_dir=False), name="static")

    app.add_middleware(_SelectiveGZip)
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
    return app
