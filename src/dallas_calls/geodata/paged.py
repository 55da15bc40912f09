"""Paged downloads: an ArcGIS layer's ``query`` or a Socrata resource, page by page, into one file.

Why not one request: the city's layers answer at most their ``maxRecordCount`` features (1,000 or
2,000) per request and say ``exceededTransferLimit: true`` when more are left; Socrata answers at
most ``$limit`` rows. So a source is read with ``resultOffset``/``resultRecordCount`` (ArcGIS) or
``$limit``/``$offset``/``$order=:id`` (Socrata, a stable order so no row is skipped or repeated),
each page retried with backoff, and written as it arrives to ``<file>.part``: gzipped JSON lines,
one GeoJSON-like feature (``{"properties", "geometry"}``) a line, keeping only the fields the
source names. The :class:`~dallas_calls.geodata.fetch.Fetcher` then verifies, renames and records
it like any other download (one manifest, one progress interface).

The first page is checked before anything else is fetched: when the fields a source needs are not
there, the fetch fails at once naming the fields the service does have (the field names come from
public documentation and may be out of date).
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from dallas_calls.geodata.fetch import Fetcher, FetchError
from dallas_calls.geodata.sources import Source


class FieldsError(FetchError):
    """A source's records lack the fields we read: the message names the ones found."""


def field_lookup(found: Iterable[str], wanted: Iterable[str]) -> dict[str, str]:
    """``wanted`` name -> the name as the service spells it, matched without regard to case."""
    by_lower = {name.lower(): name for name in found}
    return {w: by_lower[w.lower()] for w in wanted if w.lower() in by_lower}


def require_fields(
    source_name: str, found: Iterable[str], required: Iterable[str], any_of: Iterable[str] = ()
) -> dict[str, str]:
    """:func:`field_lookup` of ``required`` (and ``any_of``, of which one at least must be there), or
    :class:`FieldsError` naming what is missing and what was found."""
    found = sorted(set(found))
    required, any_of = tuple(required), tuple(any_of)
    lookup = field_lookup(found, required)
    missing = [r for r in required if r not in lookup]
    alternatives = field_lookup(found, any_of)
    if any_of and not alternatives:
        missing.append(" or ".join(any_of))
    if missing:
        raise FieldsError(
            f"{source_name}: the records have no {', '.join(missing)}; fields found: "
            f"{', '.join(found) or '(none)'}"
        )
    return {**lookup, **alternatives}


# -- one page -------------------------------------------------------------------------------------


class _PageRetryable(Exception):
    pass


def _get_page(fetcher: Fetcher, source: Source, params: Mapping[str, str]) -> Any:
    """One JSON page, retried (transport errors, timeouts, 5xx, 429, an ArcGIS error body, JSON cut
    short) with the fetcher's attempts and backoff."""
    assert source.url is not None
    url = f"{source.url.rstrip('/')}/query" if source.paging == "arcgis" else source.url
    last = ""
    for attempt in range(fetcher.attempts):
        if attempt:
            fetcher.sleep(fetcher.backoff_s * 2 ** (attempt - 1))
        try:
            response = fetcher.client.get(url, params=dict(params))
            if response.status_code >= 500 or response.status_code == 429:
                raise _PageRetryable(f"HTTP {response.status_code}")
            if response.status_code != 200:
                raise FetchError(
                    f"{source.name}: HTTP {response.status_code} from {url}: {response.text[:200]}"
                )
            try:
                body = response.json()
            except ValueError as exc:
                raise _PageRetryable("the answer is not JSON (cut short?)") from exc
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):  # ArcGIS reports failures with status 200 and an error body
                message = f"ArcGIS error {error.get('code')}: {error.get('message')}"
                if error.get("code") in (400, 404):
                    refused = _FormatRefused if params.get("f") == "geojson" else FetchError
                    raise refused(f"{source.name}: {message}")
                raise _PageRetryable(message)
            return body
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        except _PageRetryable as exc:
            last = str(exc)
    raise FetchError(f"{source.name}: gave up after {fetcher.attempts} attempts: {last}")


# -- the pages of a source ------------------------------------------------------------------------


class _FormatRefused(FetchError):
    """The service refused ``f=geojson`` (ArcGIS Server before 10.4 has only Esri JSON)."""


def _arcgis_pages(fetcher: Fetcher, source: Source) -> Iterator[list[dict[str, Any]]]:
    offset = 0
    output = "geojson"
    while True:
        params = {
            "where": source.where or "1=1",
            "outFields": "*",
            "outSR": "4326",
            "returnGeometry": "true",
            "f": output,
            "resultOffset": str(offset),
            "resultRecordCount": str(source.page_size),
        }
        try:
            body = _get_page(fetcher, source, params)
        except _FormatRefused:
            if output != "geojson" or offset:
                raise
            output = "json"  # the same query in Esri JSON, converted by _as_feature
            continue
        features = [_as_feature(f) for f in body.get("features") or [] if isinstance(f, dict)]
        exceeded = bool(
            body.get("exceededTransferLimit") or (body.get("properties") or {}).get("exceededTransferLimit")
        )
        if features:
            yield features
        if not exceeded:
            return
        if not features:
            raise FetchError(f"{source.name}: the service says more features are left but sent none")
        offset += len(features)


def _socrata_pages(fetcher: Fetcher, source: Source) -> Iterator[list[dict[str, Any]]]:
    """Pages of the columns the source names (``$select``: a page of 50,000 full incident rows would
    be ~100 MB); a column Socrata does not know is checked against one full row, so the error names
    the columns the dataset has."""
    columns = (*source.required_fields, *source.optional_fields)
    offset = 0
    while True:
        params = {"$limit": str(source.page_size), "$offset": str(offset), "$order": ":id"}
        if columns:
            params["$select"] = ",".join(columns)
        if source.where:
            params["$where"] = source.where
        try:
            rows = _get_page(fetcher, source, params)
        except FetchError as exc:
            if offset or not columns or "HTTP 400" not in str(exc):
                raise
            sample = _get_page(fetcher, source, {"$limit": "1"})
            keys = (
                {k for row in sample if isinstance(row, dict) for k in row}
                if isinstance(sample, list)
                else set()
            )
            require_fields(source.name, keys, source.required_fields)
            columns = tuple(field_lookup(keys, columns).values())  # spelled as the dataset does
            if not columns:
                raise
            continue
        if not isinstance(rows, list):
            raise FetchError(f"{source.name}: a Socrata page is not a JSON array")
        page = [{"properties": r, "geometry": None} for r in rows if isinstance(r, dict)]
        if page:
            yield page
        if len(rows) < source.page_size:
            return
        offset += len(rows)


def _count(fetcher: Fetcher, source: Source) -> int | None:
    """How many records the source has (for a percentage); None when the service will not say."""
    try:
        if source.paging == "arcgis":
            body = _get_page(
                fetcher, source, {"where": source.where or "1=1", "returnCountOnly": "true", "f": "json"}
            )
            return int(body["count"])
        params = {"$select": "count(*) AS n"}
        if source.where:
            params["$where"] = source.where
        return int(_get_page(fetcher, source, params)[0]["n"])
    except Exception:  # a count is only for the progress bar
        return None


def download_pages(fetcher: Fetcher, source: Source, part: Path) -> tuple[int, str]:
    """Every page of ``source`` into ``part`` (gzipped JSON lines); returns (size, sha256)."""
    pages = _arcgis_pages(fetcher, source) if source.paging == "arcgis" else _socrata_pages(fetcher, source)
    total = _count(fetcher, source)
    fetcher.progress.start(source.name, total, 0, unit="records")
    keep: dict[str, str] | None = None
    done = 0
    try:
        # mtime=0: the same records give the same bytes, so an unchanged layer keeps its checksum.
        with part.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            for page in pages:
                if keep is None:
                    found = {k for f in page for k in (f.get("properties") or {})}
                    keep = require_fields(source.name, found, source.required_fields, source.required_any)
                    if source.required_fields or source.optional_fields:
                        keep.update(field_lookup(found, source.optional_fields))
                for feature in page:
                    out.write(_line(feature, keep))
                done += len(page)
                fetcher.progress.advance(done)
    except FetchError:
        part.unlink(missing_ok=True)
        raise
    if done == 0:
        part.unlink(missing_ok=True)
        raise FetchError(f"{source.name}: the service returned no records")
    fetcher.progress.finish(source.name, f"{done:,} records received")
    h = hashlib.sha256(part.read_bytes())
    return part.stat().st_size, h.hexdigest()


def _line(feature: dict[str, Any], keep: dict[str, str]) -> bytes:
    props = feature.get("properties") or {}
    if keep:  # the expected names, whatever case the service used
        props = {name: props.get(actual) for name, actual in keep.items()}
    body = {"properties": props, "geometry": feature.get("geometry")}
    return (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")


# -- Esri JSON (f=json) to GeoJSON ----------------------------------------------------------------


def _as_feature(feature: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON feature as is; an Esri JSON one (``attributes``, ``geometry`` with x/y, paths or
    rings) converted, so every reader sees one shape."""
    if "attributes" not in feature:
        return {"properties": feature.get("properties") or {}, "geometry": feature.get("geometry")}
    return {"properties": feature.get("attributes") or {}, "geometry": esri_geometry(feature.get("geometry"))}


def esri_geometry(g: Any) -> dict[str, Any] | None:
    if not isinstance(g, dict):
        return None
    if "x" in g and "y" in g:
        return {"type": "Point", "coordinates": [g["x"], g["y"]]}
    if "paths" in g:
        return {"type": "MultiLineString", "coordinates": g["paths"]}
    if "rings" in g:
        # Esri: outer rings run clockwise (negative signed area), holes counter-clockwise.
        polygons: list[list[Any]] = []
        for ring in g["rings"]:
            if _signed_area(ring) <= 0 or not polygons:
                polygons.append([ring])
            else:
                polygons[-1].append(ring)
        return {"type": "MultiPolygon", "coordinates": polygons}
    return None


def _signed_area(ring: list[list[float]]) -> float:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring)) / 2


def read_features(path: Path) -> Iterator[dict[str, Any]]:
    """The features of a file written by :func:`download_pages`."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
