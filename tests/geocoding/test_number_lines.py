"""A block of a street known only far from it, placed on its neighbourhood's line of that number."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dallas_calls.geocoding.number_lines import NumberLines
from dallas_calls.geocoding.street_model import PLANE


@dataclass(frozen=True)
class Point:
    number: int
    street: str
    lat: float
    lon: float


def _at(number: int, street: str, x: float, y: float) -> Point:
    lat, lon = PLANE.to_lat_lon(x, y)
    return Point(number, street, lat, lon)


def _grid() -> list[Point]:
    """North-south streets 200 m apart, numbered northwards alike: number = 1000 + y / 1.5."""
    return [
        _at(1000 + round(y / 1.5), f"STREET {i}", 200.0 * i, float(y))
        for i in range(5)
        for y in range(0, 1500, 150)
    ]


def test_the_block_is_where_the_street_crosses_the_line_of_its_number() -> None:
    anchor = _at(1000, "TARGET ST", 1100.0, 0.0)  # one known house of a sixth street, farther east
    placed = NumberLines(_grid()).place(1450, anchor, {"TARGET ST"})
    assert placed is not None and placed.points >= 2
    x, y = PLANE.to_xy(placed.lat, placed.lon)
    assert x == pytest.approx(1100.0, abs=5.0)
    assert y == pytest.approx(675.0, abs=40.0)


def test_points_that_trace_no_straight_line_place_nothing() -> None:
    # The same numbers scattered over a curving neighbourhood: no line, no answer.
    places = [(0.0, 0.0), (300.0, 600.0), (600.0, -400.0), (900.0, 500.0), (200.0, -600.0)]
    scattered = [_at(1450, f"LANE {i}", x, y) for i, (x, y) in enumerate(places)]
    assert NumberLines(scattered).place(1450, _at(1000, "TARGET ST", 600.0, 0.0), {"TARGET ST"}) is None


def test_a_line_too_far_for_the_numbers_between_places_nothing() -> None:
    # 50 numbers apart cannot be 1 km apart.
    line = [_at(1050, f"STREET {i}", 200.0 * i, 1000.0) for i in range(4)]
    assert NumberLines(line).place(1050, _at(1000, "TARGET ST", 300.0, 0.0), {"TARGET ST"}) is None
