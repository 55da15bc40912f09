"""Location keys: one normalized text per place, so many calls share one geocode.

This is the stable entry point the tracker calls; the normalization rules behind it live in
``geocoding.normalize`` (once that module exists it should back ``location_key``).
"""

from __future__ import annotations

import re

_SPACES = re.compile(r"\s+")
CITY_SUFFIX = "DALLAS TX"


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text.strip().upper())


def location_key(block: str | None, location: str) -> str:
    """Key for a block + street, or for two cross streets "A / B" (order-independent)."""
    if "/" in location:
        parts = sorted(p for p in (_clean(x) for x in location.split("/")) if p)
        return " / ".join(parts) + " | " + CITY_SUFFIX
    street = _clean(location)
    prefix = _clean(block) + " " if block and block.strip() else ""
    return prefix + street + " | " + CITY_SUFFIX
