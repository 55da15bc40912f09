"""The local street index: block addresses, intersections and streets from US Census TIGER/Line.

Why: the prototype sent every location to a paid API and kept its first answer, which put
intersections like "Frankford Rd / Midway Rd" (far north Dallas) downtown. TIGER gives every street
edge of the five Dallas counties with its geometry, the ids of the nodes at both ends (topology: two
streets that meet share a node) and its address ranges per side, so the three kinds of feed location
can be answered offline and in microseconds:

- ``address(6100, "N CENTRAL EXPY")``: the middle of the 6100-6199 block, interpolated along the
  edge(s) whose ranges cover it (a full house number, e.g. 6123, is placed on its side of the street);
- ``intersection("FRANKFORD RD", "MIDWAY RD")``: the node(s) the two streets share. There can be
  several: a freeway meets a cross street at two service-road nodes, and one street name can exist
  in several towns of the five counties. All are returned; the caller keeps the one in the call's beat.
- ``street("MIDWAY RD")``: one point per connected piece of the street (or the point of each piece
  nearest ``near``, e.g. the beat's centroid).

The index is one SQLite file (``DATA_DIR/geodata/streets.sqlite3``; its schema is
:mod:`dallas_calls.geocoding.street_index_schema`) written by :mod:`dallas_calls.geodata.tiger`
(``dallas-calls geodata build``) through
:class:`~dallas_calls.geocoding.street_index_writer.StreetIndexWriter`. This module holds only the
read-only queries. Street names are matched in the canonical form of
:mod:`dallas_calls.geocoding.canonical_names`, falling back from the exact name to its base (no
leading directional) and, when no street type was given, to its core.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dallas_calls.geocoding.canonical_names import canonical_street, has_suffix, name_base, name_core
from dallas_calls.geocoding.polyline import Coords, offset_point, point_along, unpack_coords
from dallas_calls.geocoding.street_index_schema import SCHEMA_VERSION
from dallas_calls.geodata.distance import distance_m

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from dallas_calls.geocoding.candidate import Candidate

SOURCE = "tiger"
# Intersection nodes closer than this are one place (the corners of a divided road's crossing); a
# freeway's two service roads are farther apart than this, so they stay two candidates.
NODE_CLUSTER_M = 50.0
# A house number is placed this far off the centreline, on its side of the street.
SIDE_OFFSET_M = 8.0
# Candidates closer than this are duplicates (an edge listed under two names, or both sides).
DUPLICATE_M = 25.0


@dataclass(frozen=True, slots=True)
class StreetCandidate:
    """One point the street index proposes. ``match``: "address" | "intersection" | "street"."""

    lat: float
    lon: float
    match: str
    source: str = SOURCE
    score: float = 1.0
    detail: str = ""

    def as_candidate(self) -> Candidate:
        """The geocoding chain's own candidate type (``precision`` is our ``match``)."""
        from dallas_calls.geocoding.candidate import Candidate

        return Candidate(self.lat, self.lon, self.match, self.source, self.score, self.detail)


@dataclass(frozen=True, slots=True)
class _Names:
    names: tuple[str, ...]
    how: str  # "exact" | "base" | "core"
    score: float


@dataclass(frozen=True, slots=True)
class _Range:
    tlid: int
    name: str
    side: str
    from_hn: int
    to_hn: int
    parity: str | None = None  # the Census code: E, O or B; None when the source gave none

    @property
    def lo(self) -> int:
        return min(self.from_hn, self.to_hn)

    @property
    def hi(self) -> int:
        return max(self.from_hn, self.to_hn)

    def fraction(self, number: float) -> float:
        if self.to_hn == self.from_hn:
            return 0.5
        return (number - self.from_hn) / (self.to_hn - self.from_hn)

    def holds_parity(self, number: int) -> bool:
        """Whether this side holds numbers of ``number``'s parity: as the Census code says (E, O, B),
        or, without one, as the range's two ends suggest (both even: even only)."""
        if self.parity == "B":
            return True
        if self.parity in ("E", "O"):
            return (number % 2 == 0) == (self.parity == "E")
        return self.from_hn % 2 != self.to_hn % 2 or self.from_hn % 2 == number % 2


class StreetIndex:
    """Read-only queries on ``streets.sqlite3``. Open once and reuse; each query is a few indexed
    lookups (well under a millisecond on the full five-county index)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        # Which data the index was built from ("tiger", "city_centerlines"): every candidate says so.
        row = db.execute("SELECT value FROM meta WHERE key = 'candidate_source'").fetchone()
        self.source = str(row[0]) if row else SOURCE

    @classmethod
    def open(cls, path: Path) -> StreetIndex | None:
        """The index at ``path``, or None when it has not been built (the caller then does without)."""
        if not Path(path).is_file():
            return None
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            db.close()
            log.warning(
                "street index %s has another schema; rebuild it with `dallas-calls geodata build`", path
            )
            return None
        return cls(db, Path(path))

    def close(self) -> None:
        self.db.close()

    def meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    # -- name resolution --

    def resolve(self, street: str) -> _Names:
        """The stored names ``street`` means: the exact canonical name, else by its base (no leading
        directional), else (when it has no street type) by its core."""
        c = canonical_street(street)
        if not c:
            return _Names((), "none", 0.0)
        if self.db.execute("SELECT 1 FROM segment_names WHERE name = ? LIMIT 1", (c,)).fetchone():
            return _Names((c,), "exact", 1.0)
        base = name_base(c)
        names = self._distinct("SELECT DISTINCT name FROM segment_names WHERE base = ?", base)
        if names:
            return _Names(names, "base", 0.85)
        if not has_suffix(c):
            names = self._distinct("SELECT DISTINCT name FROM segment_names WHERE core = ?", name_core(c))
            if names:
                return _Names(names, "core", 0.7)
        return _Names((), "none", 0.0)

    def _distinct(self, sql: str, *params: Any) -> tuple[str, ...]:
        return tuple(sorted(str(r[0]) for r in self.db.execute(sql, params)))

    # -- queries --

    def address(self, number: int, street: str) -> list[StreetCandidate]:
        """``number`` on ``street``. A block number (a multiple of 100, as the feed gives) is placed at
        the middle of that block's address span on the street; any other number is interpolated at
        itself, on its side of the street (by the parity of each side's range)."""
        names = self.resolve(street)
        if not names.names or number < 0:
            return []
        block_lo = number // 100 * 100
        block_hi = block_lo + 99
        ranges = self._ranges(names.names, block_lo, block_hi)
        if not ranges:
            return []
        segments = self._segments({r.tlid for r in ranges})
        block = number % 100 == 0
        out: list[StreetCandidate] = []
        # One candidate per street name and connected piece: N and S HARWOOD ST both have a 100
        # block, and one name can exist in several towns.
        groups: list[list[_Range]] = []
        for name in sorted({r.name for r in ranges}):
            named = [r for r in ranges if r.name == name]
            pieces = _connected([segments[t] for t in sorted({r.tlid for r in named}) if t in segments])
            groups.extend([r for r in named if r.tlid in {s.tlid for s in piece}] for piece in pieces)
        for rs in groups:
            if block:
                covered_lo = min(max(r.lo, block_lo) for r in rs)
                covered_hi = max(min(r.hi, block_hi) for r in rs)
                target = (covered_lo + covered_hi) / 2
                holding = [r for r in rs if r.lo <= target <= r.hi]
            else:
                target = number
                holding = [r for r in rs if r.lo <= number <= r.hi and r.holds_parity(number)]
            exact = bool(holding)
            if not holding:  # a gap in the ranges: use the nearest range's nearer end
                nearest = min(rs, key=lambda r: min(abs(r.lo - target), abs(r.hi - target)))
                holding = [nearest]
            tlid = holding[0].tlid
            same = [r for r in holding if r.tlid == tlid]
            fraction = sum(r.fraction(target) for r in same) / len(same)
            seg = segments[tlid]
            lon, lat, dx, dy = point_along(seg.coords, fraction)
            sides = {r.side for r in same}
            if not block and len(sides) == 1:
                lon, lat = offset_point(lon, lat, dx, dy, SIDE_OFFSET_M, left=sides == {"L"})
            spans = ", ".join(f"{r.side} {r.from_hn}-{r.to_hn}" for r in same)
            what = f"middle of the {block_lo} block ({target:.0f})" if block else f"{number}"
            score = names.score * (1.0 if exact else 0.75)
            out.append(
                StreetCandidate(
                    round(lat, 6),
                    round(lon, 6),
                    "address",
                    source=self.source,
                    score=score,
                    detail=f"{what} on {seg.name} (TLID {tlid}, {spans}; name match {names.how})"
                    + ("" if exact else "; outside the known ranges, nearest used"),
                )
            )
        return _dedupe(out)

    def intersection(self, street_a: str, street_b: str) -> list[StreetCandidate]:
        """The node(s) where the two streets meet; nodes within ``NODE_CLUSTER_M`` are one place."""
        a = self.resolve(street_a)
        b = self.resolve(street_b)
        if not a.names or not b.names or set(a.names) & set(b.names):
            return []
        qa = ",".join("?" * len(a.names))
        qb = ",".join("?" * len(b.names))
        rows = self.db.execute(
            f"SELECT DISTINCT n.node_id, n.lat, n.lon FROM node_streets x JOIN node_streets y"
            f" ON x.node_id = y.node_id JOIN nodes n ON n.node_id = x.node_id"
            f" WHERE x.name IN ({qa}) AND y.name IN ({qb}) ORDER BY n.node_id",
            (*a.names, *b.names),
        ).fetchall()
        score = a.score * b.score
        out = []
        for cluster in _cluster_points([(int(r[0]), float(r[1]), float(r[2])) for r in rows], NODE_CLUSTER_M):
            lat = sum(p[1] for p in cluster) / len(cluster)
            lon = sum(p[2] for p in cluster) / len(cluster)
            ids = ", ".join(str(p[0]) for p in cluster)
            out.append(
                StreetCandidate(
                    round(lat, 6),
                    round(lon, 6),
                    "intersection",
                    source=self.source,
                    score=score,
                    detail=f"{' / '.join(a.names)} meets {' / '.join(b.names)} at node {ids}",
                )
            )
        return out

    def street(self, street: str, near: tuple[float, float] | None = None) -> list[StreetCandidate]:
        """One point per connected piece of the street: the segment midpoint nearest the piece's
        length-weighted centre, or, given ``near`` (lat, lon, e.g. the beat's centroid), the segment
        midpoint nearest that point. The caller keeps the piece nearest its beat."""
        names = self.resolve(street)
        if not names.names:
            return []
        q = ",".join("?" * len(names.names))
        tlids = {
            int(r[0])
            for r in self.db.execute(
                f"SELECT DISTINCT tlid FROM segment_names WHERE name IN ({q})", names.names
            )
        }
        segments = self._segments(tlids)
        out = []
        for piece in _connected(list(segments.values())):
            mids = [(s, point_along(s.coords, 0.5)) for s in piece]
            if near is None:
                total = sum(s.length_m for s in piece) or 1.0
                c_lat = sum(m[1] * s.length_m for s, m in mids) / total
                c_lon = sum(m[0] * s.length_m for s, m in mids) / total
            else:
                c_lat, c_lon = near
            seg, mid = min(mids, key=lambda sm: distance_m(c_lat, c_lon, sm[1][1], sm[1][0]))
            length = sum(s.length_m for s in piece)
            out.append(
                StreetCandidate(
                    round(mid[1], 6),
                    round(mid[0], 6),
                    "street",
                    source=self.source,
                    score=names.score * 0.5,
                    detail=f"{seg.name}: piece of {len(piece)} segment(s), {length:.0f} m"
                    + (", segment nearest the given point" if near else ", segment nearest its centre"),
                )
            )
        return out

    # -- internals --

    def _ranges(self, names: tuple[str, ...], lo: int, hi: int) -> list[_Range]:
        q = ",".join("?" * len(names))
        sql = (
            "SELECT r.tlid, r.name, r.side, r.from_hn, r.to_hn, r.parity FROM ranges r WHERE r.name IN ({q})"
            " AND r.lo_hn <= ? AND r.hi_hn >= ? ORDER BY r.tlid, r.side"
        )
        rows = self.db.execute(sql.format(q=q), (*names, hi, lo)).fetchall()
        if not rows:  # ranges recorded under another name of the same edges
            rows = self.db.execute(
                "SELECT r.tlid, r.name, r.side, r.from_hn, r.to_hn, r.parity FROM ranges r JOIN segment_names n"
                f" ON n.tlid = r.tlid WHERE n.name IN ({q}) AND r.lo_hn <= ? AND r.hi_hn >= ?"
                " ORDER BY r.tlid, r.side",
                (*names, hi, lo),
            ).fetchall()
        return [_Range(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), r[5]) for r in rows]

    def _segments(self, tlids: set[int]) -> dict[int, _Segment]:
        out: dict[int, _Segment] = {}
        ids = sorted(tlids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT tlid, name, tnidf, tnidt, geom, length_m FROM segments WHERE tlid IN ({q})", chunk
            ):
                seg = _Segment(
                    int(row[0]), str(row[1]), int(row[2]), int(row[3]), unpack_coords(row[4]), float(row[5])
                )
                out[seg.tlid] = seg
        return out


@dataclass(frozen=True, slots=True)
class _Segment:
    tlid: int
    name: str
    tnidf: int
    tnidt: int
    coords: Coords
    length_m: float


def _connected(segments: list[_Segment]) -> list[list[_Segment]]:
    """Groups of segments joined through shared nodes (union-find), in a stable order."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for s in segments:
        parent[find(s.tnidf)] = find(s.tnidt)
    groups: dict[int, list[_Segment]] = {}
    for s in sorted(segments, key=lambda s: s.tlid):
        groups.setdefault(find(s.tnidf), []).append(s)
    return list(groups.values())


def _cluster_points(
    points: list[tuple[int, float, float]], within_m: float
) -> list[list[tuple[int, float, float]]]:
    """Single-link clusters of (id, lat, lon) points closer than ``within_m``."""
    clusters: list[list[tuple[int, float, float]]] = []
    for p in points:
        joined = [c for c in clusters if any(distance_m(p[1], p[2], q[1], q[2]) <= within_m for q in c)]
        merged = [p]
        for c in joined:
            merged.extend(c)
            clusters.remove(c)
        clusters.append(merged)
    return [sorted(c) for c in clusters]


def _dedupe(candidates: list[StreetCandidate]) -> list[StreetCandidate]:
    out: list[StreetCandidate] = []
    for c in sorted(candidates, key=lambda c: -c.score):
        if all(distance_m(c.lat, c.lon, o.lat, o.lon) > DUPLICATE_M for o in out):
            out.append(c)
    return out
