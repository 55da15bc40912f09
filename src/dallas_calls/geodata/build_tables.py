"""Build the small derived tables shipped in ``geodata/data/`` and ``geocoding/data/``.

    python -m dallas_calls.geodata.build_tables --shared-data ../shared/data

reads the real files under ``shared/data/`` and writes:

- ``geodata/data/city.geojson``: the City of Dallas limits (city GIS "CITY" layer, the Dallas feature,
  enclaves as holes), WGS84.
- ``geodata/data/beats_approx.geojson``: one approximate area per police beat: the Voronoi cells of the
  beat-labelled real points (the city's incident points, plus third-party-geocoded use-of-force points
  whose beat is the city's), dissolved per beat and clipped to the city; properties ``beat``,
  ``division``, ``centroid`` [lat, lon] (median of the beat's points), ``points``.
- ``geocoding/data/address_points_seed.csv``: the offline table of the address-point geocoder
  (address, lat, lon, beat, reporting_area, source): the city's own points (sample incidents, homicides, the 2025
  sample, the 10 OpenAddresses points) and the use-of-force points whose point lies in or within
  ``APPROX_TOLERANCE_M`` of their own (approximate) beat; exact duplicate rows once.

Deterministic: the same inputs give byte-identical outputs.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shapely import MultiPoint, Point, voronoi_polygons
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, unary_union

from dallas_calls.geodata.beats import BeatAreas
from dallas_calls.geodata.distance import distance_m
from dallas_calls.geodata.samples import (
    LabelledPoint,
    city_truth_points,
    geocoded_beat_points,
    openaddresses_points,
)

PACKAGE = Path(__file__).resolve().parents[1]
GEO_DATA = PACKAGE / "geodata" / "data"
GEOCODING_DATA = PACKAGE / "geocoding" / "data"
SIMPLIFY_DEG = 0.0002  # ~20 m
COORD_DECIMALS = 5  # ~1 m
# A beat's point this far from the beat's median point (and 3x the beat's median spread) is a
# geocoding error, not the beat.
OUTLIER_MIN_M = 2000.0


def read_city_outline(shared_data: Path) -> BaseGeometry:
    data = json.loads((shared_data / "polygons" / "city_gis" / "CITY.geojson").read_text())
    parts = [shape(f["geometry"]) for f in data["features"] if f["properties"].get("CITY") == "Dallas"]
    if not parts:
        raise ValueError("no Dallas feature in CITY.geojson")
    return unary_union(parts).buffer(0)


def drop_outliers(points: Sequence[LabelledPoint]) -> list[LabelledPoint]:
    """Per beat, drop points implausibly far from the beat's median point."""
    by_beat: dict[str, list[LabelledPoint]] = {}
    for p in points:
        if p.beat:
            by_beat.setdefault(p.beat, []).append(p)
    kept: list[LabelledPoint] = []
    for pts in by_beat.values():
        lat = statistics.median(p.lat for p in pts)
        lon = statistics.median(p.lon for p in pts)
        dist = [distance_m(p.lat, p.lon, lat, lon) for p in pts]
        limit = max(OUTLIER_MIN_M, 3 * statistics.median(dist))
        kept.extend(p for p, d in zip(pts, dist, strict=True) if d <= limit)
    return kept


def beat_centroids(points: Sequence[LabelledPoint]) -> dict[str, tuple[float, float]]:
    """Median point per beat, from the city's own points when a beat has three or more."""
    out: dict[str, tuple[float, float]] = {}
    by_beat: dict[str, list[LabelledPoint]] = {}
    for p in points:
        if p.beat:
            by_beat.setdefault(p.beat, []).append(p)
    for beat, pts in by_beat.items():
        truth = [p for p in pts if p.truth]
        use = truth if len(truth) >= 3 else pts
        out[beat] = (statistics.median(p.lat for p in use), statistics.median(p.lon for p in use))
    return out


def build_beat_areas(points: Sequence[LabelledPoint], city: BaseGeometry) -> dict[str, Any]:
    """The approximate-beats GeoJSON FeatureCollection (see the module docstring)."""
    clean = drop_outliers(points)
    # One label per distinct location (majority beat), so the Voronoi generators are distinct.
    labels: dict[tuple[float, float], Counter[str]] = {}
    for p in clean:
        assert p.beat is not None
        labels.setdefault((round(p.lon, 5), round(p.lat, 5)), Counter())[p.beat] += 1
    coords = sorted(labels)
    owner = {c: sorted(labels[c].items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for c in coords}
    envelope = city.buffer(0.05).envelope
    cells = voronoi_polygons(MultiPoint(coords), extend_to=envelope, ordered=True)
    clip = city.buffer(0.002)  # ~200 m: keep edge points' cells
    by_beat: dict[str, list[BaseGeometry]] = {}
    for c, cell in zip(coords, cells.geoms, strict=True):
        by_beat.setdefault(owner[c], []).append(cell)
    division_votes: dict[str, Counter[str]] = {}
    for p in clean:
        if p.beat and p.division:
            division_votes.setdefault(p.beat, Counter())[p.division] += 1
    centroids = beat_centroids(clean)
    counts = Counter(p.beat for p in clean)
    features = []
    for beat in sorted(by_beat, key=lambda b: (len(b), b)):
        area = unary_union(by_beat[beat]).intersection(clip).simplify(SIMPLIFY_DEG).buffer(0)
        if area.is_empty:
            continue
        votes = division_votes.get(beat)
        division = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if votes else None
        lat, lon = centroids[beat]
        if not area.covers(Point(lon, lat)):  # e.g. a beat around an enclave: its nearest point inside
            inside = nearest_points(area, Point(lon, lat))[0]
            lat, lon = inside.y, inside.x
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "beat": beat,
                    "division": division,
                    "centroid": [round(lat, COORD_DECIMALS), round(lon, COORD_DECIMALS)],
                    "points": counts[beat],
                },
                "geometry": _rounded(mapping(area)),
            }
        )
    return {"type": "FeatureCollection", "name": "dallas_beats_approx", "features": features}


def _rounded(geometry: Any) -> Any:
    def walk(x: Any) -> Any:
        if isinstance(x, (list, tuple)):
            if x and isinstance(x[0], (int, float)):
                return [round(float(v), COORD_DECIMALS) for v in x]
            return [walk(v) for v in x]
        return x

    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


def city_feature_collection(city: BaseGeometry) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "name": "dallas_city_limits",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Dallas", "source": "City of Dallas GIS CITY layer"},
                "geometry": _rounded(mapping(city)),
            }
        ],
    }


def points_in_their_beat(points: Sequence[LabelledPoint], areas: BeatAreas) -> list[LabelledPoint]:
    """The points that lie in (or within the approximate areas' tolerance of) their own beat: a
    geocode that puts an address outside the beat the police recorded for it is not trusted."""
    return [p for p in points if p.beat and areas.point_in_beat(p.lat, p.lon, p.beat)]


def seed_address_points_csv(points: Sequence[LabelledPoint]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["address", "lat", "lon", "beat", "reporting_area", "source"])
    # Exact duplicate rows once; a point recorded under two reporting areas keeps the commoner one.
    areas: dict[tuple[str, float, float, str, str], Counter[str]] = {}
    for p in points:
        key = (" ".join(p.address.upper().split()), round(p.lat, 6), round(p.lon, 6), p.beat or "", p.source)
        areas.setdefault(key, Counter())[p.reporting_area or ""] += 1
    rows = [
        (address, lat, lon, beat, min(votes, key=lambda a: (-votes[a], a)), source)
        for (address, lat, lon, beat, source), votes in sorted(areas.items())
    ]
    writer.writerows(rows)
    return buf.getvalue()


def build_all(
    shared_data: Path, geo_out: Path = GEO_DATA, geocoding_out: Path = GEOCODING_DATA
) -> dict[str, int]:
    incidents = shared_data / "incidents"
    city = read_city_outline(shared_data)
    truth = city_truth_points(incidents)
    force = geocoded_beat_points(incidents)
    beats = build_beat_areas([p for p in [*truth, *force] if p.beat], city)
    areas = BeatAreas.from_geojson(beats, city_feature_collection(city), "approx")
    table = [*truth, *openaddresses_points(incidents), *points_in_their_beat(force, areas)]
    geo_out.mkdir(parents=True, exist_ok=True)
    geocoding_out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for path, text in (
        (geo_out / "city.geojson", json.dumps(city_feature_collection(city), separators=(",", ":"))),
        (geo_out / "beats_approx.geojson", json.dumps(beats, separators=(",", ":"))),
        (geocoding_out / "address_points_seed.csv", seed_address_points_csv(table)),
    ):
        path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
        sizes[str(path)] = path.stat().st_size
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--shared-data", type=Path, required=True, help="the shared/data folder")
    args = parser.parse_args(argv)
    for path, size in build_all(args.shared_data).items():
        print(f"{size:>9,} bytes  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
