"""Routes beside the core API: ``/geocode`` (the server's own locator, for "find an address" in
the dashboard) and the exports behind ``/current-calls/?format=`` and ``/history?format=`` (hooked
into those routes by ``create_app``), plus the beat areas served as ``/geo/beats.geojson``.

I/O only: formatting is ``dallas_calls.export.formats``, paging ``dallas_calls.export.window``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from dallas_calls.api.openapi import ERROR_CONTENT, responses
from dallas_calls.config import Settings
from dallas_calls.export.formats import EXPORT_FORMATS, MEDIA_TYPES, export_chunks
from dallas_calls.export.window import CallsBetween, iter_calls_between
from dallas_calls.model import Geo, iso_utc

log = logging.getLogger(__name__)

GEOCODE_MAX_QUERY = 200
PACKAGE = Path(__file__).resolve().parents[1]
APPROX_BEATS = PACKAGE / "geodata" / "data" / "beats_approx.geojson"


class ErrorBody(BaseModel):
    error: str
    message: str


class GeoBody(BaseModel):
    lat: float
    lon: float
    precision: Literal["address", "intersection", "street", "reporting_area", "beat"]
    source: str
    in_beat: bool | None
    candidates_considered: int


class GeocodeBody(BaseModel):
    query: str
    geo: GeoBody


def _error_doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": ErrorBody}


GEOCODE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **responses(GeocodeBody, 400, 404, 422),
    409: {"description": "Locating is turned off on this server (`unavailable`)", "content": ERROR_CONTENT},
}


class Locating(Protocol):
    def locate(self, block: str | None, location: str, beat: str | None, division: str | None) -> Geo: ...


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


# The `format` query parameter of /current-calls/ and /history: validated by FastAPI (422 JSON on
# anything else) and listed as an enum in the OpenAPI document.
ExportFormat = Literal["csv", "geojson"]
assert set(EXPORT_FORMATS) == set(get_args(ExportFormat))


def with_export_content(
    responses: dict[int | str, dict[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """An operation's OpenAPI ``responses`` with the export media types added to its 200 (for
    /current-calls/ and /history, whose ``?format=`` answers CSV or GeoJSON)."""
    out = {k: dict(v) for k, v in (responses or {}).items()}
    ok = out.setdefault(200, {"description": "Successful Response"})
    content = dict(ok.get("content") or {"application/json": {}})
    for fmt, media in MEDIA_TYPES.items():
        schema: dict[str, Any] = {"type": "string"}  # CSV text
        if fmt == "geojson":
            schema = {
                "type": "object",
                "required": ["type", "features"],
                "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array"}},
            }
        content[media.split(";")[0]] = {"schema": schema}
    ok["content"] = content
    return out


def _filename(stem: str, fmt: str) -> str:
    return f"{stem}.{'csv' if fmt == 'csv' else 'geojson'}"


def export_response(chunks: Iterator[str] | AsyncIterator[str], fmt: str, stem: str) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{_filename(stem, fmt)}"',
            "Cache-Control": "no-store",
        },
    )


def current_calls_export(calls: dict[str, dict[str, Any]], meta: dict[str, Any], fmt: str) -> Response:
    """``/current-calls/?format=``: the open calls (a copy taken now), by incident number."""
    snapshot = [calls[n] for n in sorted(calls)]
    stamp = str(meta.get("as_of") or "now").replace(":", "-")
    return export_response(export_chunks(fmt, snapshot, meta), fmt, f"dallas-calls-current-{stamp}")


STREAM_CHUNK_CHARS = 64 * 1024


def _batched(chunks: Iterator[str], size: int = STREAM_CHUNK_CHARS) -> Iterator[str]:
    """Join small chunks (one per call) into pieces of about ``size`` characters."""
    parts: list[str] = []
    held = 0
    for chunk in chunks:
        parts.append(chunk)
        held += len(chunk)
        if held >= size:
            yield "".join(parts)
            parts, held = [], 0
    if parts:
        yield "".join(parts)


async def _in_thread(items: Iterator[str]) -> AsyncIterator[str]:
    """Drain a blocking iterator (it reads the store) in a worker thread, a piece at a time."""
    pieces = _batched(items)
    done = object()
    while True:
        piece = await run_in_threadpool(next, pieces, done)
        if piece is done:
            return
        assert isinstance(piece, str)
        yield piece


def history_export(store: CallsBetween, begin: datetime, finish: datetime, fmt: str) -> Response:
    """``/history?start=&end=&format=``: every call first seen in the window, streamed a page at a
    time from the store (no row limit)."""
    start, end = iso_utc(begin), iso_utc(finish)
    calls = (c.to_dict() for c in iter_calls_between(store, start, end))
    chunks = export_chunks(fmt, calls, {"start": start, "end": end})
    stem = f"dallas-calls-{start}-{end}".replace(":", "-")
    return export_response(_in_thread(chunks), fmt, stem)


def geo_file(name: str, settings: Settings, shipped: Path) -> Path:
    """The file behind ``/geo/{name}.geojson``: beats are the real polygons once fetched
    (``DATA_DIR/geodata/beats.geojson``), else the approximate areas shipped with the package."""
    if name == "beats":
        fetched = Path(settings.data_dir) / "geodata" / "beats.geojson"
        return fetched if fetched.is_file() else APPROX_BEATS
    return shipped


class LazyLocator:
    """The locator ``serve`` builds (``runtime.build_locator``), made on first use, off the loop."""

    def __init__(
        self, settings: Settings, build: Callable[[Settings], Locating | None] | None = None
    ) -> None:
        self.settings = settings
        self.build = build
        self._lock = threading.Lock()
        self._made = False
        self._locator: Locating | None = None

    def get(self) -> Locating | None:
        with self._lock:
            if not self._made:
                build = self.build
                if build is None:
                    from dallas_calls.runtime import build_locator

                    build = build_locator
                self._locator = build(self.settings)
                self._made = True
            return self._locator


def add_extra_routes(app: FastAPI, settings: Settings, locator: LazyLocator | None = None) -> None:
    """Register ``/geocode`` on the app itself (an included router would be listed apart from
    ``app.routes``, which the docs check and the metrics read)."""
    lazy = locator or LazyLocator(settings)
    lock = asyncio.Lock()  # one lookup at a time: the locator's caches are not shared across threads

    @app.get(
        "/geocode",
        tags=["dashboard"],
        summary="Locate an address or cross streets in Dallas",
        responses=GEOCODE_RESPONSES,
    )
    async def geocode(
        q: str | None = Query(None, description="e.g. `1500 Main St` or `Elm St / Akard St`"),
    ) -> Response:
        """The server's own locator (the one that places calls; no third party is asked unless the
        server is configured with online geocoders). `{"query", "geo": {lat, lon, precision,
        source, in_beat, candidates_considered}}`; 400 on an empty or over-long query, 404 when
        nothing in Dallas matches, 409 (`unavailable`) when locating is turned off on this server."""
        text = (q or "").strip()
        if not text:
            return _error(400, "bad_request", "q is required: an address or two cross streets")
        if len(text) > GEOCODE_MAX_QUERY:
            return _error(400, "bad_request", f"q may be at most {GEOCODE_MAX_QUERY} characters")
        async with lock:
            try:
                found = await run_in_threadpool(_locate, lazy, text)
            except Exception:
                log.exception("geocode failed for %r", text)
                return _error(404, "not_found", f"no place in Dallas found for {text!r}")
        if found is _OFF:
            return _error(409, "unavailable", "locating is turned off on this server")
        if not isinstance(found, Geo) or found.lat is None or found.lon is None or found.precision == "none":
            return _error(404, "not_found", f"no place in Dallas found for {text!r}")
        return JSONResponse({"query": text, "geo": found.to_dict()})


_OFF = object()


def _locate(lazy: LazyLocator, text: str) -> object:
    locator = lazy.get()
    if locator is None:
        return _OFF
    return locator.locate(None, text, None, None)
