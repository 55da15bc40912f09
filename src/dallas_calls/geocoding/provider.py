"""What a source of candidate points is, for the locator and every provider (local or online).

Its own module so that providers depend on it and not on the locator, which imports them.
"""

from __future__ import annotations

from typing import Protocol

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.normalize import NormalizedLocation


class Provider(Protocol):
    """A source of candidate points for a normalized location."""

    name: str

    def candidates(
        self, location: NormalizedLocation, near: tuple[float, float] | None
    ) -> list[Candidate]: ...
