"""Writing the street index: edges, their names and address ranges in, ``streets.sqlite3`` out.

The builders (:mod:`dallas_calls.geodata.tiger` for TIGER/Line, :mod:`dallas_calls.geodata.city_build`
for the city's centerlines) read their sources and feed them through :class:`StreetIndexWriter`, which
canonicalizes every name, derives the intersection table (``node_streets``: which streets meet at
each node) and moves the finished file into place. Apart from the queries
(:mod:`dallas_calls.geocoding.street_index`) because building runs once, offline, from
``dallas-calls geodata build``, while the queries run on every call: the locator never needs this code.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from dallas_calls.geocoding.canonical_names import canonical_street, name_base, name_core
from dallas_calls.geocoding.polyline import line_length_m, pack_coords
from dallas_calls.geocoding.street_index_schema import INDEXES, SCHEMA, SCHEMA_VERSION


class StreetIndexWriter:
    """Builds the index into ``<path>.tmp`` and renames it into place on :meth:`finish`, so a reader
    never sees a half-built file and a failed build leaves the previous index intact."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.unlink(missing_ok=True)
        self.db = sqlite3.connect(self.tmp)
        self.db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
        # Duplicate rows (an edge on a county line is in both counties' files) are ignored.
        self.db.execute("CREATE UNIQUE INDEX ranges_unique ON ranges (tlid, name, side, from_hn, to_hn)")

    def add_segment(
        self,
        tlid: int,
        name: str,
        mtfcc: str,
        tnidf: int,
        tnidt: int,
        coords: Sequence[tuple[float, float]],
        ranges: tuple[int | None, int | None, int | None, int | None] = (None, None, None, None),
    ) -> bool:
        if len(coords) < 2:
            return False
        lons = [c[0] for c in coords]
        lats = [c[1] for c in coords]
        cur = self.db.execute(
            "INSERT OR IGNORE INTO segments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                tlid,
                canonical_street(name) if name else "",
                mtfcc,
                tnidf,
                tnidt,
                *ranges,
                pack_coords(coords),
                line_length_m(coords),
                min(lats),
                min(lons),
                max(lats),
                max(lons),
            ),
        )
        if cur.rowcount == 0:
            return False
        self.db.executemany(
            "INSERT OR IGNORE INTO nodes VALUES (?,?,?)",
            [(tnidf, coords[0][1], coords[0][0]), (tnidt, coords[-1][1], coords[-1][0])],
        )
        return True

    def add_names(self, rows: Iterable[tuple[int, str]]) -> None:
        """(tlid, name as TIGER writes it): every name an edge goes by."""
        self.db.executemany(
            "INSERT OR IGNORE INTO segment_names VALUES (?,?,?,?)",
            ((tlid, c, name_base(c), name_core(c)) for tlid, c in _canonical_rows(rows)),
        )

    def add_ranges(self, rows: Iterable[tuple[int, str, str, int, int, str | None, str | None]]) -> None:
        """(tlid, street name, side "L"/"R", from number, to number, ZIP, parity "E"/"O"/"B" or None)."""
        self.db.executemany(
            "INSERT OR IGNORE INTO ranges VALUES (?,?,?,?,?,?,?,?,?)",
            (
                (tlid, canonical_street(name), side, f, t, min(f, t), max(f, t), zip_code, parity)
                for tlid, name, side, f, t, zip_code, parity in rows
                if name
            ),
        )

    def finish(self, meta: dict[str, str]) -> dict[str, int]:
        """Drop what cannot be looked up, derive the intersection table, index, and move into place."""
        db = self.db
        db.execute("DELETE FROM segment_names WHERE tlid NOT IN (SELECT tlid FROM segments)")
        # An edge known only by its EDGES name still gets that name.
        db.execute(
            "INSERT OR IGNORE INTO segment_names SELECT tlid, name, '', '' FROM segments WHERE name != ''"
        )
        for tlid, name in db.execute("SELECT tlid, name FROM segment_names WHERE base = ''").fetchall():
            db.execute(
                "UPDATE segment_names SET base = ?, core = ? WHERE tlid = ? AND name = ?",
                (name_base(name), name_core(name), tlid, name),
            )
        db.execute("DELETE FROM segments WHERE tlid NOT IN (SELECT tlid FROM segment_names)")
        db.execute(
            "UPDATE segments SET name = (SELECT min(name) FROM segment_names n WHERE n.tlid = segments.tlid)"
            " WHERE name = ''"
        )
        db.execute("DELETE FROM ranges WHERE tlid NOT IN (SELECT tlid FROM segments)")
        db.execute(
            "DELETE FROM nodes WHERE node_id NOT IN (SELECT tnidf FROM segments UNION SELECT tnidt FROM segments)"
        )
        db.execute(
            "INSERT OR IGNORE INTO node_streets SELECT s.tnidf, n.name FROM segments s JOIN segment_names n"
            " USING (tlid) UNION SELECT s.tnidt, n.name FROM segments s JOIN segment_names n USING (tlid)"
        )
        db.execute("DROP INDEX ranges_unique")  # only needed while loading; ~15% of the file
        db.executescript(INDEXES)
        counts = {
            table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("segments", "segment_names", "ranges", "nodes", "node_streets")
        }
        rows = {**meta, "schema_version": SCHEMA_VERSION, **{f"count_{k}": str(v) for k, v in counts.items()}}
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(rows.items()))
        db.commit()
        db.execute("VACUUM")
        db.close()
        os.replace(self.tmp, self.path)
        return counts

    def abort(self) -> None:
        self.db.close()
        self.tmp.unlink(missing_ok=True)


def _canonical_rows(rows: Iterable[tuple[int, str]]) -> Iterable[tuple[int, str]]:
    for tlid, name in rows:
        c = canonical_street(name) if name else ""
        if c:
            yield tlid, c
