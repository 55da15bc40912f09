"""Location keys: one normalized text per place, so many calls share one geocode.

This is the stable entry point the tracker calls for every row; the rules behind it live in
``geocoding.normalize`` (cached, so a repeated location costs a dictionary lookup).
"""

from __future__ import annotations

from dallas_calls.geocoding.normalize import CITY_SUFFIX, normalize_location

__all__ = ["CITY_SUFFIX", "location_key"]


def location_key(block: str | None, location: str) -> str:
    """Key for a block + street, or for two cross streets "A / B" (order-independent).

    Every spelling of one place has one key: ``("6100", "N Central Serv Nb")`` and
    ``("6100", "N CENTRAL SERV NB")`` give ``"6100 N CENTRAL EXPY SERV NB | DALLAS TX"``.
    """
    return normalize_location(block, location).key
