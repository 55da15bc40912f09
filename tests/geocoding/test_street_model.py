"""Street models: a street's known points fitted against house number in straight runs."""

from __future__ import annotations

import pytest

from dallas_calls.geocoding.street_model import MAX_REACH, PLANE, Knot, StreetModel, split_runs
from dallas_calls.geodata.distance import distance_m


def _knot(number: int, x: float, y: float) -> Knot:
    return Knot(number, x, y)


def _straight(numbers: list[int], metres_per_number: float = 1.5) -> StreetModel:
    """A street running due east, ``metres_per_number`` per house number."""
    return StreetModel([_knot(n, n * metres_per_number, 0.0) for n in numbers])


def test_a_block_beyond_the_known_numbers_is_placed_along_the_street_line() -> None:
    model = _straight([1000, 1100, 1250, 1400])
    placed = model.place(1750)
    assert placed is not None and placed.kind == "extrapolated"
    assert placed.reach == 350
    x, y = PLANE.to_xy(placed.lat, placed.lon)
    assert x == pytest.approx(1750 * 1.5, abs=1.0) and y == pytest.approx(0.0, abs=1.0)


def test_extrapolation_stops_at_its_bound() -> None:
    model = _straight([1000, 1100, 1250, 3000])
    assert model.place(3000 + MAX_REACH + 100) is None
    short = _straight([1000, 1040])  # a run over 40 numbers says little about 600 numbers on
    assert short.place(1700) is None


def test_a_bend_ends_a_run_and_the_second_leg_follows_its_own_line() -> None:
    # East along y = 0 up to 2000, then north along x = 3000.
    east = [_knot(n, n * 1.5, 0.0) for n in (1000, 1200, 1500, 2000)]
    north = [_knot(n, 3000.0, (n - 2000) * 1.5) for n in (2300, 2600, 2900)]
    model = StreetModel(east + north)
    assert len(model.runs) >= 2
    placed = model.place(3200)
    assert placed is not None
    x, y = PLANE.to_xy(placed.lat, placed.lon)
    assert x == pytest.approx(3000.0, abs=30.0)
    assert y == pytest.approx(1800.0, abs=60.0)


def test_a_bad_geocode_breaks_the_run_instead_of_bending_it() -> None:
    knots = [_knot(n, n * 1.5, 0.0) for n in (1000, 1100, 1200)]
    knots.append(_knot(1300, 1950.0, 600.0))  # 600 m off the line
    runs = split_runs(knots)
    assert runs and runs[0].last == 1200


def test_numbers_that_jump_far_on_a_short_stretch_are_not_one_run() -> None:
    # 100 and 9000 fifty metres apart: two numbering systems under one name, not a straight run.
    assert split_runs([_knot(100, 0.0, 0.0), _knot(9000, 50.0, 0.0)]) == []


def test_interpolation_between_known_numbers_lies_between_them() -> None:
    model = _straight([1000, 1400])
    placed = model.place(1250)
    assert placed is not None and placed.kind == "interpolated" and placed.reach == 150
    lat, lon = PLANE.to_lat_lon(1250 * 1.5, 0.0)
    assert distance_m(placed.lat, placed.lon, lat, lon) < 1.0


def test_one_known_number_is_no_model() -> None:
    assert StreetModel([_knot(1000, 0.0, 0.0)]).place(1100) is None
