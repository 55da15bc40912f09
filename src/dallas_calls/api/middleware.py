"""Request-latency metrics, as pure ASGI middleware (no BaseHTTPMiddleware: it would buffer and slow
the SSE streams). Per-client limits are in ``limits.py``, response headers in ``security.py``."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dallas_calls import metrics
from dallas_calls.api.limits import EVENT_STREAM_PATHS

# Not timed: the event stream lives for minutes; its latency would drown the REST figures.
UNTIMED_PATHS = EVENT_STREAM_PATHS


class MetricsMiddleware:
    """REQUEST_LATENCY by route template (not raw path: bounded label values), method and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTIMED_PATHS:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "static" if scope["path"].startswith("/static/") else "other"
            )
            metrics.REQUEST_LATENCY.labels(template, scope["method"], str(status)).observe(
                time.perf_counter() - start
            )
