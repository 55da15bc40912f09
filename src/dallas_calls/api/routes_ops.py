"""The operations endpoints: ``/healthz`` (is the poller alive?), ``/readyz`` (is the feed fresh,
or the bus connected on an API-only replica?) and ``/metrics`` (Prometheus), with the default
readiness check behind ``/readyz``.

Apart from ``app.py`` because what "ready" means (a poll within ``STALE_POLL_INTERVALS`` poll
intervals, the bus connected, the view in step with the store) is a policy of its own; the app
factory only passes in what it owns (the store served now, the poller's health).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from dallas_calls.api import schemas
from dallas_calls.api.openapi import responses
from dallas_calls.api.security import require_bearer
from dallas_calls.api.stats import parse_time
from dallas_calls.api.view import CurrentCallsView
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus
from dallas_calls.mode import ModeState
from dallas_calls.storage.port import ReadStore

STALE_POLL_INTERVALS = 3

Readiness = Callable[[], Mapping[str, Any]]


def _lag_reason(body: Mapping[str, Any]) -> str:
    if body.get("store_check_error"):
        return f"cannot read the store: {body['store_check_error']}"
    return f"{body['store_lag_events']} events behind the store for {body['store_behind_s']} s"


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


def default_readiness(
    settings: Settings,
    store_of: Callable[[], ReadStore],
    view: CurrentCallsView,
    bus: EventBus,
    mode: ModeState,
    geodata_status: Callable[[], Mapping[str, Any]] | None,
    polls: bool,
) -> Readiness:
    """The ``/readyz`` check ``create_app`` uses unless it is given its own. ``polls``: this
    process runs the poller (else it is an API-only replica, or serves a store another process
    polls); ``store_of`` gives the store served now."""
    freshness = _PollFreshness()

    def check() -> dict[str, Any]:
        store = store_of()
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
        if not polls and poll is None:
            # API-only replica: nothing polls here; ready when the bus is connected.
            body["role"] = "api-only"
            body["ready"] = body["bus_connected"] and body["in_step"]
            if not body["bus_connected"]:
                body["reason"] = "event bus disconnected"
            elif not body["in_step"]:
                body["reason"] = _lag_reason(body)
            return body
        body["role"] = "poller" if polls else "api-shared-store"
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

    return check


def add_ops_routes(
    app: FastAPI, settings: Settings, check_ready: Readiness, health: Callable[[], dict[str, Any]]
) -> None:
    """Register ``/healthz``, ``/readyz`` and ``/metrics`` on the app. ``health`` gives the
    ``/healthz`` body (``"ok"`` decides 200 or 503), ``check_ready`` the ``/readyz`` one."""

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
        body = health()
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
