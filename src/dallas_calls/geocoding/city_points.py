"""Per-block points from the city's own address points and geocoded incidents: the best block source.

Why blocks: the feed gives a call's block ("6100") and street, never the house. The city's address
points hold every address in Dallas, so the median of one block's addresses is where that block
is, to within half a block's length, however the street bends. Each side of the street (even and
odd numbers) gets its own point too, used when the feed gives a full house number. The police
incidents the city geocoded add blocks the address points miss and, above all, the city's own
spellings of intersections ("ELM ST / HARWOOD ST" at the median of the city's points for it).

One SQLite file, ``DATA_DIR/geodata/city_points.sqlite3``, written by :func:`build_city_points`
(``dallas-calls geodata build``) into ``.tmp`` and renamed into place; read by :class:`CityPoints`.
Street names are keyed by the location normalizer's canonical form, so the feed's spelling and the
city's meet, with the directional-less name as a fallback ("HARWOOD ST" finds N and S HARWOOD ST).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.canonical_names import name_base
from dallas_calls.geocoding.normalize import NormalizedLocation, normalize_address

CITY_POINTS_DB = "city_points.sqlite3"
ADDRESS_POINTS_SOURCE = "city_address_points"
INCIDENTS_SOURCE = "city_incidents"
SCHEMA_VERSION = "1"
# Fewer geocoded incidents than this at one intersection spelling: not trusted alone.
MIN_INCIDENTS = 2

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- side: 'E' even numbers, 'O' odd numbers, '' the whole block. source: which layer it came from.
CREATE TABLE blocks (
    street TEXT NOT NULL, base TEXT NOT NULL, block INTEGER NOT NULL, side TEXT NOT NULL,
    source TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (street, block, side, source)
) WITHOUT ROWID;
CREATE INDEX blocks_base ON blocks (base, block);
-- key: the normalizer's key of an intersection ("ELM ST / N HARWOOD ST | DALLAS, TX").
CREATE TABLE intersections (key TEXT PRIMARY KEY, lat REAL NOT NULL, lon REAL NOT NULL, n INTEGER NOT NULL)
    WITHOUT ROWID;
"""

# (house number or None, address text, lat, lon, source)
PointRow = tuple[int | None, str, float, float, str]


def build_city_points(rows: Iterable[PointRow], out: Path, meta: dict[str, str]) -> dict[str, int]:
    """Group ``rows`` by block (and side) and by intersection, keep each group's median point."""
    blocks: dict[tuple[str, int, str, str], list[tuple[float, float]]] = defaultdict(list)
    crossings: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for number, text, lat, lon, source in rows:
        loc = normalize_address(f"{number} {text}" if number is not None else text)
        if loc.kind == "address" and loc.number is not None and loc.streets:
            street, block = loc.streets[0].name, loc.number // 100 * 100
            blocks[(street, block, "", source)].append((lat, lon))
            blocks[(street, block, "E" if loc.number % 2 == 0 else "O", source)].append((lat, lon))
        elif loc.kind == "intersection":
            crossings[loc.key].append((lat, lon))
    tmp = out.with_name(out.name + ".tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO blocks VALUES (?,?,?,?,?,?,?,?)",
            (
                (street, name_base(street), block, side, source, *_median(points), len(points))
                for (street, block, side, source), points in blocks.items()
            ),
        )
        db.executemany(
            "INSERT INTO intersections VALUES (?,?,?,?)",
            ((key, *_median(p), len(p)) for key, p in crossings.items() if len(p) >= MIN_INCIDENTS),
        )
        counts = {
            "blocks": sum(1 for k in blocks if k[2] == ""),
            "intersections": int(db.execute("SELECT count(*) FROM intersections").fetchone()[0]),
        }
        rows_meta = {
            **meta,
            "schema_version": SCHEMA_VERSION,
            **{f"count_{k}": str(v) for k, v in counts.items()},
        }
        db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(rows_meta.items()))
        db.commit()
    finally:
        db.close()
    os.replace(tmp, out)
    return counts


def _median(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Per-axis median: one mis-geocoded address cannot drag a block away."""
    return round(statistics.median(p[0] for p in points), 6), round(
        statistics.median(p[1] for p in points), 6
    )


@dataclass(frozen=True, slots=True)
class _Block:
    street: str
    side: str
    source: str
    lat: float
    lon: float
    n: int


class CityPoints:
    """Read-only lookups on ``city_points.sqlite3``; a provider for the locator (``candidates``)."""

    name = "city_points"

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path) -> CityPoints | None:
        """The index at ``path``, or None when it has not been built (or is of another schema)."""
        if not path.is_file():
            return None
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError:
            row = None
        if row is None or row[0] != SCHEMA_VERSION:
            db.close()
            return None
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def candidates(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        if location.kind == "address" and location.number is not None and location.streets:
            return self.block(location.number, location.streets[0].name)
        if location.kind == "intersection":
            return self.intersection(location.key)
        return []

    def block(self, number: int, street: str) -> list[Candidate]:
        """The block's median point (its side's, for a full house number), address points before
        incidents; by the exact street name, else by the name without its directional (one
        candidate per street it could be: the chooser keeps the one in the call's beat)."""
        block = number // 100 * 100
        side = "" if number % 100 == 0 else ("E" if number % 2 == 0 else "O")
        for column, score in (("street", 1.0), ("base", 0.85)):
            key = street if column == "street" else name_base(street)
            found = [
                _Block(str(r[0]), str(r[1]), str(r[2]), float(r[3]), float(r[4]), int(r[5]))
                for r in self.db.execute(
                    f"SELECT street, side, source, lat, lon, n FROM blocks WHERE {column} = ? AND block = ?"
                    " AND side IN ('', ?)",
                    (key, block, side),
                )
            ]
            if found:
                return _best_per_street(found, block, side, score)
        return []

    def intersection(self, key: str) -> list[Candidate]:
        row = self.db.execute("SELECT lat, lon, n FROM intersections WHERE key = ?", (key,)).fetchone()
        if row is None:
            return []
        detail = f"median of {row[2]} city-geocoded incidents at {key.split(' | ')[0]}"
        return [Candidate(float(row[0]), float(row[1]), "intersection", INCIDENTS_SOURCE, 0.9, detail)]


def _best_per_street(found: list[_Block], block: int, side: str, score: float) -> list[Candidate]:
    """Per street: the address points' block (its side when asked and known), else the incidents'."""
    rank = {ADDRESS_POINTS_SOURCE: 0, INCIDENTS_SOURCE: 1}
    out = []
    for street in sorted({b.street for b in found}):
        options = sorted(
            (b for b in found if b.street == street),
            key=lambda b: (rank.get(b.source, 2), b.side != side),
        )
        best = options[0]
        what = f"the {'even' if best.side == 'E' else 'odd'} side of " if best.side else ""
        detail = f"median of {best.n} {best.source} points on {what}the {block} block of {street}"
        quality = score if best.source == ADDRESS_POINTS_SOURCE else score * 0.9
        out.append(Candidate(best.lat, best.lon, "address", best.source, quality, detail))
    return out
