"""``dallas-calls geodata build`` for the city's layers: fetched files -> the locator's local indexes.

- address points + geocoded incidents -> ``city_points.sqlite3`` (per-block medians, the city's
  intersection spellings; :mod:`dallas_calls.geocoding.city_points`);
- street centerlines -> ``city_streets.sqlite3``, the street index's own format
  (:class:`~dallas_calls.geocoding.street_index_writer.StreetIndexWriter`), so one set of queries serves the
  city's centerlines and TIGER. The city's segments carry no node ids: segment ends that meet (the
  same point to 0.1 m) at the same z-level are one node, so an overpass, whose ends are at another
  level, never "meets" the street under it;
- beats, divisions, city limits -> ``beats.geojson``, ``divisions.geojson``, ``city.geojson``
  (what :class:`~dallas_calls.geodata.beats.BeatAreas` loads).

Each output is built only when its inputs are present; a layer whose fields are not the documented
ones fails that output loudly (naming the fields found) and the others are still built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dallas_calls.geocoding.city_points import (
    ADDRESS_POINTS_SOURCE,
    CITY_POINTS_DB,
    INCIDENTS_SOURCE,
    PointRow,
    build_city_points,
)
from dallas_calls.geocoding.street_index_writer import StreetIndexWriter
from dallas_calls.geodata.city_readers import (
    address_points,
    beat_collection,
    centerlines,
    geocoded_incidents,
    polygon_collection,
)
from dallas_calls.geodata.fetch import FetchError
from dallas_calls.geodata.paged import read_features
from dallas_calls.geodata.sources import SOURCES, Source

CITY_STREETS_DB = "city_streets.sqlite3"
CENTERLINES_SOURCE = "city_centerlines"
_NODE_GRID = 1e7  # segment ends equal to 1e-7 degree (about 1 cm) are one node


@dataclass
class CityBuildReport:
    built: dict[str, dict[str, int]] = field(default_factory=dict)  # output file -> counts
    failed: dict[str, str] = field(default_factory=dict)  # output file -> why
    skipped: list[str] = field(default_factory=list)  # outputs whose inputs are missing


def _source(name: str) -> Source:
    return next(s for s in SOURCES if s.name == name)


def _input(folder: Path, name: str) -> Path | None:
    path = folder / _source(name).filename
    return path if path.is_file() else None


def _meta(files: list[Path], source: str) -> dict[str, str]:
    return {
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "files": " ".join(p.name for p in files),
    }


def build_points(folder: Path) -> dict[str, int] | None:
    points, incidents = _input(folder, "city-address-points"), _input(folder, "city-incidents")
    files = [p for p in (points, incidents) if p is not None]
    if not files:
        return None

    def rows() -> Iterator[PointRow]:
        if points is not None:
            for p in address_points(read_features(points), "city-address-points"):
                yield p.number, p.street, p.lat, p.lon, ADDRESS_POINTS_SOURCE
        if incidents is not None:
            for i in geocoded_incidents(read_features(incidents), "city-incidents"):
                yield None, i.address, i.lat, i.lon, INCIDENTS_SOURCE

    return build_city_points(rows(), folder / CITY_POINTS_DB, _meta(files, "City of Dallas"))


def build_centerlines(folder: Path) -> dict[str, int] | None:
    path = _input(folder, "city-streets")
    if path is None:
        return None
    writer = StreetIndexWriter(folder / CITY_STREETS_DB)
    nodes: dict[tuple[int, int, int], int] = {}

    def node(lon: float, lat: float, z: int) -> int:
        return nodes.setdefault((round(lon * _NODE_GRID), round(lat * _NODE_GRID), z), len(nodes) + 1)

    try:
        ranges = []
        alternates: list[tuple[int, str]] = []
        for c in centerlines(read_features(path), "city-streets"):
            tnidf = node(*c.coords[0], c.z_levels[0])
            tnidt = node(*c.coords[-1], c.z_levels[1])
            if not writer.add_segment(c.segment_id, c.name, c.road_class, tnidf, tnidt, c.coords, c.ranges):
                continue
            alternates.extend((c.segment_id, name) for name in c.alternate_names)
            lf, lt, rf, rt = c.ranges
            if lf is not None and lt is not None:
                ranges.append((c.segment_id, c.name, "L", lf, lt, c.zips[0], None))
            if rf is not None and rt is not None:
                ranges.append((c.segment_id, c.name, "R", rf, rt, c.zips[1], None))
        writer.add_ranges(ranges)
        writer.add_names(alternates)
        meta = {**_meta([path], "City of Dallas street centerlines"), "candidate_source": CENTERLINES_SOURCE}
        return writer.finish(meta)
    except BaseException:
        writer.abort()
        raise


def _write_geojson(path: Path, collection: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(collection, separators=(",", ":")), "utf-8")
    os.replace(tmp, path)


def build_areas(folder: Path, source_name: str, out_name: str) -> dict[str, int] | None:
    path = _input(folder, source_name)
    if path is None:
        return None
    features = list(read_features(path))
    if source_name == "police-beats":
        collection = beat_collection(features, source_name)
    else:
        collection = polygon_collection(
            features, source_name, "name" if source_name == "city-limits" else "div"
        )
    _write_geojson(folder / out_name, collection)
    return {"features": len(collection["features"])}


# Each output and the sources it is built from.
CITY_OUTPUTS: dict[str, tuple[str, ...]] = {
    "beats.geojson": ("police-beats",),
    "divisions.geojson": ("police-divisions",),
    "city.geojson": ("city-limits",),
    CITY_POINTS_DB: ("city-address-points", "city-incidents"),
    CITY_STREETS_DB: ("city-streets",),
}


def newest_input(folder: Path, output: str) -> float | None:
    """The modification time of the newest input of ``output`` (None: no input is there)."""
    present = [p for p in (_input(folder, i) for i in CITY_OUTPUTS[output]) if p is not None]
    return max(p.stat().st_mtime for p in present) if present else None


def outdated_outputs(folder: Path) -> list[str]:
    """Outputs missing, or older than one of their inputs, while an input is there (a build that
    was interrupted, or inputs fetched by hand): the updater builds them without fetching."""
    out = []
    for name in CITY_OUTPUTS:
        newest, target = newest_input(folder, name), folder / name
        if newest is not None and (not target.is_file() or target.stat().st_mtime < newest):
            out.append(name)
    return out


def build_city_geodata(folder: Path, log: Callable[[str], None] = print) -> CityBuildReport:
    """Every city output whose inputs are in ``folder``; one failure does not stop the others."""
    report = CityBuildReport()
    steps: list[tuple[str, Callable[[], dict[str, int] | None]]] = [
        ("beats.geojson", lambda: build_areas(folder, "police-beats", "beats.geojson")),
        ("divisions.geojson", lambda: build_areas(folder, "police-divisions", "divisions.geojson")),
        ("city.geojson", lambda: build_areas(folder, "city-limits", "city.geojson")),
        (CITY_POINTS_DB, lambda: build_points(folder)),
        (CITY_STREETS_DB, lambda: build_centerlines(folder)),
    ]
    for out, step in steps:
        try:
            counts = step()
        except (FetchError, ValueError, KeyError, TypeError, OSError) as exc:
            report.failed[out] = str(exc)
            log(f"{out}: not built: {exc}")
            continue
        if counts is None:
            report.skipped.append(out)
            continue
        report.built[out] = counts
        log(f"{out}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    return report
