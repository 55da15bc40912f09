"""Response headers that keep browsers safe with the dashboard, and the /docs page they allow.

Every response (a 500 included) carries a Content-Security-Policy, ``X-Content-Type-Options:
nosniff``, a ``Referrer-Policy`` and ``X-Frame-Options`` (for browsers without
``frame-ancestors``), added by a pure ASGI layer (``BaseHTTPMiddleware`` would buffer the event
stream).

What the policy allows is what the dashboard and /docs really load, no more:

* scripts, styles, fetches and the event stream from this origin only (Leaflet, markercluster and
  Swagger UI are served from /static/vendor/, never a CDN);
* images from this origin, ``data:`` URIs (the favicon, Leaflet's and Swagger UI's CSS icons) and
  the map tile host of ``DALLAS_CALLS_TILE_URL``;
* the service worker (``/sw.js``) and the web app manifest from this origin (``worker-src``,
  ``manifest-src``; named although ``default-src`` implies them, so that tightening another
  directive cannot take them away);
* inline ``style`` attributes: the dashboard sizes its bars and draws its cluster pies with them;
* no inline script, except the one initialisation script of /docs, allowed by its hash on that
  page alone.

The Referrer-Policy is ``strict-origin-when-cross-origin``: tile servers (OpenStreetMap's usage
policy asks for it) still learn which site asks for tiles, never a page's path or query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dallas_calls.api.errors import ApiError

SWAGGER_ASSETS = "/static/vendor/swagger-ui"
REFERRER_POLICY = "strict-origin-when-cross-origin"


def tile_source(tile_url: str) -> str | None:
    """The CSP source of a tile URL template: ``https://{s}.tile.example.org/{z}/{x}/{y}.png`` is
    ``https://*.tile.example.org``. None when the template names no absolute http(s) host (tiles
    from this origin need no entry)."""
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    labels = parts.netloc.rsplit("@", 1)[-1].split(".")
    # A placeholder such as {s} becomes a wildcard, which CSP allows in the leftmost labels only.
    first_fixed = next((i for i, label in enumerate(labels) if "{" not in label), len(labels))
    fixed = labels[first_fixed:]
    if not fixed or any("{" in label for label in fixed):
        return None
    host = ".".join(fixed) if first_fixed == 0 else "*." + ".".join(fixed)
    if not re.fullmatch(r"[\w.*-]+(:\d+)?", host):
        return None
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str, script_hashes: tuple[str, ...] = ()) -> str:
    tiles = tile_source(tile_url)
    scripts = " ".join(["'self'", *(f"'{h}'" for h in script_hashes)])
    directives = [
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:" + (f" {tiles}" if tiles else ""),
        "connect-src 'self'",
        "font-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP response; a response that sets its own CSP (/docs) keeps it."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", REFERRER_POLICY.encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name.decode() not in headers:
                        headers.append(name.decode(), value.decode())
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: FastAPI, tile_url: str) -> None:
    """The headers around the app's whole middleware stack, Starlette's ServerErrorMiddleware
    included, so that even a 500 carries them (``add_middleware`` would place them inside it)."""
    build = app.build_middleware_stack
    csp = content_security_policy(tile_url)

    def build_with_headers() -> ASGIApp:
        return SecurityHeadersMiddleware(build(), csp)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]


def require_bearer(request: Request, token: str) -> None:
    """401 unless the request carries ``Authorization: Bearer <token>`` (compared in constant time)."""
    auth = request.headers.get("authorization", "")
    scheme, _, given = auth.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(
            401, "unauthorized", "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
        )


def _inline_script_hashes(html: str) -> tuple[str, ...]:
    found = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    return tuple(
        "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() for body in found
    )


def install_docs(app: FastAPI, tile_url: str) -> None:
    """/docs: Swagger UI from the pinned local copy (works offline), its init script allowed by hash."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title}: API",
        swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    csp = content_security_policy(tile_url, _inline_script_hashes(html))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})
