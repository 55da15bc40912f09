"""Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer and slow the SSE streams):
per-IP rate limiting of REST requests and request-latency metrics."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dallas_calls import metrics

# Not rate limited: the event stream (long-lived, reconnects carry their own backoff) and probes.
UNLIMITED_PATHS = frozenset({"/get-events/", "/get-events", "/healthz", "/readyz", "/metrics"})
# Not timed: the event stream lives for minutes; its latency would drown the REST figures.
UNTIMED_PATHS = frozenset({"/get-events/", "/get-events"})


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client IP: ``per_minute`` requests a minute, bursts up to that many."""

    def __init__(self, per_minute: int, max_clients: int = 100_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def check(self, client: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_idle(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full_after = self.capacity / self.rate if self.rate else 0.0
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_clients:  # still full: forget the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].updated)[: self.max_clients // 2]:
                del self._buckets[key]


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.limiter = RateLimiter(per_minute) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is None or scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limiter.check(client[0] if client else "unknown")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        body = json.dumps(
            {"error": "rate_limited", "message": f"too many requests; retry in {retry_after} s"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


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
