"""Distances on the ground, good to a metre at Dallas' latitude."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


# Metres per degree near Dallas (32.8 N), for buffers expressed in degrees.
M_PER_DEG_LAT = 110_900.0
M_PER_DEG_LON = 93_200.0


def metres_to_degrees(metres: float) -> float:
    """A buffer distance in degrees (the smaller, longitude scale: errs on the generous side)."""
    return metres / M_PER_DEG_LON
