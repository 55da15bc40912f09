"""The TIGER street index on the constructed fixture in tests/fixtures/tiger/ (see its README)."""

from __future__ import annotations

import json
import runpy
import time
import zipfile
from pathlib import Path

import pytest
import shapefile

from dallas_calls.cli import main
from dallas_calls.geocoding.canonical_names import canonical_street
from dallas_calls.geocoding.street_index import StreetCandidate, StreetIndex
from dallas_calls.geodata.distance import distance_m
from dallas_calls.geodata.tiger import build_street_index, find_tiger_files

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "tiger"

FRANKFORD_MIDWAY = (32.9985, -96.8366)
ELM_HARWOOD = (32.7836, -96.7937)
LBJ_EB_SERVICE_AT_MIDWAY = (32.9254, -96.8387)
LBJ_WB_SERVICE_AT_MIDWAY = (32.9270, -96.8387)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> StreetIndex:
    out = tmp_path_factory.mktemp("streets") / "streets.sqlite3"
    build_street_index(FIXTURE, out, log=lambda _: None)
    opened = StreetIndex.open(out)
    assert opened is not None
    return opened


def near(c: StreetCandidate, point: tuple[float, float]) -> float:
    return distance_m(c.lat, c.lon, point[0], point[1])


def test_frankford_and_midway_is_far_north_not_downtown(index: StreetIndex) -> None:
    [c] = index.intersection("Frankford Rd", "Midway Rd")
    assert c.match == "intersection"
    assert c.source == "tiger"
    assert c.lat > 32.98
    assert near(c, FRANKFORD_MIDWAY) < 20


def test_intersection_is_the_shared_node_in_either_order(index: StreetIndex) -> None:
    [ab] = index.intersection("ELM ST", "N HARWOOD ST")
    [ba] = index.intersection("N Harwood St", "Elm St")
    assert (ab.lat, ab.lon) == (ba.lat, ba.lon)
    assert near(ab, ELM_HARWOOD) < 20
    assert "node 90103" in ab.detail


def test_freeway_meets_a_street_at_two_service_road_nodes(index: StreetIndex) -> None:
    for spelling in ("L B J FWY", "LBJ Fwy", "Lyndon B Johnson Fwy"):
        found = index.intersection(spelling, "Midway Rd")
        assert len(found) == 2, spelling
        south, north = sorted(found, key=lambda c: c.lat)
        assert near(south, LBJ_EB_SERVICE_AT_MIDWAY) < 20
        assert near(north, LBJ_WB_SERVICE_AT_MIDWAY) < 20
        assert near(south, (north.lat, north.lon)) > 100


def test_main_lanes_bridging_a_street_do_not_meet_it(index: StreetIndex) -> None:
    assert index.intersection("I-635", "Midway Rd") == []


def test_block_address_is_interpolated_mid_block_on_its_segment(index: StreetIndex) -> None:
    [c] = index.address(18100, "Midway Rd")
    assert c.match == "address"
    assert "TLID 100102" in c.detail
    # the 18100 block runs from node 90002 (32.9970) to Frankford (32.9985): its middle
    assert near(c, (32.99775, -96.8366)) < 150
    assert near(c, (32.99775, -96.8366)) < 10


def test_range_digitized_against_the_numbering_still_interpolates(index: StreetIndex) -> None:
    [c] = index.address(4100, "FRANKFORD RD")
    assert "TLID 100114" in c.detail
    assert near(c, (32.998485, -96.8393)) < 150
    assert c.lon < FRANKFORD_MIDWAY[1]  # numbers rise westward


def test_downtown_block_address(index: StreetIndex) -> None:
    [c] = index.address(1900, "ELM ST")
    assert near(c, (32.78375, -96.7930)) < 150
    assert c.lon > ELM_HARWOOD[1]  # the 1900 block starts at Harwood and runs east


def test_house_number_is_placed_on_its_side_of_the_street(index: StreetIndex) -> None:
    [odd] = index.address(18123, "Midway Rd")
    [even] = index.address(18124, "Midway Rd")
    assert odd.lon < -96.8366 < even.lon  # odd numbers on the west side here
    assert 5 < near(odd, (odd.lat, -96.8366)) < 12
    assert abs(odd.lat - even.lat) < 0.0001


def test_one_block_in_two_places_gives_two_candidates(index: StreetIndex) -> None:
    service_roads = index.address(4000, "L B J FWY")
    assert len(service_roads) == 2
    assert {round(c.lat, 3) for c in service_roads} == {32.925, 32.927}
    harwood = index.address(100, "HARWOOD ST")
    assert len(harwood) == 2
    assert any("N HARWOOD ST" in c.detail for c in harwood)
    assert any("S HARWOOD ST" in c.detail for c in harwood)
    assert all(c.score < 1.0 for c in harwood)  # matched without the directional


def test_ranges_come_from_edges_where_addrfeat_has_none(index: StreetIndex) -> None:
    [c] = index.address(18200, "Midway Rd")  # Denton part: no ADDRFEAT rows in the fixture
    assert "TLID 100103" in c.detail
    assert c.lat > FRANKFORD_MIDWAY[0]


def test_unknown_street_or_number_gives_nothing(index: StreetIndex) -> None:
    assert index.address(100, "Nowhere St") == []
    assert index.intersection("Nowhere St", "Midway Rd") == []
    assert index.street("Nowhere St") == []
    assert index.address(99900, "Midway Rd") == []
    assert index.intersection("Midway Rd", "MIDWAY RD") == []


def test_street_gives_one_point_per_connected_piece(index: StreetIndex) -> None:
    pieces = index.street("Midway Rd")
    assert len(pieces) == 2
    assert {c.match for c in pieces} == {"street"}
    assert sorted(round(c.lat, 1) for c in pieces) == [32.9, 33.0]
    lbj_area = (32.9262, -96.8387)
    nearest = min(index.street("Midway Rd", near=lbj_area), key=lambda c: near(c, lbj_area))
    assert near(nearest, lbj_area) < 150
    assert len(index.street("MIDWAY")) == 2  # no street type given: matched on the core name


def test_non_road_edges_are_not_indexed(index: StreetIndex) -> None:
    assert index.street("White Rock Creek") == []


def test_lookups_are_fast(index: StreetIndex) -> None:
    start = time.perf_counter()
    for _ in range(200):
        index.intersection("Frankford Rd", "Midway Rd")
        index.address(18100, "Midway Rd")
    per_lookup_ms = (time.perf_counter() - start) / 400 * 1000
    assert per_lookup_ms < 5


@pytest.mark.parametrize(
    ("tiger", "canonical"),
    [
        ("N Central Expy", "N CENTRAL EXPY"),
        ("Belt Line Rd", "BELT LINE RD"),
        ("W Northwest Hwy", "W NORTHWEST HWY"),
        ("Northwest Hwy", "NORTHWEST HWY"),
        ("South Blvd", "SOUTH BLVD"),
        ("North Harwood Street", "N HARWOOD ST"),
        ("Lyndon B Johnson Fwy", "L B J FWY"),
        ("LBJ Fwy", "L B J FWY"),
        ("I- 635", "I-635"),
        ("IH 35E", "I-35E"),
        ("US Hwy 75", "US-75"),
        ("State Hwy 183", "SH-183"),
        ("State Spur 408", "SPUR 408"),
        ("Dallas N Tollway", "DALLAS NORTH TOLLWAY"),
        ("R.L. Thornton Fwy", "R L THORNTON FWY"),
        ("First Ave", "1ST AVE"),
        ("Avenue J", "AVENUE J"),
        ("N Central Expy", canonical_street("N CENTRAL EXPY")),
    ],
)
def test_canonical_street_names(tiger: str, canonical: str) -> None:
    assert canonical_street(tiger) == canonical
    assert canonical_street(canonical) == canonical  # idempotent


def test_open_without_a_built_index_is_none(tmp_path: Path) -> None:
    assert StreetIndex.open(tmp_path / "streets.sqlite3") is None


def test_zipped_downloads_build_the_same_index(tmp_path: Path) -> None:
    """The real files arrive zipped; the fixture is unpacked. Both read the same."""
    for stem in {p.stem for p in FIXTURE.glob("tl_*")}:
        with zipfile.ZipFile(tmp_path / f"{stem}.zip", "w") as zf:
            for part in FIXTURE.glob(f"{stem}.*"):
                zf.write(part, part.name)
    files = find_tiger_files(tmp_path)
    assert all(p.suffix == ".zip" for layers in files.layers.values() for p in layers.values())
    zipped = build_street_index(tmp_path, tmp_path / "streets.sqlite3", log=lambda _: None)
    unpacked = build_street_index(FIXTURE, tmp_path / "unpacked.sqlite3", log=lambda _: None)
    assert zipped.counts == unpacked.counts
    assert zipped.counties == ["48113", "48121"]


def test_fixture_is_small_and_matches_its_generator(tmp_path: Path) -> None:
    assert sum(p.stat().st_size for p in FIXTURE.iterdir()) < 200_000
    generator = runpy.run_path(str(REPO / "scripts" / "make_tiger_fixture.py"))
    for fips in ("48113", "48121"):
        generator["write_county"](tmp_path, fips)
    for fresh in sorted(tmp_path.glob("*.dbf")):
        with shapefile.Reader(str(fresh)) as a, shapefile.Reader(str(FIXTURE / fresh.name)) as b:
            assert [list(r) for r in a.iterRecords()] == [list(r) for r in b.iterRecords()], fresh.name
    for fresh in sorted(tmp_path.glob("*.shp")):
        assert fresh.read_bytes() == (FIXTURE / fresh.name).read_bytes(), fresh.name


def test_cli_build_then_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["geodata", "status", "--json", "--data-dir", str(tmp_path)]) == 0
    before = json.loads(capsys.readouterr().out)
    assert before["street_index"]["present"] is False
    assert {f["state"] for f in before["files"]} == {"missing"}

    assert main(["geodata", "build", "--from", str(FIXTURE), "--data-dir", str(tmp_path)]) == 0
    assert "28 segments" in capsys.readouterr().out
    assert (tmp_path / "geodata" / "streets.sqlite3").is_file()

    assert main(["geodata", "status", "--data-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "street index:" in text and "counties 48113 48121" in text
    assert "missing  police-divisions" in text


def test_cli_build_without_files_fails_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["geodata", "build", "--data-dir", str(tmp_path)]) == 1
    assert "no TIGER EDGES files" in capsys.readouterr().err
