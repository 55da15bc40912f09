"""Build time and lookup latency of the city geodata indexes on a synthetic city-sized fixture.

Not real data and no network: a grid of ``--streets`` east-west streets, each ``--blocks`` blocks
long (one centerline segment a block), with ``--per-block`` address points on each block, written
in the fetched-file format (gzipped JSON lines, the documented field names) and built with
``build_city_geodata``. Dallas has roughly 600,000 address points and 100,000+ street segments in
the city; the defaults are that order of magnitude. Prints the figures.

    .venv/bin/python bench/city_geodata.py [--streets 400] [--blocks 250] [--per-block 6]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from dallas_calls.geocoding.city_points import CityPoints
from dallas_calls.geocoding.normalize import normalize_location
from dallas_calls.geocoding.street_index import StreetIndex
from dallas_calls.geodata.city_build import build_centerlines, build_points

LAT0, LON0, STEP = 32.70, -96.95, 0.001


def write(path: Path, features: list[dict[str, object]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for f in features:
            out.write(json.dumps(f) + "\n")


def street_name(i: int) -> str:
    return f"STREET{i} AVE"


def synthesize(folder: Path, streets: int, blocks: int, per_block: int) -> tuple[int, int]:
    segments, points = [], []
    for s in range(streets):
        lat = LAT0 + s * STEP * 2
        for b in range(1, blocks + 1):
            west = LON0 + (b - 1) * STEP
            segments.append(
                {
                    "properties": {
                        "SEGMENT_ID": s * blocks + b,
                        "FULLSTREETNAME": street_name(s),
                        "L_F_ADD": b * 100 + 1,
                        "L_T_ADD": b * 100 + 99,
                        "R_F_ADD": b * 100,
                        "R_T_ADD": b * 100 + 98,
                        "F_ZLEV": 0,
                        "T_ZLEV": 0,
                    },
                    "geometry": {"type": "LineString", "coordinates": [[west, lat], [west + STEP, lat]]},
                }
            )
            for k in range(per_block):
                number = b * 100 + 1 + k * (98 // per_block)
                points.append(
                    {
                        "properties": {"HOUSENUMBER": number, "FULLSTREETNAME": street_name(s)},
                        "geometry": {
                            "type": "Point",
                            "coordinates": [west + STEP * (k + 0.5) / per_block, lat],
                        },
                    }
                )
    write(folder / "city_streets.jsonl.gz", segments)
    write(folder / "city_address_points.jsonl.gz", points)
    return len(segments), len(points)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streets", type=int, default=400)
    parser.add_argument("--blocks", type=int, default=250)
    parser.add_argument("--per-block", type=int, default=6)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        n_segments, n_points = synthesize(folder, args.streets, args.blocks, args.per_block)
        t0 = time.perf_counter()
        build_points(folder)
        t1 = time.perf_counter()
        build_centerlines(folder)
        t2 = time.perf_counter()
        points = CityPoints.open(folder / "city_points.sqlite3")
        streets = StreetIndex.open(folder / "city_streets.sqlite3")
        assert points is not None and streets is not None
        rng = random.Random(7)
        queries = [
            normalize_location(
                str(rng.randrange(1, args.blocks + 1) * 100), street_name(rng.randrange(args.streets))
            )
            for _ in range(args.lookups)
        ]
        block_ms, line_ms = [], []
        for q in queries:
            a = time.perf_counter()
            assert points.candidates(q, None)
            b = time.perf_counter()
            assert streets.address(q.number or 0, q.streets[0].name)
            c = time.perf_counter()
            block_ms.append((b - a) * 1000)
            line_ms.append((c - b) * 1000)
        size_points = (folder / "city_points.sqlite3").stat().st_size
        size_streets = (folder / "city_streets.sqlite3").stat().st_size
    print(f"synthetic city: {n_points:,} address points, {n_segments:,} centerline segments")
    print(f"build city_points.sqlite3: {t1 - t0:.1f} s ({size_points / 1e6:.1f} MB)")
    print(f"build city_streets.sqlite3: {t2 - t1:.1f} s ({size_streets / 1e6:.1f} MB)")
    for name, ms in (("block point", block_ms), ("centerline interpolation", line_ms)):
        ms.sort()
        print(f"lookup {name}: median {statistics.median(ms):.3f} ms, p99 {ms[int(len(ms) * 0.99)]:.3f} ms")


if __name__ == "__main__":
    main()
