"""The TIGER reader on a real Census file (tests/fixtures/tiger_real_layout: Meagher County, Montana,
tl_2024_30059_addrfeat, 666 records; see tests/fixtures/README.md), and the layer rules that the
constructed Dallas fixture cannot show: parity codes, name qualifiers, feature classes."""

from __future__ import annotations

from pathlib import Path

import shapefile

from dallas_calls.geocoding.street_index import StreetIndex
from dallas_calls.geocoding.street_index_writer import StreetIndexWriter
from dallas_calls.geodata.tiger import is_call_street, open_layer, read_addrfeat, read_featnames

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "tiger_real_layout" / "tl_2024_30059_addrfeat.shp"


def test_the_real_addrfeat_layout_is_read_with_the_census_parity_of_each_side() -> None:
    with open_layer(REAL) as reader:
        records = [r.as_dict() for r in reader.iterRecords()]
        rows = list(read_addrfeat(reader))
    assert len(records) == 666
    # One row per address range: an edge (TLID) can carry several ranges, each with its own parity.
    expected = sorted(
        (
            r["TLID"],
            r["FULLNAME"],
            s,
            int(r[f"{s}FROMHN"]),
            int(r[f"{s}TOHN"]),
            r[f"ZIP{s}"] or None,
            r[f"PARITY{s}"],
        )
        for r in records
        for s in "LR"
        if r[f"{s}FROMHN"] and r[f"{s}TOHN"]
    )
    assert sorted(rows) == expected
    assert len({r["TLID"] for r in records}) < len(records)
    assert {row[6] for row in rows} == {"E", "O"}
    first = [row for row in rows if row[0] == 166709406]
    assert sorted(first) == [
        (166709406, "1st St", "L", 199, 101, "59053", "O"),
        (166709406, "1st St", "R", 198, 100, "59053", "E"),
    ]


def _one_street_index(
    tmp_path: Path, ranges: list[tuple[int, str, str, int, int, str | None, str | None]]
) -> StreetIndex:
    writer = StreetIndexWriter(tmp_path / "streets.sqlite3")
    writer.add_segment(1, "Elm St", "S1400", 10, 11, [(-96.80, 32.78), (-96.79, 32.78)])
    writer.add_ranges(ranges)
    writer.finish({"source": "test"})
    index = StreetIndex.open(tmp_path / "streets.sqlite3")
    assert index is not None
    return index


def test_a_side_coded_both_holds_odd_numbers_though_its_ends_are_even(tmp_path: Path) -> None:
    # Census parity B on a side numbered 100-198: 151 is on it. Guessed from the ends, it would not be.
    coded = _one_street_index(tmp_path / "a", [(1, "Elm St", "L", 100, 198, None, "B")])
    (found,) = coded.address(151, "ELM ST")
    assert "nearest used" not in found.detail
    guessed = _one_street_index(tmp_path / "b", [(1, "Elm St", "L", 100, 198, None, None)])
    (found,) = guessed.address(151, "ELM ST")
    assert "nearest used" in found.detail


def test_feature_names_keep_their_qualifiers(tmp_path: Path) -> None:
    path = tmp_path / "tl_2025_48113_featnames.dbf"
    with shapefile.Writer(dbf=str(path)) as w:
        for name in (
            "TLID",
            "FULLNAME",
            "PREQUALABR",
            "PREDIRABRV",
            "PRETYPABRV",
            "NAME",
            "SUFTYPABRV",
            "SUFDIRABRV",
            "SUFQUALABR",
        ):
            w.field(name, "N" if name == "TLID" else "C", 10 if name == "TLID" else 40)
        w.record(1, "", "Old", "", "", "Denton", "Rd", "", "")
        w.record(2, "", "", "", "US Hwy", "80", "", "", "Bus")
    with open_layer(path) as reader:
        names = dict(read_featnames(reader))
    assert names == {1: "Old Denton Rd", 2: "US Hwy 80 Bus"}


def test_only_streets_a_call_can_be_on_are_kept() -> None:
    for code in ("S1100", "S1200", "S1400", "S1630", "S1640", "S1730", "S1740"):
        assert is_call_street(code), code
    for code in ("S1710", "S1720", "S1750", "S1780", "S1820", "S1830", "H3010", ""):
        assert not is_call_street(code), code
