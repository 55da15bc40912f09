"""Street edge geometry: (lon, lat) polylines, their packed form in the index, and points along them.

Apart from the index because it is plain geometry, used by both sides of the file: the writer packs
each edge's vertices and measures its length, the reader unpacks them and places addresses along
and beside the line. Pure: numbers in, numbers out; no I/O.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Sequence

from dallas_calls.geodata.distance import distance_m

Coords = list[tuple[float, float]]  # (lon, lat), as TIGER stores them


def pack_coords(coords: Sequence[tuple[float, float]]) -> bytes:
    """Microdegrees as little-endian int32 pairs: 8 bytes a vertex, ~0.1 m resolution."""
    flat = [round(v * 1e6) for point in coords for v in point]
    return struct.pack(f"<{len(flat)}i", *flat)


def unpack_coords(blob: bytes) -> Coords:
    flat = struct.unpack(f"<{len(blob) // 4}i", blob)
    return [(flat[i] / 1e6, flat[i + 1] / 1e6) for i in range(0, len(flat), 2)]


def line_length_m(coords: Sequence[tuple[float, float]]) -> float:
    return sum(distance_m(a[1], a[0], b[1], b[0]) for a, b in itertools.pairwise(coords))


def point_along(coords: Sequence[tuple[float, float]], fraction: float) -> tuple[float, float, float, float]:
    """The point at ``fraction`` (0..1) of the line's length: (lon, lat, dx, dy) where (dx, dy) is the
    local direction of travel in metres (east, north), for placing a point to one side."""
    fraction = min(1.0, max(0.0, fraction))
    lengths = [distance_m(a[1], a[0], b[1], b[0]) for a, b in itertools.pairwise(coords)]
    total = sum(lengths)
    if total == 0 or len(coords) < 2:
        lon, lat = coords[0]
        return lon, lat, 0.0, 0.0
    target = fraction * total
    pairs = list(itertools.pairwise(coords))
    for i, ((a, b), length) in enumerate(zip(pairs, lengths, strict=True)):
        if target <= length or i == len(pairs) - 1:
            t = 0.0 if length == 0 else min(1.0, target / length)
            lon = a[0] + (b[0] - a[0]) * t
            lat = a[1] + (b[1] - a[1]) * t
            dx = (b[0] - a[0]) * 111_320.0 * math.cos(math.radians(lat))
            dy = (b[1] - a[1]) * 110_574.0
            return lon, lat, dx, dy
        target -= length
    lon, lat = coords[-1]
    return lon, lat, 0.0, 0.0


def offset_point(
    lon: float, lat: float, dx: float, dy: float, metres: float, left: bool
) -> tuple[float, float]:
    """Move (lon, lat) ``metres`` to the left (or right) of the direction (dx, dy)."""
    norm = math.hypot(dx, dy)
    if norm == 0:
        return lon, lat
    nx, ny = (-dy / norm, dx / norm) if left else (dy / norm, -dx / norm)
    return (
        lon + nx * metres / (111_320.0 * math.cos(math.radians(lat))),
        lat + ny * metres / 110_574.0,
    )
