"""The street index's file format: the SQLite schema of ``streets.sqlite3`` and its version.

One file format serves TIGER (:mod:`dallas_calls.geodata.tiger`) and the city's centerlines
(:mod:`dallas_calls.geodata.city_build`), both written through
:class:`~dallas_calls.geocoding.street_index_writer.StreetIndexWriter` and read by
:class:`~dallas_calls.geocoding.street_index.StreetIndex`. Apart from both so the writer and the
reader agree on one definition: the reader refuses a file whose ``schema_version`` is not
:data:`SCHEMA_VERSION` (bump it whenever the tables below change).
"""

from __future__ import annotations

SCHEMA_VERSION = "2"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- One street edge (TIGER TLID). name: its primary name, canonical. geom: packed (lon, lat) vertices
-- from the TNIDF end to the TNIDT end. l_from..r_to: the most inclusive range per side (EDGES).
CREATE TABLE segments (
    tlid INTEGER PRIMARY KEY, name TEXT NOT NULL, mtfcc TEXT, tnidf INTEGER NOT NULL,
    tnidt INTEGER NOT NULL, l_from INTEGER, l_to INTEGER, r_from INTEGER, r_to INTEGER,
    geom BLOB NOT NULL, length_m REAL NOT NULL,
    min_lat REAL NOT NULL, min_lon REAL NOT NULL, max_lat REAL NOT NULL, max_lon REAL NOT NULL
);
-- Every name of an edge (primary and alternates), with the fallback keys.
CREATE TABLE segment_names (
    tlid INTEGER NOT NULL, name TEXT NOT NULL, base TEXT NOT NULL, core TEXT NOT NULL,
    PRIMARY KEY (tlid, name)
) WITHOUT ROWID;
-- Address ranges per edge, side and street name (ADDRFEAT; EDGES' ranges where ADDRFEAT has none).
-- parity: the Census code of the side (E even, O odd, B both), NULL when unknown (EDGES' ranges).
CREATE TABLE ranges (
    tlid INTEGER NOT NULL, name TEXT NOT NULL, side TEXT NOT NULL, from_hn INTEGER NOT NULL,
    to_hn INTEGER NOT NULL, lo_hn INTEGER NOT NULL, hi_hn INTEGER NOT NULL, zip TEXT, parity TEXT
);
CREATE TABLE nodes (node_id INTEGER PRIMARY KEY, lat REAL NOT NULL, lon REAL NOT NULL);
CREATE TABLE node_streets (node_id INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (name, node_id))
    WITHOUT ROWID;
"""
INDEXES = """
CREATE INDEX segment_names_name ON segment_names (name);
CREATE INDEX segment_names_base ON segment_names (base);
CREATE INDEX segment_names_core ON segment_names (core);
CREATE INDEX ranges_name ON ranges (name, lo_hn);
"""
