"""How much one client may take: requests per minute and open event streams, per client IP.

Both are pure ASGI layers (no BaseHTTPMiddleware: it would buffer the SSE streams). The client IP is
the socket's peer, or, only when the peer is one of ``DALLAS_CALLS_TRUSTED_PROXIES``, the address
its ``X-Forwarded-For`` names (``trusted_proxies`` below, in front of both). A peer that is not
trusted cannot choose its bucket by sending a header.

SSE connects count against the request rate like any request (a reconnect loop is a request loop);
the connection cap bounds what a client holds at once: each open stream is a socket, a task and a
cursor into the ring, and without a cap one client can take every file descriptor of the server.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from dallas_calls.api.errors import send_error

# The event stream: long-lived, so capped per IP, and not timed or compressed.
EVENT_STREAM_PATHS = frozenset({"/get-events/", "/get-events"})
# Not rate limited: probes of load balancers and scrapers, which poll on a schedule of their own.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# What a client refused a stream for its open ones is told to wait before trying again.
STREAM_CAP_RETRY_AFTER_S = 30


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def trusted_proxies(app: ASGIApp, proxies: str) -> ASGIApp:
    """Honour ``X-Forwarded-For``/``-Proto`` only from the listed proxies (addresses or networks,
    comma separated): the client is the header's last address that is not a listed proxy. ``*``
    trusts every peer and takes the first address, which a client can write itself. Empty: no peer
    is trusted, whatever its address (uvicorn's own ``--proxy-headers`` trusts 127.0.0.1 by
    default; ``serve``/``api`` turn it off). uvicorn's middleware does the parsing."""
    listed = [p.strip() for p in proxies.split(",") if p.strip()]
    if not listed:
        return app
    proxied: ASGIApp = ProxyHeadersMiddleware(app, trusted_hosts=listed)  # type: ignore[arg-type,assignment]
    return proxied


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
    """429 with ``Retry-After`` once a client IP has used its requests of the minute."""

    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.limiter = RateLimiter(per_minute) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is None or scope["type"] != "http" or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.check(client_ip(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        await send_error(
            send,
            429,
            f"too many requests; retry in {retry_after} s",
            [(b"retry-after", str(retry_after).encode())],
        )


class StreamConnectionLimit:
    """At most ``per_ip`` open event streams per client IP; the next one gets a 429 until one of
    them closes. Counted around the whole response, so a stream counts until its socket is gone."""

    def __init__(self, app: ASGIApp, per_ip: int) -> None:
        self.app = app
        self.per_ip = per_ip
        self.open: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.per_ip <= 0 or scope["type"] != "http" or scope["path"] not in EVENT_STREAM_PATHS:
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope)
        if self.open[ip] >= self.per_ip:
            await send_error(
                send,
                429,
                f"too many open event streams from this address (at most {self.per_ip})",
                [(b"retry-after", str(STREAM_CAP_RETRY_AFTER_S).encode())],
            )
            return
        self.open[ip] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open[ip] -= 1
            if self.open[ip] <= 0:
                del self.open[ip]
