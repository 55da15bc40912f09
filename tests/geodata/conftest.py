"""A running fake of the city's GIS services, serving the constructed miniature city."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import city_data
from tests.fakes.city_gis import CityGis, serve


@pytest.fixture
def gis() -> Iterator[CityGis]:
    """Every layer of tests/fakes/city_data.py, at most 3 features a page (so every layer pages)."""
    fake = CityGis(
        layers={path: make() for path, make in city_data.LAYERS.items()},
        socrata={city_data.INCIDENTS_PATH: city_data.incidents()},
        max_records=3,
    )
    with serve(fake) as running:
        yield running
