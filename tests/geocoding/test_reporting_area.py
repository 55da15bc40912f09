"""The reporting-area fallback: a call no candidate places goes to its reporting area's centre,
checked like any candidate, before the beat's centre."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from dallas_calls.geocoding.address_points import AddressPoint, AddressPointIndex
from dallas_calls.geocoding.choose import AREA_CENTRE_SOURCE, BEAT_CENTROID_SOURCE
from dallas_calls.geocoding.holdout import held_out_addresses, locate_held_out
from dallas_calls.geocoding.locator import AddressPointProvider, Locator
from dallas_calls.geodata.beats import BeatAreas, default_areas
from dallas_calls.geodata.distance import M_PER_DEG_LAT, distance_m
from dallas_calls.geodata.samples import city_truth_points, normalize_reporting_area, openaddresses_points


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4359", "4359"), (" 4359 ", "4359"), ("4359.0", "4359"), ("System.Xml.XmlElement", None),
     ("4198,4225", None), ("", None), (None, None), ("0", None)],
)  # fmt: skip
def test_reporting_areas_are_plain_numbers_or_nothing(text: str | None, expected: str | None) -> None:
    assert normalize_reporting_area(text) == expected


def _near(areas: BeatAreas, beat: str, north_m: float) -> tuple[float, float]:
    centroid = areas.beat_centroid(beat)
    assert centroid is not None
    return centroid[0] + north_m / M_PER_DEG_LAT, centroid[1]


def _area_index(areas: BeatAreas, beat: str, area: str, offsets: list[float]) -> AddressPointIndex:
    points = []
    for i, north in enumerate(offsets):
        lat, lon = _near(areas, beat, north)
        points.append(AddressPoint(100 + 2 * i, f"KNOWN {i} ST", lat, lon, beat, area))
    return AddressPointIndex(points)


def test_the_centre_is_the_mean_of_the_area_points_and_needs_two() -> None:
    a = AddressPoint(100, "ELM ST", 32.80, -96.80, "134", "2054")
    b = AddressPoint(200, "ELM ST", 32.81, -96.80, "134", "2054")
    c = AddressPoint(300, "ELM ST", 32.84, -96.80, "134", "2054")
    lone = AddressPoint(100, "OAK ST", 32.70, -96.70, "452", "4359")
    index = AddressPointIndex([a, b, c, lone])
    centre = index.reporting_area_centre("2054")
    assert centre is not None
    assert centre[0] == round(statistics.fmean([32.80, 32.81, 32.84]), 6) and centre[2] == 3
    assert index.reporting_area_centre("4359") is None  # one point is a place, not a centre
    assert index.reporting_area_centre("9999") is None
    assert index.reporting_area_centre(None) is None
    # Built from the table itself, so a table less a point has a centre without it (leave-one-out).
    less = index.without({c})
    assert less.reporting_area_centre("2054") == pytest.approx((32.805, -96.80, 2))


def test_an_unknown_street_goes_to_its_reporting_area_not_the_beat_centre() -> None:
    areas = default_areas()
    index = _area_index(areas, "452", "4359", [250.0, 350.0, 450.0])
    locator = Locator([AddressPointProvider(index)], areas)
    geo = locator.locate("4300", "No Such St", "452", "Southwest", "4359")
    assert (geo.precision, geo.source, geo.in_beat) == ("reporting_area", AREA_CENTRE_SOURCE, True)
    assert geo.lat is not None and geo.lon is not None
    assert distance_m(geo.lat, geo.lon, *_near(areas, "452", 350.0)) < 1
    # No area, an area the table does not know, or the feed's junk: the beat's centre as before.
    for area in (None, "9999", "System.Xml.XmlElement"):
        geo = locator.locate("4300", "No Such St", "452", "Southwest", area)
        assert (geo.precision, geo.source) == ("beat", BEAT_CENTROID_SOURCE), area
    # A match on the street still wins over the area's centre.
    geo = locator.locate("100", "Known 0 St", "452", "Southwest", "4359")
    assert geo.precision == "address"


def test_an_area_centre_outside_the_calls_beat_is_not_used() -> None:
    # The table's area "4359" sits in beat 452 (south-west); a call in beat 134 (downtown) that
    # names it keeps its own beat's centre: the centre is judged like any candidate.
    areas = default_areas()
    index = _area_index(areas, "452", "4359", [250.0, 350.0])
    geo = Locator([AddressPointProvider(index)], areas).locate("4300", "No Such St", "134", "Central", "4359")
    assert (geo.precision, geo.source) == ("beat", BEAT_CENTROID_SOURCE)
    assert (geo.lat, geo.lon) == areas.beat_centroid("134")


def test_on_real_data_the_area_centre_is_closer_than_the_beat_centre(real_data: Path) -> None:
    # Leave-one-address-out on the shipped table: the addresses that fall back to their reporting
    # area's centre (computed from the table less each one) are nearer it than their beat's centre.
    incidents = real_data / "incidents"
    held = held_out_addresses([*city_truth_points(incidents), *openaddresses_points(incidents)])
    areas = default_areas()
    area_errors, beat_errors = [], []
    for r in locate_held_out(AddressPointIndex.seed(), areas, held):
        if r.geo.precision != "reporting_area" or r.error_m is None:
            continue
        centroid = areas.beat_centroid(r.held.beat)
        assert centroid is not None
        area_errors.append(r.error_m)
        beat_errors.append(distance_m(r.held.lat, r.held.lon, *centroid))
    assert len(area_errors) > 200
    assert statistics.median(area_errors) < 0.8 * statistics.median(beat_errors)
    assert sum(e <= 250 for e in area_errors) > 1.2 * sum(e <= 250 for e in beat_errors)
