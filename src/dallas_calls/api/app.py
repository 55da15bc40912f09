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

The routes live in ``routes_*.py`` (each registered on the app itself, so ``app.routes`` lists
them): the calls and the event stream (``routes_calls.py``), ``/healthz``, ``/readyz`` and
``/metrics`` (``routes_ops.py``), the dashboard's page, configuration and geography
(``routes_dashboard.py``), then ``routes_extra.py``, ``pwa.py``, ``routes_history.py`` and
``routes_analytics.py``. Around them: the per-client limits (``limits.py``), the security headers
and /docs (``security.py``), the error format (``errors.py``) and the OpenAPI document
(``openapi.py``, models in ``schemas.py``). How uvicorn serves it is in ``server.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from dallas_calls.api.errors import install_error_handlers
from dallas_calls.api.limits import (
    EVENT_STREAM_PATHS,
    RateLimitMiddleware,
    StreamConnectionLimit,
    trusted_proxies,
)
from dallas_calls.api.middleware import MetricsMiddleware
from dallas_calls.api.openapi import install_openapi
from dallas_calls.api.pwa import add_pwa_routes
from dallas_calls.api.routes_analytics import add_analytics_routes
from dallas_calls.api.routes_calls import add_call_routes
from dallas_calls.api.routes_dashboard import WEB_DIR, add_dashboard_routes
from dallas_calls.api.routes_extra import add_extra_routes
from dallas_calls.api.routes_history import add_history_routes
from dallas_calls.api.routes_ops import Readiness, add_ops_routes, default_readiness
from dallas_calls.api.security import install_docs, install_security_headers
from dallas_calls.api.view import DEFAULT_RING_SIZE, CurrentCallsView
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus
from dallas_calls.liveness import Liveness
from dallas_calls.mode import ModeState
from dallas_calls.storage.port import ReadStore

log = logging.getLogger(__name__)


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

    def health() -> dict[str, Any]:
        body: dict[str, Any] = {"ok": True}
        if liveness is not None:
            task = tasks.get("background")
            running = task is not None and not task.done() and "error" not in stopped
            body = liveness.report(running, stopped.get("error"))
        body["uptime_s"] = round(time.monotonic() - started["at"], 1)
        return body

    def store_of() -> ReadStore:
        return current["store"]

    check_ready = readiness or default_readiness(
        settings, store_of, view, bus, mode, geodata_status, polls=background is not None
    )

    # -- routes ----------------------------------------------------------------------------------

    add_call_routes(app, settings, view, bus, mode, store_of)
    add_ops_routes(app, settings, check_ready, health)
    add_dashboard_routes(app, settings, mode, geodata_status)
    add_extra_routes(app, settings)
    add_pwa_routes(app, WEB_DIR)
    add_history_routes(app, store_of)
    add_analytics_routes(app, store_of, lambda: view.last_event_id)
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
