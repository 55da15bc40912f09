from __future__ import annotations

from pathlib import Path

import pytest

from dallas_calls.geocoding.keys import location_key
from dallas_calls.geocoding.normalize import (
    freeway_aliases,
    normalize_address,
    normalize_location,
    normalize_street,
)
from tests.geocoding.conftest import feed_rows, incident_addresses


def test_every_real_feed_location_becomes_a_valid_query(real_data: Path) -> None:
    failures = [
        (r.get("block"), r["location"])
        for r in feed_rows()
        if not normalize_location(r.get("block"), r["location"]).valid
    ]
    assert failures == []


def test_every_real_incident_address_becomes_a_valid_query(real_data: Path) -> None:
    addresses = {a for a in incident_addresses() if a.strip()}
    failures = sorted(a for a in addresses if not normalize_address(a).valid)
    assert failures == []


def test_every_incident_address_with_a_number_is_an_address_or_intersection(real_data: Path) -> None:
    numbered = {a for a in incident_addresses() if a.strip()[:1].isdigit()}
    kinds = {a: normalize_address(a).kind for a in numbered}
    assert {a: k for a, k in kinds.items() if k not in ("address", "intersection")} == {}


def test_real_feed_intersections_have_one_key_whichever_street_comes_first(real_data: Path) -> None:
    intersections = {r["location"] for r in feed_rows() if "/" in r["location"]}
    assert len(intersections) > 20
    for text in intersections:
        a, b = (p.strip() for p in text.split("/", 1))
        swapped = f"{b} / {a}"
        assert location_key(None, text) == location_key(None, swapped), text
        assert normalize_location(None, text).kind in ("intersection", "street")


def test_case_and_spacing_do_not_change_the_key_of_real_feed_rows(real_data: Path) -> None:
    for row in feed_rows():
        block, location = row.get("block"), row["location"]
        variants = [location.upper(), location.lower(), "  " + location.replace(" ", "   ") + " "]
        keys = {location_key(block, v) for v in variants}
        assert keys == {location_key(block, location)}, location


def test_feed_rows_written_in_both_cases_share_a_key(real_data: Path) -> None:
    # The real feed writes "E ILLINOIS AVE" in one snapshot and "E Illinois Ave" in another.
    by_upper: dict[str, set[str]] = {}
    for row in feed_rows():
        by_upper.setdefault(row["location"].upper(), set()).add(row["location"])
    mixed = {k: v for k, v in by_upper.items() if len(v) > 1}
    assert mixed, "expected the real feed to spell some street in two cases"
    for spellings in mixed.values():
        assert len({location_key("100", s) for s in spellings}) == 1


def test_block_and_central_service_road_become_a_northbound_service_road_address() -> None:
    loc = normalize_location("6100", "N Central Serv Nb")
    assert loc.kind == "address"
    assert loc.number == 6100
    assert loc.street is not None
    assert loc.street.name == "N CENTRAL EXPY"
    assert loc.street.service_road
    assert loc.street.direction == "NB"
    assert loc.street.freeway


@pytest.mark.parametrize(
    ("text", "name", "service_road", "direction"),
    [
        ("L B J FWY EB", "L B J FWY", False, "EB"),
        ("Lbj Fwy", "L B J FWY", False, None),
        ("L B J Fwy Wb", "L B J FWY", False, "WB"),
        ("I35", "I-35E", False, None),
        ("Stemmons Serv Sb", "N STEMMONS FWY", True, "SB"),
        ("Spur 408", "SPUR 408", False, None),
        ("408  NB", "SPUR 408", False, "NB"),
        ("Marvin D Love Serv Nb", "MARVIN D LOVE FWY", True, "NB"),
        ("E R L THORNTON SERV EB", "E R L THORNTON FWY", True, "EB"),
        ("Dallas North Tollway Acrd Sb", "DALLAS NORTH TOLLWAY", True, "SB"),
        ("C F Hawn Fwy Eb", "C F HAWN FWY", False, "EB"),
        ("CF Hawn Frwy.", "C F HAWN FWY", False, None),
        ("N Central SB Expwy.", "N CENTRAL EXPY", False, "SB"),
        ("N CENTRAL SERV E", "N CENTRAL EXPY", True, "NB"),
    ],
)
def test_freeway_spellings_become_the_citys_canonical_freeway(
    text: str, name: str, service_road: bool, direction: str | None
) -> None:
    street = normalize_street(text)
    assert street is not None
    assert (street.name, street.service_road, street.direction) == (name, service_road, direction)
    assert street.freeway


def test_range_glitch_leading_dash_keeps_the_number() -> None:
    loc = normalize_location(None, "- 4466 MARVIN D LOVE SERV NB")
    assert (loc.kind, loc.number) == ("address", 4466)
    assert loc.street is not None and loc.street.name == "MARVIN D LOVE FWY"
    assert loc.notes


def test_an_address_range_uses_its_first_number() -> None:
    assert normalize_address("4400 - 4500 MAIN ST").number == 4400


@pytest.mark.parametrize(
    "spellings",
    [
        [
            "7808 CLODUS FIELDS DR",
            "7808 CLODUS FIELDS DRIVE",
            "7808 CLODUS FIELDS Dr.",
            "7808 Clodus Fields Dr.",
        ],
        ["3600 MARVIN D LOVE FWY", "3600 MARVIN D. LOVE FWY"],
        [
            "7272 MARVIN D LOVE FWY",
            "7272 MARVIN D LOVE FWY.",
            "7272 MARVIN D LOVE Frwy.",
            "7272 MARVIN D. LOVE Frwy.",
        ],
        ["10310 TECHNOLOGY BLVD E", "10310  TECHNOLOGY BLVD E", "10310 TECHNOLOGY BLVD. E"],
        ["13700 C F HAWN FWY", "13700 C F HAWN Frwy."],
        ["2201 N STEMMONS FWY", "2201 N stemmons Frwy."],
        ["5500 N CENTRAL EXPRESSWAY Expwy.", "4040 North Central Expressway Expwy.", "4400 N CENTRAL EXPY"],
        ["1010 1ST AVE", "1010 1st Ave.", "1010 First Ave."],
    ],
)
def test_real_free_text_spellings_of_one_street_normalize_alike(
    real_data: Path, spellings: list[str]
) -> None:
    real = set(incident_addresses())
    assert all(s in real for s in spellings), "each spelling is copied from the real incident files"
    located = [normalize_address(s) for s in spellings]
    assert len({loc.streets for loc in located}) == 1
    for number in {loc.number for loc in located}:
        assert len({loc.key for loc in located if loc.number == number}) == 1


def test_a_unit_number_is_not_part_of_the_street() -> None:
    loc = normalize_address("11350 L B J SERV S APT 3218")
    assert loc.number == 11350
    assert loc.street is not None and loc.street.name == "L B J FWY" and loc.street.service_road


def test_service_inside_a_street_name_is_not_a_service_road() -> None:
    street = normalize_street("Exchange Service Dr")
    assert street is not None
    assert (street.name, street.service_road) == ("EXCHANGE SERVICE DR", False)


def test_a_directional_word_that_is_the_name_stays_the_name() -> None:
    assert normalize_address("1227 NORTH ST").key.startswith("1227 NORTH ST |")
    street = normalize_street("S ST PAUL ST")
    assert street is not None and (street.predir, street.core, street.suffix) == ("S", "ST PAUL", "ST")


def test_a_post_directional_is_kept() -> None:
    street = normalize_street("TECHNOLOGY BLVD E")
    assert street is not None and (street.core, street.suffix, street.postdir) == ("TECHNOLOGY", "BLVD", "E")


def test_a_bare_suffix_is_no_street_and_the_other_cross_street_survives() -> None:
    loc = normalize_location("200", "Ave / Elsie Faye Heggins St")
    assert loc.kind == "street"
    assert loc.street is not None and loc.street.name == "ELSIE FAYE HEGGINS ST"
    assert any("AVE" in n for n in loc.notes)


def test_empty_location_is_kind_none_with_a_stable_key() -> None:
    assert normalize_location(None, "").kind == "none"
    assert location_key(None, "") == location_key(None, "  ")


def test_ampersand_and_slash_intersections_share_a_key() -> None:
    assert location_key(None, "Ferguson Rd & Altura Ave") == location_key(None, "Altura Ave / Ferguson Rd")


def test_city_and_state_tail_is_dropped() -> None:
    assert normalize_address("1800 main st, dallas, tx").key == normalize_address("1800 MAIN ST").key


def test_every_canonical_freeway_in_the_alias_table_normalizes_to_itself() -> None:
    for alias in freeway_aliases().values():
        street = normalize_street(alias.canonical)
        assert street is not None and street.name == alias.canonical, alias


def test_location_key_of_a_whole_feed_is_deterministic(real_data: Path) -> None:
    rows = feed_rows()
    first = [location_key(r.get("block"), r["location"]) for r in rows]
    normalize_location.cache_clear()
    normalize_street.cache_clear()
    assert [location_key(r.get("block"), r["location"]) for r in rows] == first


def test_every_spelling_of_martin_luther_king_jr_blvd_is_one_key() -> None:
    spellings = ["MLK Blvd", "M L King Jr Blvd", "Martin Luther King Blvd", "Martin Luther King Jr Blvd"]
    assert {location_key("2900", s) for s in spellings} == {"2900 MARTIN LUTHER KING JR BLVD | DALLAS TX"}


def test_saint_and_beltline_are_written_as_the_city_writes_them() -> None:
    assert location_key("500", "S Saint Paul St") == location_key("500", "S ST PAUL ST")
    assert location_key("5900", "Beltline Rd") == location_key("5900", "BELT LINE RD")
    st = normalize_street("Saint St")  # a street named Saint keeps its name
    assert st is not None and st.name == "SAINT ST"
