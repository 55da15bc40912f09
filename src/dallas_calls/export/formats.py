"""Calls as CSV rows and GeoJSON features: pure, from call dicts (``Call.to_dict()`` or the view's).

Every row and feature keeps how the call was located (``precision``, ``source``, ``in_beat``): a beat
centroid must never pass for an address. Output is produced in chunks (one per call) so a caller
can stream any number of calls without holding them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from dallas_calls.model import TRACKED_FIELDS

EXPORT_FORMATS = ("csv", "geojson")

# One column per call field; units as "unit (status)" joined by "; "; the geo split into columns.
_CALL_FIELDS = tuple(f for f in TRACKED_FIELDS if f != "units")
CSV_COLUMNS = (
    "incident_number",
    *_CALL_FIELDS,
    "unit_count",
    "units",
    "first_seen",
    "last_seen",
    "closed_at",
    "location_key",
    "lat",
    "lon",
    "precision",
    "source",
    "in_beat",
)

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json"}


def units_text(units: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for unit in units:
        status = unit.get("status")
        parts.append(f"{unit.get('unit_number')} ({status})" if status else str(unit.get("unit_number")))
    return "; ".join(parts)


def flat_row(call: Mapping[str, Any]) -> dict[str, Any]:
    """One call as a flat record of ``CSV_COLUMNS`` (None where the call has no value)."""
    geo = call.get("geo") or {}
    units = call.get("units") or []
    located = geo.get("lat") is not None and geo.get("lon") is not None and geo.get("precision") != "none"
    return {
        "incident_number": call.get("incident_number"),
        **{name: call.get(name) for name in _CALL_FIELDS},
        "unit_count": len(units),
        "units": units_text(units),
        "first_seen": call.get("first_seen"),
        "last_seen": call.get("last_seen"),
        "closed_at": call.get("closed_at"),
        "location_key": call.get("location_key"),
        "lat": geo.get("lat") if located else None,
        "lon": geo.get("lon") if located else None,
        "precision": geo.get("precision") or "none",
        "source": geo.get("source") or None,
        "in_beat": geo.get("in_beat"),
    }


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_line(values: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_csv_cell(v) for v in values])
    return buffer.getvalue()


def csv_chunks(calls: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The header line, then one line per call (RFC 4180: CRLF, quoted where needed)."""
    yield _csv_line(CSV_COLUMNS)
    for call in calls:
        row = flat_row(call)
        yield _csv_line(row[c] for c in CSV_COLUMNS)


def feature(call: Mapping[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature: a Point where the call is located (``geometry: null`` otherwise)."""
    row = flat_row(call)
    geometry = {"type": "Point", "coordinates": [row["lon"], row["lat"]]} if row["lat"] is not None else None
    geo = call.get("geo") or {}
    properties = {k: v for k, v in row.items() if k not in ("lat", "lon", "units", "unit_count")}
    properties["units"] = list(call.get("units") or [])
    properties["candidates_considered"] = geo.get("candidates_considered")
    return {"type": "Feature", "id": row["incident_number"], "geometry": geometry, "properties": properties}


def geojson_chunks(
    calls: Iterable[Mapping[str, Any]], meta: Mapping[str, Any] | None = None
) -> Iterator[str]:
    """A FeatureCollection, one feature per chunk; ``meta`` becomes foreign members before it."""
    head = json.dumps({"type": "FeatureCollection", **(meta or {})}, separators=(",", ":"))
    yield head[:-1] + ',"features":['
    first = True
    for call in calls:
        yield ("" if first else ",") + json.dumps(feature(call), separators=(",", ":"))
        first = False
    yield "]}\n"


def export_chunks(
    fmt: str, calls: Iterable[Mapping[str, Any]], meta: Mapping[str, Any] | None = None
) -> Iterator[str]:
    if fmt == "csv":
        return csv_chunks(calls)
    if fmt == "geojson":
        return geojson_chunks(calls, meta)
    raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
