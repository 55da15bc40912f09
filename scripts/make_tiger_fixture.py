"""Write the small TIGER/Line-format fixture in ``tests/fixtures/tiger/``.

    .venv/bin/python scripts/make_tiger_fixture.py [--out tests/fixtures/tiger]

The street network here is CONSTRUCTED, not downloaded: a few real Dallas streets around three real
places, with approximate coordinates (a few tens of metres off at worst) and plausible, invented
address ranges. It exists so the street index can be tested offline on real TIGER file formats
(shapefile + dbf with TIGER's field names and types), read by the same code as the real downloads.

- Far north Dallas: Midway Rd crossing Frankford Rd (about 32.9985, -96.8366). The part north of
  Frankford is only in the Denton County files, the part west of Midway in both Dallas and Denton
  (an edge on a county line is in both counties' files), and the Denton part has no ADDRFEAT rows
  (its ranges come from EDGES).
- Downtown: Elm St crossing N Harwood St (about 32.7836, -96.7937), Main St one block south where
  N Harwood becomes S Harwood.
- LBJ Freeway (I-635) at Midway Rd (about 32.9262, -96.8387): the main lanes cross Midway without a
  node (a bridge), the two service roads (TIGER names them like the freeway) meet Midway at two
  nodes about 180 m apart. The main lanes are "I- 635" with the alternate name "Lyndon B Johnson Fwy".
- One non-road edge (a creek), which the index must ignore.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import shapefile

YEAR = 2025
DALLAS, DENTON = "48113", "48121"
# NAD83 geographic, as TIGER/Line ships it.
PRJ = (
    'GEOGCS["GCS_North_American_1983",DATUM["D_North_American_1983",'
    'SPHEROID["GRS_1980",6378137,298.257222101]],PRIMEM["Greenwich",0],'
    'UNIT["Degree",0.017453292519943295]]'
)

Point = tuple[float, float]  # (lon, lat)


@dataclass(frozen=True)
class Edge:
    tlid: int
    name: str
    mtfcc: str
    tnidf: int
    tnidt: int
    points: tuple[Point, ...]
    left: tuple[int, int] | None = None  # (from, to) house numbers on the left side
    right: tuple[int, int] | None = None
    zip_code: str = ""
    counties: tuple[str, ...] = (DALLAS,)
    addrfeat: bool = True  # False: ranges only in EDGES
    alternates: tuple[str, ...] = ()


# -- nodes (id: lon, lat) --
N: dict[int, Point] = {
    # Midway Rd / Frankford Rd
    90001: (-96.83660, 32.99550),
    90002: (-96.83660, 32.99700),
    90003: (-96.83660, 32.99850),  # Frankford Rd / Midway Rd
    90004: (-96.83661, 33.00000),
    90005: (-96.83662, 33.00150),
    90011: (-96.83300, 32.99850),
    90012: (-96.83480, 32.99851),
    90013: (-96.83840, 32.99849),
    90014: (-96.84020, 32.99848),
    # Downtown
    90101: (-96.79650, 32.78300),
    90102: (-96.79510, 32.78330),
    90103: (-96.79370, 32.78360),  # Elm St / N Harwood St
    90104: (-96.79230, 32.78390),
    90105: (-96.79090, 32.78420),
    90111: (-96.79335, 32.78245),  # Main St / Harwood St
    90112: (-96.79405, 32.78475),
    90113: (-96.79440, 32.78590),
    90114: (-96.79300, 32.78130),
    90121: (-96.79475, 32.78215),
    90122: (-96.79195, 32.78275),
    # LBJ Fwy / Midway Rd
    90201: (-96.83870, 32.92300),
    90202: (-96.83870, 32.92540),  # EB service road / Midway Rd
    90203: (-96.83870, 32.92700),  # WB service road / Midway Rd
    90204: (-96.83870, 32.92900),
    90211: (-96.84600, 32.92625),
    90212: (-96.84200, 32.92622),
    90213: (-96.83500, 32.92618),
    90214: (-96.83100, 32.92615),
    90221: (-96.84200, 32.92541),
    90222: (-96.83500, 32.92539),
    90231: (-96.83500, 32.92701),
    90232: (-96.84200, 32.92699),
    90301: (-96.84100, 32.93300),
    90302: (-96.83300, 32.93100),
}


def edge(tlid: int, name: str, mtfcc: str, a: int, b: int, **kw: object) -> Edge:
    return Edge(tlid, name, mtfcc, a, b, (N[a], N[b]), **kw)  # type: ignore[arg-type]


LOCAL, ARTERIAL, FREEWAY, SERVICE = "S1400", "S1200", "S1100", "S1640"

# fmt: off
EDGES: tuple[Edge, ...] = (
    # Midway Rd, south to north (left = west, odd numbers)
    edge(100101, "Midway Rd", ARTERIAL, 90001, 90002, left=(18001, 18099), right=(18000, 18098), zip_code="75287"),
    edge(100102, "Midway Rd", ARTERIAL, 90002, 90003, left=(18101, 18199), right=(18100, 18198), zip_code="75287"),
    edge(
        100103, "Midway Rd", ARTERIAL, 90003, 90004, left=(18201, 18299), right=(18200, 18298),
        zip_code="75287", counties=(DENTON,), addrfeat=False,
    ),
    edge(
        100104, "Midway Rd", ARTERIAL, 90004, 90005, left=(18301, 18399), right=(18300, 18398),
        zip_code="75287", counties=(DENTON,), addrfeat=False,
    ),
    # Frankford Rd, numbers rising westward
    edge(100111, "Frankford Rd", ARTERIAL, 90011, 90012, left=(3801, 3899), right=(3800, 3898), zip_code="75287"),
    edge(100112, "Frankford Rd", ARTERIAL, 90012, 90003, left=(3901, 3999), right=(3900, 3998), zip_code="75287"),
    edge(
        100113, "Frankford Rd", ARTERIAL, 90003, 90013, left=(4001, 4099), right=(4000, 4098),
        zip_code="75287", counties=(DALLAS, DENTON),
    ),
    # digitized west to east: the ranges run downwards
    edge(
        100114, "Frankford Rd", ARTERIAL, 90014, 90013, left=(4198, 4100), right=(4199, 4101),
        zip_code="75287", counties=(DALLAS, DENTON),
    ),
    # Elm St, west to east (left = north, odd)
    edge(100201, "Elm St", LOCAL, 90101, 90102, left=(1701, 1799), right=(1700, 1798), zip_code="75201"),
    edge(100202, "Elm St", LOCAL, 90102, 90103, left=(1801, 1899), right=(1800, 1898), zip_code="75201"),
    edge(100203, "Elm St", LOCAL, 90103, 90104, left=(1901, 1999), right=(1900, 1998), zip_code="75201"),
    edge(100204, "Elm St", LOCAL, 90104, 90105, left=(2001, 2099), right=(2000, 2098), zip_code="75201"),
    # Harwood St, north of Main N Harwood, south of it S Harwood
    edge(100211, "N Harwood St", LOCAL, 90111, 90103, left=(1, 99), right=(2, 98), zip_code="75201"),
    edge(100212, "N Harwood St", LOCAL, 90103, 90112, left=(101, 199), right=(100, 198), zip_code="75201"),
    edge(100213, "N Harwood St", LOCAL, 90112, 90113, left=(201, 299), right=(200, 298), zip_code="75201"),
    edge(100221, "S Harwood St", LOCAL, 90111, 90114, left=(101, 199), right=(100, 198), zip_code="75201"),
    edge(100231, "Main St", LOCAL, 90121, 90111, left=(1801, 1899), right=(1800, 1898), zip_code="75201"),
    edge(100232, "Main St", LOCAL, 90111, 90122, left=(1901, 1999), right=(1900, 1998), zip_code="75201"),
    # Midway Rd at LBJ: one edge passes under the freeway (no node at the main lanes)
    edge(100301, "Midway Rd", ARTERIAL, 90201, 90202, left=(13101, 13299), right=(13100, 13298), zip_code="75244"),
    edge(100302, "Midway Rd", ARTERIAL, 90202, 90203, left=(13301, 13399), right=(13300, 13398), zip_code="75244"),
    edge(100303, "Midway Rd", ARTERIAL, 90203, 90204, left=(13401, 13599), right=(13400, 13598), zip_code="75244"),
    # LBJ main lanes: no addresses; alternate name
    edge(100311, "I- 635", FREEWAY, 90211, 90212, alternates=("Lyndon B Johnson Fwy",)),
    edge(100312, "I- 635", FREEWAY, 90212, 90213, alternates=("Lyndon B Johnson Fwy",)),
    edge(100313, "I- 635", FREEWAY, 90213, 90214, alternates=("Lyndon B Johnson Fwy",)),
    # Eastbound service road (south side), west to east: addresses on the right (south), falling
    edge(100321, "Lyndon B Johnson Fwy", SERVICE, 90221, 90202, right=(4098, 4000), zip_code="75244"),
    edge(100322, "Lyndon B Johnson Fwy", SERVICE, 90202, 90222, right=(3998, 3900), zip_code="75244"),
    # Westbound service road (north side), east to west: addresses on the right (north), rising
    edge(100331, "Lyndon B Johnson Fwy", SERVICE, 90231, 90203, right=(3901, 3999), zip_code="75240"),
    edge(100332, "Lyndon B Johnson Fwy", SERVICE, 90203, 90232, right=(4001, 4099), zip_code="75240"),
    # not a road
    edge(100401, "White Rock Creek", "H3010", 90301, 90302),
)
# fmt: on


def _writer(path: Path, shape_type: int | None) -> shapefile.Writer:
    if shape_type is None:
        return shapefile.Writer(dbf=path.with_suffix(".dbf").open("wb"), encoding="utf-8")
    return shapefile.Writer(str(path), shapeType=shape_type, encoding="utf-8")


def _sidecars(path: Path) -> None:
    path.with_suffix(".cpg").write_text("UTF-8")
    if path.with_suffix(".shp").exists():
        path.with_suffix(".prj").write_text(PRJ)


def _range_text(r: tuple[int, int] | None, i: int) -> str:
    return "" if r is None else str(r[i])


def write_county(out: Path, fips: str) -> None:
    edges = [e for e in EDGES if fips in e.counties]
    road = [e for e in edges if e.mtfcc.startswith("S")]

    stem = out / f"tl_{YEAR}_{fips}_edges"
    w = _writer(stem, shapefile.POLYLINE)
    for name, kind, size in (("STATEFP", "C", 2), ("COUNTYFP", "C", 3)):
        w.field(name, kind, size)
    w.field("TLID", "N", 10, 0)
    w.field("MTFCC", "C", 5)
    w.field("FULLNAME", "C", 100)
    for name in ("LFROMADD", "LTOADD", "RFROMADD", "RTOADD"):
        w.field(name, "C", 12)
    w.field("ZIPL", "C", 5)
    w.field("ZIPR", "C", 5)
    for name in ("HYDROFLG", "RAILFLG", "ROADFLG"):
        w.field(name, "C", 1)
    w.field("TNIDF", "N", 10, 0)
    w.field("TNIDT", "N", 10, 0)
    for e in edges:
        w.line([[list(p) for p in e.points]])
        is_road = e.mtfcc.startswith("S")
        w.record(
            fips[:2], fips[2:], e.tlid, e.mtfcc, e.name,
            _range_text(e.left, 0), _range_text(e.left, 1), _range_text(e.right, 0), _range_text(e.right, 1),
            e.zip_code if e.left else "", e.zip_code if e.right else "",
            "N" if is_road else "Y", "N", "Y" if is_road else "N", e.tnidf, e.tnidt,
        )  # fmt: skip
    w.close()
    _sidecars(stem)

    stem = out / f"tl_{YEAR}_{fips}_addrfeat"
    w = _writer(stem, shapefile.POLYLINE)
    w.field("TLID", "N", 10, 0)
    w.field("FULLNAME", "C", 100)
    for name in ("LFROMHN", "LTOHN", "RFROMHN", "RTOHN"):
        w.field(name, "C", 12)
    w.field("ZIPL", "C", 5)
    w.field("ZIPR", "C", 5)
    w.field("EDGE_MTFCC", "C", 5)
    w.field("PARITYL", "C", 1)
    w.field("PARITYR", "C", 1)
    for e in road:
        if not e.addrfeat or (e.left is None and e.right is None):
            continue
        w.line([[list(p) for p in e.points]])
        w.record(
            e.tlid, e.name,
            _range_text(e.left, 0), _range_text(e.left, 1), _range_text(e.right, 0), _range_text(e.right, 1),
            e.zip_code if e.left else "", e.zip_code if e.right else "", e.mtfcc,
            "" if e.left is None else ("O" if e.left[0] % 2 else "E"),
            "" if e.right is None else ("O" if e.right[0] % 2 else "E"),
        )  # fmt: skip
    w.close()
    _sidecars(stem)

    stem = out / f"tl_{YEAR}_{fips}_featnames"
    w = _writer(stem, None)
    w.field("TLID", "N", 10, 0)
    w.field("FULLNAME", "C", 100)
    for name in ("NAME", "PREDIRABRV", "PRETYPABRV", "SUFTYPABRV", "SUFDIRABRV"):
        w.field(name, "C", 100 if name == "NAME" else 15)
    w.field("PAFLAG", "C", 1)
    w.field("MTFCC", "C", 5)
    for e in edges:
        for flag, full in (("P", e.name), *(("A", alt) for alt in e.alternates)):
            predir, name, suftype = _split(full)
            w.record(e.tlid, full, name, predir, "I-" if name == "635" else "", suftype, "", flag, e.mtfcc)
    w.close()
    _sidecars(stem)


def _split(full: str) -> tuple[str, str, str]:
    """("N", "Harwood", "St") from "N Harwood St"; "I- 635" -> ("", "635", "")."""
    if full.startswith("I- "):
        return "", full[3:], ""
    words = full.split()
    predir = words.pop(0) if words[0] in ("N", "S", "E", "W") and len(words) > 2 else ""
    suftype = (
        words.pop() if words[-1] in ("St", "Rd", "Fwy", "Ave", "Blvd", "Creek") and len(words) > 1 else ""
    )
    return predir, " ".join(words), suftype


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tiger"
    parser.add_argument("--out", type=Path, default=default)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for fips in (DALLAS, DENTON):
        write_county(args.out, fips)
    total = sum(p.stat().st_size for p in args.out.iterdir() if p.suffix != ".md")
    print(f"wrote {args.out} ({total} bytes)")


if __name__ == "__main__":
    main()
