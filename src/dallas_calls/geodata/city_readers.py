"""Readers of the city's layers, as fetched by :mod:`dallas_calls.geodata.paged`: plain rows out.

Pure functions over features (``{"properties", "geometry"}`` dicts). Field names are the
documented ones (see the project's notes on Dallas GIS sources), matched without regard to case;
when a layer lacks them the reader raises :class:`~dallas_calls.geodata.paged.FieldsError` naming
the fields it did find, so a renamed field is reported, never silently read as empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from dallas_calls.geodata.paged import FieldsError, field_lookup, require_fields
from dallas_calls.geodata.samples import normalize_beat, normalize_division

_NUMBER = re.compile(r"^\s*(\d{1,6})")


def _first_keys(features: list[dict[str, Any]]) -> set[str]:
    return {k for f in features[:50] for k in (f.get("properties") or {})}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    m = _NUMBER.match(str(value or ""))
    return int(m[1]) if m else None


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _point(geometry: Any) -> tuple[float, float] | None:
    """(lat, lon) of a GeoJSON Point (or the first point of a MultiPoint)."""
    if not isinstance(geometry, dict):
        return None
    coords = geometry.get("coordinates")
    if geometry.get("type") == "MultiPoint" and isinstance(coords, list) and coords:
        coords = coords[0]
    if geometry.get("type") not in ("Point", "MultiPoint") or not isinstance(coords, list) or len(coords) < 2:
        return None
    try:
        return float(coords[1]), float(coords[0])
    except (TypeError, ValueError):
        return None


# -- address points -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressPoint:
    number: int
    street: str  # as the city writes it: "N CENTRAL EXPY"
    lat: float
    lon: float


def address_points(features: Iterable[dict[str, Any]], source: str) -> Iterator[AddressPoint]:
    """The city's address points: HOUSENUMBER + FULLSTREETNAME at the point's geometry."""
    it = iter(features)
    head = [f for _, f in zip(range(50), it, strict=False)]
    names = require_fields(source, _first_keys(head), ("HOUSENUMBER", "FULLSTREETNAME"))
    for feature in (*head, *it):
        props = feature.get("properties") or {}
        number = _int(props.get(names["HOUSENUMBER"]))
        street = _text(props.get(names["FULLSTREETNAME"]))
        where = _point(feature.get("geometry"))
        if number is not None and street and where is not None:
            yield AddressPoint(number, street, where[0], where[1])


# -- police incidents geocoded by the city --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeocodedIncident:
    address: str  # incident_address: "4302 INDEPENDENCE DR" or "ELM ST / HARWOOD ST"
    lat: float
    lon: float
    beat: str | None


def geocoded_point(value: Any) -> tuple[float, float] | None:
    """(lat, lon) of a Socrata location (``{"latitude", "longitude", "human_address"}``) or of a
    GeoJSON point (newer Socrata datasets); None when absent or zero."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    if "coordinates" in value:
        return _point(value)
    try:
        lat, lon = float(value["latitude"]), float(value["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    return None if lat == 0 or lon == 0 else (lat, lon)


def geocoded_incidents(rows: Iterable[dict[str, Any]], source: str) -> Iterator[GeocodedIncident]:
    it = iter(rows)
    head = [f for _, f in zip(range(50), it, strict=False)]
    names = require_fields(source, _first_keys(head), ("incident_address", "geocoded_column"))
    beat_field = field_lookup(_first_keys(head), ("beat",)).get("beat")
    for row in (*head, *it):
        props = row.get("properties") or {}
        address = _text(props.get(names["incident_address"]))
        where = geocoded_point(props.get(names["geocoded_column"]))
        if address and where is not None:
            beat = normalize_beat(str(props.get(beat_field) or "")) if beat_field else None
            yield GeocodedIncident(address, where[0], where[1], beat or None)


# -- street centerlines ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Centerline:
    segment_id: int
    name: str
    road_class: str
    coords: list[tuple[float, float]]  # (lon, lat) from the "from" end to the "to" end
    ranges: tuple[int | None, int | None, int | None, int | None]  # L from, L to, R from, R to
    zips: tuple[str | None, str | None]  # left, right
    z_levels: tuple[int, int]  # at the from end, at the to end (overpasses: different levels)
    alternate_names: tuple[str, ...] = ()


_RANGE_FIELDS = ("L_F_ADD", "L_T_ADD", "R_F_ADD", "R_T_ADD")
# The street's name: FULLSTREETNAME on the city's service, FULLSTREET in its shapefile export (Dallas
# Open Data "Streets", whose names are cut to 10 characters), else composed from its parts.
_FULL_NAME_FIELDS = ("FULLSTREETNAME", "FULLSTREET")
_NAME_PARTS = ("PREFIX", "NAME", "TYPE", "SUFFIX")
_ALT_PARTS = ("ALT_PREFIX", "ALT_NAME", "ALT_TYPE", "ALT_SUFFIX")
_CENTERLINE_OPTIONAL = (
    "SEGMENT_ID",
    "CLASS",
    "POSTAL_L",
    "POSTAL_R",
    "F_ZLEV",
    "T_ZLEV",
    *_FULL_NAME_FIELDS,
    *_NAME_PARTS,
    *_ALT_PARTS,
)


def _line(geometry: Any) -> list[tuple[float, float]]:
    """A LineString's vertices; a MultiLineString's parts joined end to end (they are one segment)."""
    if not isinstance(geometry, dict):
        return []
    coords = geometry.get("coordinates") or []
    parts = [coords] if geometry.get("type") == "LineString" else list(coords)
    out: list[tuple[float, float]] = []
    for part in parts:
        for vertex in part:
            point = (float(vertex[0]), float(vertex[1]))
            if not out or out[-1] != point:
                out.append(point)
    return out


def centerlines(features: Iterable[dict[str, Any]], source: str) -> Iterator[Centerline]:
    it = iter(features)
    head = [f for _, f in zip(range(50), it, strict=False)]
    keys = _first_keys(head)
    names = require_fields(source, keys, _RANGE_FIELDS)
    names.update(field_lookup(keys, _CENTERLINE_OPTIONAL))
    if not any(f in names for f in (*_FULL_NAME_FIELDS, "NAME")):
        found = ", ".join(sorted(keys)) or "(none)"
        raise FieldsError(
            f"{source}: the records have no FULLSTREETNAME, FULLSTREET or NAME; fields found: {found}"
        )
    for i, feature in enumerate((*head, *it)):
        props = feature.get("properties") or {}

        def get(field: str, props: dict[str, Any] = props) -> Any:
            return props.get(names[field]) if field in names else None

        full = next((_text(get(f)) for f in _FULL_NAME_FIELDS if _text(get(f))), "")
        name = full or " ".join(_text(get(p)) for p in _NAME_PARTS if _text(get(p)))
        alternate = " ".join(_text(get(p)) for p in _ALT_PARTS if _text(get(p)))
        coords = _line(feature.get("geometry"))
        if not name or len(coords) < 2:
            continue
        # The city writes 0 for "no addresses on this side".
        lf, lt, rf, rt = (_int(get(k)) or None for k in _RANGE_FIELDS)
        yield Centerline(
            segment_id=_int(get("SEGMENT_ID")) or i + 1,
            name=name,
            road_class=_text(get("CLASS")),
            coords=coords,
            ranges=(lf, lt, rf, rt),
            zips=(_text(get("POSTAL_L")) or None, _text(get("POSTAL_R")) or None),
            z_levels=(_int(get("F_ZLEV")) or 0, _int(get("T_ZLEV")) or 0),
            alternate_names=(alternate,) if alternate and alternate != name else (),
        )


# -- police beats, divisions, city limits ---------------------------------------------------------


def _best_field(features: list[dict[str, Any]], hint: str, normalize: Any) -> str | None:
    """The attribute whose name contains ``hint`` (any case) and whose values normalize best."""
    keys = sorted(k for k in _first_keys(features) if hint in k.lower())
    scored = [(sum(1 for f in features if normalize((f.get("properties") or {}).get(k))), k) for k in keys]
    scored = [s for s in scored if s[0] > 0]
    return max(scored, key=lambda s: (s[0], -len(s[1])))[1] if scored else None


def _beat(value: Any) -> str | None:
    beat = normalize_beat(str(value if value is not None else ""))
    return beat if beat and beat.isdigit() and len(beat) == 3 else None


def _division(value: Any) -> str | None:
    return normalize_division(_text(value) or None)


def beat_collection(features: list[dict[str, Any]], source: str) -> dict[str, Any]:
    """A FeatureCollection with ``beat`` and ``division`` properties, as :class:`BeatAreas` reads."""
    beat_field = _best_field(features, "beat", _beat)
    if beat_field is None:
        found = ", ".join(sorted(_first_keys(features))) or "(none)"
        raise FieldsError(f"{source}: no feature yields a police beat; fields found: {found}")
    division_field = _best_field(features, "div", _division)
    out = []
    for f in features:
        props = f.get("properties") or {}
        beat = _beat(props.get(beat_field))
        if beat and f.get("geometry"):
            division = _division(props.get(division_field)) if division_field else None
            out.append(
                {
                    "type": "Feature",
                    "properties": {"beat": beat, "division": division},
                    "geometry": f["geometry"],
                }
            )
    return {"type": "FeatureCollection", "features": out}


def polygon_collection(features: list[dict[str, Any]], source: str, name_hint: str) -> dict[str, Any]:
    """Polygons (divisions, city limits) with a ``name`` from the attribute named like ``name_hint``."""
    polygons = [f for f in features if (f.get("geometry") or {}).get("type") in ("Polygon", "MultiPolygon")]
    if not polygons:
        found = ", ".join(sorted(_first_keys(features))) or "(none)"
        raise FieldsError(f"{source}: no polygon features; fields found: {found}")
    name_field = _best_field(polygons, name_hint, lambda v: _text(v) or None)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "name": _text((f.get("properties") or {}).get(name_field)) if name_field else ""
                },
                "geometry": f["geometry"],
            }
            for f in polygons
        ],
    }
