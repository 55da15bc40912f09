"""The dashboard's own routes: the page at ``/``, its configuration ``/config.json`` and the city
limits and beats at ``/geo/{name}.geojson``, with where the dashboard's files are (``WEB_DIR``).

Apart from the API's routes (``routes_calls.py``) because they serve the web page, not the data;
the service worker and manifest are in ``pwa.py``, the ``/static`` mount in ``app.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import fastapi
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from dallas_calls.api import schemas
from dallas_calls.api.errors import ApiError
from dallas_calls.api.openapi import responses
from dallas_calls.api.routes_extra import geo_file
from dallas_calls.config import Settings
from dallas_calls.mode import ModeState

PACKAGE = Path(__file__).resolve().parents[1]
WEB_DIR = PACKAGE / "web"
GEO_DATA_DIR = PACKAGE / "geodata" / "data"

PLACEHOLDER_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dallas-calls</title></head>
<body><h1>dallas-calls</h1><p>The dashboard is not built into this package. The API is live:
<a href="/current-calls/">/current-calls/</a>, <a href="/stats">/stats</a>, <a href="/docs">/docs</a>.</p>
</body></html>
"""


class _GeoJsonResponse(JSONResponse):
    """The media type of /geo/ (the files are served as they are; this names the type in /docs)."""

    media_type = "application/geo+json"


def add_dashboard_routes(
    app: FastAPI,
    settings: Settings,
    mode: ModeState,
    geodata_status: Callable[[], Mapping[str, Any]] | None,
) -> None:
    """Register ``/config.json``, ``/geo/{name}.geojson`` and ``/`` on the app."""

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
