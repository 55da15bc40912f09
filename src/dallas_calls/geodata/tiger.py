"""``dallas-calls geodata build``: read TIGER/Line EDGES, ADDRFEAT and FEATNAMES into the street index.

Why these three layers: EDGES has every street edge's geometry and the ids of its end nodes (two
streets meet where they share a node: that is how intersections are found without guessing);
ADDRFEAT has every address range with the street name it belongs to (alternate names included);
FEATNAMES has all the names an edge goes by ("I- 635" is also "Lyndon B Johnson Fwy"). EDGES' own
ranges are used only for edges ADDRFEAT does not cover.

Files are found by name in one folder (``DATA_DIR/geodata/`` by default): ``tl_<year>_<fips>_<layer>``
as the Census Bureau publishes them, zipped (``.zip``, as downloaded) or unpacked (``.shp``/``.dbf``,
as the test fixture is). When several vintages are present the newest is used. Reading uses pyshp
(pure Python; TIGER files are plain shapefiles in NAD83 longitude/latitude, within a metre or two of
WGS84 at Dallas, so no reprojection is needed).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import shapefile

from dallas_calls.geocoding.street_index_writer import StreetIndexWriter
from dallas_calls.geodata.sources import COUNTIES, TIGER_LAYERS, TigerLayer

STREETS_DB = "streets.sqlite3"
# MAF/TIGER feature class codes of the edges a call can happen on: roads from primary roads to
# frontage (service) roads, S1100-S1640, plus alleys (S1730) and private roads (S1740). Walkways
# (S1710), stairways (S1720), parking-lot roads (S1780), bike paths (S1820) and the rest are not.
CALL_STREET_RANGE = ("S1100", "S1640")
CALL_STREET_EXTRA = frozenset({"S1730", "S1740"})
# FEATNAMES parts in the order the Census Bureau composes FULLNAME: prefix qualifier, prefix
# direction, prefix type, base name, suffix type, suffix direction, suffix qualifier. The
# qualifiers tell streets apart ("Old Denton Rd" is not "Denton Rd", "US Hwy 80 Bus" not "US Hwy 80").
NAME_PARTS = ("PREQUALABR", "PREDIRABRV", "PRETYPABRV", "NAME", "SUFTYPABRV", "SUFDIRABRV", "SUFQUALABR")
PARITIES = frozenset({"E", "O", "B"})
_FILE = re.compile(r"^tl_(\d{4})_(\d{5})_(edges|addrfeat|featnames)\.(zip|shp|dbf)$", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*(\d{1,7})\s*$")


@dataclass
class TigerFiles:
    """The newest file of each layer per county, found in a folder."""

    layers: dict[str, dict[TigerLayer, Path]] = field(default_factory=dict)

    @property
    def counties(self) -> list[str]:
        return sorted(self.layers)

    def missing(self, counties: list[str] | None = None) -> list[str]:
        """``"48113 addrfeat"`` for each expected county/layer without a file."""
        wanted = counties if counties is not None else sorted(COUNTIES)
        return [
            f"{c} {layer}" for c in wanted for layer in TIGER_LAYERS if layer not in self.layers.get(c, {})
        ]


def find_tiger_files(folder: Path) -> TigerFiles:
    found: dict[tuple[str, str], tuple[int, Path]] = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            m = _FILE.match(path.name)
            if not m:
                continue
            year, fips, layer, ext = int(m[1]), m[2], m[3].lower(), m[4].lower()
            if ext == "shp" and layer == "featnames":
                continue
            if ext == "dbf" and layer != "featnames" and path.with_suffix(".shp").exists():
                continue  # the .shp names the shapefile
            best = found.get((fips, layer))
            if best is None or year > best[0] or (year == best[0] and ext == "zip"):
                found[(fips, layer)] = (year, path)
    files = TigerFiles()
    for (fips, layer), (_, path) in sorted(found.items()):
        files.layers.setdefault(fips, {})[cast(TigerLayer, layer)] = path
    return files


def open_layer(path: Path) -> shapefile.Reader:
    """A pyshp reader on a zipped or unpacked TIGER layer (FEATNAMES is a bare .dbf)."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            members = {Path(n).suffix.lower(): n for n in zf.namelist()}
            parts: dict[str, Any] = {}
            for ext in (".shp", ".shx", ".dbf"):
                if ext in members:
                    parts[ext[1:]] = io.BytesIO(zf.read(members[ext]))
        if "dbf" not in parts:
            raise ValueError(f"{path.name}: no .dbf inside")
        if "shp" not in parts:
            parts["shp"] = None
        return shapefile.Reader(encoding="utf-8", encodingErrors="replace", **parts)
    return shapefile.Reader(str(path), encoding="utf-8", encodingErrors="replace")


def _number(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    m = _NUMBER.match(str(value or ""))
    return int(m[1]) if m else None


def _text(value: Any) -> str:
    return str(value or "").strip()


def is_call_street(mtfcc: str) -> bool:
    """An edge of this feature class is a street a police call can be on (see CALL_STREET_RANGE)."""
    code = mtfcc.strip().upper()
    return CALL_STREET_RANGE[0] <= code <= CALL_STREET_RANGE[1] or code in CALL_STREET_EXTRA


@dataclass
class BuildReport:
    path: Path
    counties: list[str]
    missing: list[str]
    counts: dict[str, int]
    files: list[str]


Ranges = tuple[int | None, int | None, int | None, int | None]


def read_edges(
    reader: shapefile.Reader,
) -> Iterator[tuple[int, str, str, int, int, list[tuple[float, float]], Ranges]]:
    """Road edges: (tlid, fullname, mtfcc, tnidf, tnidt, [(lon, lat)...], (lfrom, lto, rfrom, rto))."""
    wanted = [
        "TLID",
        "FULLNAME",
        "MTFCC",
        "ROADFLG",
        "TNIDF",
        "TNIDT",
        "LFROMADD",
        "LTOADD",
        "RFROMADD",
        "RTOADD",
    ]
    have = {f.name for f in reader.fields}
    fields = [f for f in wanted if f in have]
    for sr in reader.iterShapeRecords(fields=fields):
        rec = sr.record.as_dict()
        mtfcc = _text(rec.get("MTFCC"))
        if not is_call_street(mtfcc):
            continue
        tlid, tnidf, tnidt = _number(rec.get("TLID")), _number(rec.get("TNIDF")), _number(rec.get("TNIDT"))
        if tlid is None or tnidf is None or tnidt is None:
            continue
        coords = [(float(x), float(y)) for x, y, *_ in sr.shape.points]
        lf, lt, rf, rt = (_number(rec.get(k)) for k in ("LFROMADD", "LTOADD", "RFROMADD", "RTOADD"))
        ranges: Ranges = (lf, lt, rf, rt)
        yield tlid, _text(rec.get("FULLNAME")), mtfcc, tnidf, tnidt, coords, ranges


def read_featnames(reader: shapefile.Reader) -> Iterator[tuple[int, str]]:
    """(tlid, name) for every name of every edge; the name is FULLNAME, or composed from its parts."""
    have = {f.name for f in reader.fields}
    parts = [p for p in NAME_PARTS if p in have]
    fields = ["TLID", *(["FULLNAME"] if "FULLNAME" in have else []), *parts]
    for rec in reader.iterRecords(fields=fields):
        d = rec.as_dict()
        tlid = _number(d.get("TLID"))
        if tlid is None:
            continue
        full = _text(d.get("FULLNAME"))
        composed = " ".join(_text(d.get(p)) for p in parts if _text(d.get(p)))
        for name in {full, composed} - {""}:
            yield tlid, name


RangeRow = tuple[int, str, str, int, int, str | None, str | None]


def read_addrfeat(reader: shapefile.Reader) -> Iterator[RangeRow]:
    """(tlid, street name, side, from number, to number, zip, parity) for each side of each range.
    Parity is the Census Bureau's own PARITYL/PARITYR code (E even, O odd, B both), None when the
    file has none (then the index judges it from the range's two ends)."""
    wanted = {
        "TLID",
        "FULLNAME",
        "LFROMHN",
        "LTOHN",
        "RFROMHN",
        "RTOHN",
        "ZIPL",
        "ZIPR",
        "PARITYL",
        "PARITYR",
    }
    fields = [f.name for f in reader.fields if f.name in wanted]
    for rec in reader.iterRecords(fields=fields):
        d = rec.as_dict()
        tlid = _number(d.get("TLID"))
        name = _text(d.get("FULLNAME"))
        if tlid is None or not name:
            continue
        for side in ("L", "R"):
            f, t = _number(d.get(f"{side}FROMHN")), _number(d.get(f"{side}TOHN"))
            if f is not None and t is not None:
                parity = _text(d.get(f"PARITY{side}")).upper()
                zip_code = _text(d.get(f"ZIP{side}")) or None
                yield tlid, name, side, f, t, zip_code, parity if parity in PARITIES else None


def build_street_index(
    folder: Path, out: Path | None = None, log: Callable[[str], None] = print
) -> BuildReport:
    """Read every county's TIGER files in ``folder`` into ``out`` (default ``folder/streets.sqlite3``).

    Missing layers are reported, not fatal: without ADDRFEAT a county falls back to EDGES' ranges,
    without FEATNAMES to EDGES' names. Without any EDGES file there is nothing to build.
    """
    out = out or folder / STREETS_DB
    files = find_tiger_files(folder)
    with_edges = [c for c in files.counties if "edges" in files.layers[c]]
    if not with_edges:
        raise FileNotFoundError(f"no TIGER EDGES files (tl_<year>_<fips>_edges.zip) in {folder}")
    writer = StreetIndexWriter(out)
    used: list[str] = []
    try:
        edge_ranges: dict[int, tuple[str, Ranges]] = {}
        for fips in with_edges:
            layers = files.layers[fips]
            path = layers["edges"]
            n = 0
            with open_layer(path) as reader:
                for tlid, name, mtfcc, tnidf, tnidt, coords, ranges in read_edges(reader):
                    if writer.add_segment(tlid, name, mtfcc, tnidf, tnidt, coords, ranges):
                        n += 1
                        if any(r is not None for r in ranges):
                            edge_ranges[tlid] = (name, ranges)
            log(f"{path.name}: {n} road edges")
            used.append(path.name)
            if "featnames" in layers:
                path = layers["featnames"]
                with open_layer(path) as reader:
                    writer.add_names(read_featnames(reader))
                log(f"{path.name}: names read")
                used.append(path.name)
            covered: set[int] = set()
            if "addrfeat" in layers:
                path = layers["addrfeat"]
                with open_layer(path) as reader:
                    rows = list(read_addrfeat(reader))
                covered = {r[0] for r in rows}
                writer.add_ranges(rows)
                log(f"{path.name}: {len(rows)} address ranges")
                used.append(path.name)
            writer.add_ranges(_edge_range_rows(edge_ranges, covered))
            edge_ranges.clear()
        meta = {
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": "US Census TIGER/Line",
            "files": " ".join(used),
            "counties": " ".join(with_edges),
        }
        counts = writer.finish(meta)
    except BaseException:
        writer.abort()
        raise
    return BuildReport(out, with_edges, files.missing(), counts, used)


def _edge_range_rows(edge_ranges: dict[int, tuple[str, Ranges]], covered: set[int]) -> Iterator[RangeRow]:
    """EDGES' own ranges for the edges ADDRFEAT does not cover (no parity code: judged from the ends)."""
    for tlid, (name, (lf, lt, rf, rt)) in edge_ranges.items():
        if tlid in covered or not name:
            continue
        if lf is not None and lt is not None:
            yield tlid, name, "L", lf, lt, None, None
        if rf is not None and rt is not None:
            yield tlid, name, "R", rf, rt, None, None
