"""Cross streets from two streets' fitted runs."""

from __future__ import annotations

import pytest

from dallas_calls.geocoding.cross_streets import MAX_CROSS_REACH_M, crossings
from dallas_calls.geocoding.street_model import PLANE, Knot, StreetModel


def _east(numbers: list[int], y: float, x0: float = 0.0) -> StreetModel:
    return StreetModel([Knot(n, x0 + (n - numbers[0]) * 1.5, y) for n in numbers])


def _north(numbers: list[int], x: float, y0: float = 0.0) -> StreetModel:
    return StreetModel([Knot(n, x, y0 + (n - numbers[0]) * 1.5) for n in numbers])


def test_two_runs_cross_where_their_lines_meet() -> None:
    a = _east([1000, 1200, 1400], y=0.0)  # x 0..600
    b = _north([5000, 5200, 5400], x=300.0, y0=-300.0)  # y -300..300
    (c,) = crossings(a, b)
    x, y = PLANE.to_xy(c.lat, c.lon)
    assert (x, y) == (pytest.approx(300.0, abs=1.0), pytest.approx(0.0, abs=1.0))
    assert c.reach_m == 0.0


def test_parallel_streets_do_not_cross() -> None:
    assert crossings(_east([1000, 1200, 1400], y=0.0), _east([1000, 1200, 1400], y=150.0)) == []


def test_a_crossing_far_beyond_the_known_points_is_not_taken() -> None:
    a = _east([1000, 1200, 1400], y=0.0)  # ends at x = 600
    b = _north([5000, 5200, 5400], x=600.0 + MAX_CROSS_REACH_M + 200, y0=-300.0)
    assert crossings(a, b) == []


def test_a_point_of_a_street_without_runs_next_to_the_other_street_is_its_corner() -> None:
    a = _east([1000, 1200, 1400], y=0.0)
    corner = StreetModel([Knot(140, 250.0, 40.0)])  # one known house, 40 m north of a
    (c,) = crossings(a, corner)
    x, y = PLANE.to_xy(c.lat, c.lon)
    assert (x, y) == (pytest.approx(250.0, abs=1.0), pytest.approx(0.0, abs=1.0))
    far = StreetModel([Knot(140, 250.0, 400.0)])
    assert crossings(a, far) == []
