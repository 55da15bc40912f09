"""The configured chain end to end: once `geodata build` has made the street index, the default
locator uses it first; without it, the same call is placed from the shipped address points."""

from __future__ import annotations

from pathlib import Path

from dallas_calls.cli import main
from dallas_calls.config import Settings
from dallas_calls.geocoding.locator import default_locator

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tiger"


def test_street_index_places_a_far_north_intersection_exactly(tmp_path: Path) -> None:
    assert main(["geodata", "build", "--from", str(FIXTURE), "--data-dir", str(tmp_path)]) == 0
    geo = default_locator(Settings(data_dir=tmp_path)).locate(
        None, "Midway Rd / Frankford Rd", "613", "North Central"
    )
    assert (geo.precision, geo.source, geo.in_beat) == ("intersection", "tiger", True)
    assert geo.lat is not None and geo.lat > 32.98  # far north, not downtown (the prototype's error)


def test_without_street_index_the_address_points_place_the_call_in_its_beat(tmp_path: Path) -> None:
    geo = default_locator(Settings(data_dir=tmp_path)).locate(None, "Frankford Rd / Midway Rd", "613", None)
    assert (geo.source, geo.in_beat) == ("address_points", True)
    assert geo.lat is not None and geo.lat > 32.95
