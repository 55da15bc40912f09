from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from dallas_calls.geocoding.address_points import AddressPoint, AddressPointIndex
from dallas_calls.geocoding.normalize import (
    NormalizedLocation,
    normalize_address,
    normalize_location,
    normalize_street,
)
from dallas_calls.geodata.distance import distance_m
from dallas_calls.geodata.samples import city_truth_points


@pytest.fixture(scope="module")
def truth(real_data: Path) -> list[tuple[str, float, float, str | None]]:
    return [(p.address, p.lat, p.lon, p.beat) for p in city_truth_points(real_data / "incidents")]


@pytest.fixture(scope="module")
def index(truth: list[tuple[str, float, float, str | None]]) -> AddressPointIndex:
    return AddressPointIndex.from_rows(truth)


def _truth_by_address(
    truth: list[tuple[str, float, float, str | None]],
) -> dict[str, tuple[NormalizedLocation, float, float]]:
    groups: dict[str, tuple[NormalizedLocation, list[tuple[float, float]]]] = {}
    for address, lat, lon, _ in truth:
        loc = normalize_address(address)
        if loc.kind == "address":
            groups.setdefault(loc.key, (loc, []))[1].append((lat, lon))
    return {
        k: (loc, statistics.median(c[0] for c in cs), statistics.median(c[1] for c in cs))
        for k, (loc, cs) in groups.items()
    }


def test_leave_one_address_out_places_most_city_addresses_within_250_m(
    truth: list[tuple[str, float, float, str | None]], index: AddressPointIndex
) -> None:
    errors = []
    for loc, lat, lon in _truth_by_address(truth).values():
        assert loc.number is not None and loc.street is not None
        found = [
            c
            for c in index.locate_address(loc.number, loc.street, exclude_number=True)
            if c.precision == "address"
        ]
        if found:
            best = max(found, key=lambda c: c.score)
            errors.append(distance_m(lat, lon, best.lat, best.lon))
    assert len(errors) >= 200, "the real sample has a few hundred addresses with neighbours on their street"
    errors.sort()
    assert errors[len(errors) // 2] < 150
    assert sum(e <= 250 for e in errors) / len(errors) >= 0.85


def test_a_known_block_is_the_median_of_its_points(index: AddressPointIndex) -> None:
    pts = [
        AddressPoint(6110, "N CENTRAL EXPY", 32.85, -96.77),
        AddressPoint(6150, "N CENTRAL EXPY", 32.86, -96.77),
        AddressPoint(6190, "N CENTRAL EXPY", 32.87, -96.78),
        AddressPoint(6400, "N CENTRAL EXPY", 32.90, -96.79),
    ]
    small = AddressPointIndex(pts)
    loc = normalize_address("6100 N Central Serv Nb")
    (cand,) = small.locate(loc)
    assert (cand.lat, cand.lon, cand.precision) == (32.86, -96.77, "address")


def test_an_empty_block_is_interpolated_between_its_neighbours_on_the_street() -> None:
    small = AddressPointIndex(
        [AddressPoint(100, "ELM ST", 32.0, -96.0), AddressPoint(500, "ELM ST", 32.004, -96.0)]
    )
    street = normalize_street("Elm St")
    assert street is not None
    (cand,) = small.locate_address(300, street)
    assert cand.precision == "address"
    assert cand.lat == pytest.approx(32.0 + 0.004 * (350 - 100) / 400)
    assert "interpolated" in cand.detail


def test_a_street_missing_its_suffix_still_matches_by_core(index: AddressPointIndex) -> None:
    # "205 S Lamar" (free text, no suffix) against the city's "S LAMAR ST" points.
    loc = normalize_address("205 S Lamar")
    found = index.locate(loc)
    assert found and all(c.score < 1.0 for c in found)


def test_a_real_feed_intersection_lies_in_the_calls_beat_between_points_of_both_streets(
    index: AddressPointIndex,
) -> None:
    from dallas_calls.geodata.beats import default_areas

    # A real feed row: "W Camp Wisdom Rd / Independence Dr", beat 452.
    loc = normalize_location(None, "W Camp Wisdom Rd / Independence Dr")
    found = index.locate(loc)
    assert found and all(c.precision == "intersection" for c in found)
    best = max(found, key=lambda c: c.score)
    assert default_areas().point_in_beat(best.lat, best.lon, "452")


def test_streets_that_never_meet_have_no_intersection(index: AddressPointIndex) -> None:
    # Frankford Rd (far north) and S Lancaster Rd (far south) are both in the index and never meet.
    a, b = normalize_street("FRANKFORD RD"), normalize_street("S LANCASTER RD")
    assert a is not None and b is not None
    assert index.street_names(a) and index.street_names(b)
    assert index.locate_intersection(a, b) == []


def test_the_shipped_seed_table_loads_and_answers(real_data: Path) -> None:
    seed = AddressPointIndex.seed()
    assert len(seed) > 1000
    loc = normalize_address("4302 INDEPENDENCE DR")
    assert seed.locate(loc)


def test_unknown_street_gives_no_candidates(index: AddressPointIndex) -> None:
    assert index.locate(normalize_address("100 NO SUCH STREET XYZ")) == []


def test_leave_one_address_out_on_real_data_places_blocks_of_known_streets(real_data: Path) -> None:
    # The shipped table, each real address located at block level with its beat from the table
    # less that address and its duplicates (the figure bench/geocode_accuracy.py reports).
    from dallas_calls.geocoding.holdout import held_out_addresses, locate_held_out
    from dallas_calls.geodata.beats import default_areas
    from dallas_calls.geodata.samples import openaddresses_points

    incidents = real_data / "incidents"
    held = held_out_addresses([*city_truth_points(incidents), *openaddresses_points(incidents)])
    areas = default_areas()
    results = list(locate_held_out(AddressPointIndex.seed(), areas, held))
    known = sorted(e for r in results if r.street_known and (e := r.error_m) is not None)
    assert len(known) > 1000
    assert sum(e <= 250 for e in known) / len(known) >= 0.7
    address = [r.error_m for r in results if r.geo.precision == "address" and r.error_m is not None]
    assert sum(e <= 250 for e in address) / len(address) >= 0.88
    for r in results:
        if r.geo.lat is not None and r.geo.lon is not None and r.geo.precision != "beat":
            assert areas.in_city(r.geo.lat, r.geo.lon), r  # matches and reporting-area centres alike


def test_a_block_beyond_the_known_numbers_is_placed_on_its_street_and_labelled_street() -> None:
    # Known 1000-1400 due north; the 1700 block is followed along the line, honestly as "street".
    small = AddressPointIndex(
        [
            AddressPoint(n, "ELM ST", 32.8 + (n - 1000) * 1.5 / 110_900, -96.8)
            for n in (1000, 1150, 1300, 1400)
        ]
    )
    street = normalize_street("Elm St")
    assert street is not None
    (cand,) = small.locate_address(1700, street)
    assert cand.precision == "street" and "beyond 1400" in cand.detail
    assert distance_m(cand.lat, cand.lon, 32.8 + 750 * 1.5 / 110_900, -96.8) < 10


def test_a_numbered_route_finds_the_street_it_runs_on(index: AddressPointIndex) -> None:
    # State Highway 289 is Preston Rd (geocoding/data/street_alternates.csv).
    route = normalize_street("SH 289")
    preston = normalize_street("Preston Rd")
    assert route is not None and preston is not None and route.name != preston.name
    assert [name for name, _ in index.street_names(route)] == ["PRESTON RD"]


def test_a_street_written_as_one_word_or_two_is_one_street() -> None:
    small = AddressPointIndex([AddressPoint(6161, "TRAIL GLEN DR", 32.9, -96.7)])
    street = normalize_street("Trailglen Dr")
    assert street is not None
    assert small.street_names(street) == [("TRAIL GLEN DR", False)]


def test_a_block_of_one_half_is_placed_from_the_other_half_across_the_baseline() -> None:
    # Only S ERVAY ST is known, 100-900 running south; the 300 block of N ERVAY ST lies north of
    # the baseline on the same line.
    lat0 = 32.78
    small = AddressPointIndex(
        [AddressPoint(n, "S ERVAY ST", lat0 - n * 1.5 / 110_900, -96.797) for n in (100, 300, 500, 900)]
    )
    north = normalize_street("N Ervay St")
    assert north is not None
    (cand,) = small.locate_address(300, north)
    assert cand.precision == "street" and "as one line" in cand.detail
    assert cand.lat > lat0
    assert distance_m(cand.lat, cand.lon, lat0 + 350 * 1.5 / 110_900, -96.797) < 10
