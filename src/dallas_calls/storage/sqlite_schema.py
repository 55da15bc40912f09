"""The SQLite store's schema, versioned: PRAGMA user_version holds the version, and each migration
brings a database one version forward, so a file written by any earlier release opens.

v3 stops writing every open call on every poll: a call seen in the latest snapshot takes its
``last_seen`` from the meta value ``seen_at`` (one write per poll), and ``missed_polls`` counts the
consecutive snapshots an open call has been missing from (its own ``last_seen`` is then the last
poll that held it). An existing database's open calls missing from its last poll count one miss.

v4 makes windows of history cheap. The call's narrow facts (``first_seen``, ``division``,
``priority``, ``nature_of_call``, ``beat``) become real columns beside ``closed_at``, filled here from
the stored JSON and written by the one upsert of ``SqliteStore.apply`` from the same Call as the
JSON (as ``location_key``, ``last_seen`` and ``closed_at`` already are), so they never disagree. One
index on ``first_seen`` that also covers the other facts serves both ``calls_between`` (a range scan
in order) and ``call_facts_between`` (/analytics reads the index alone, never the JSON). An
expression index on ``json_extract(data, '$.first_seen')`` would find the rows as fast, but reading
the facts would still parse every row's JSON: measured 1.5 s for 60,000 calls against 0.4 s from
the covering index on the same busy machine (SQLite 3.40 reads no indexed expression back from an
index). ``events(at)`` is indexed for pruning and reading the log by time.
"""

from __future__ import annotations

import sqlite3

# Each entry migrates the schema from version i to i+1; PRAGMA user_version holds the version.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE calls (
        incident_number TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        location_key TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        closed_at TEXT
    );
    CREATE INDEX calls_open ON calls (closed_at) WHERE closed_at IS NULL;
    CREATE INDEX calls_location_key ON calls (location_key);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        incident_number TEXT,
        location_key TEXT,
        data TEXT NOT NULL
    );
    CREATE INDEX events_incident ON events (incident_number);
    CREATE INDEX events_location ON events (location_key) WHERE location_key IS NOT NULL;
    CREATE TABLE polls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        rows INTEGER NOT NULL,
        quarantined INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        reason TEXT,
        source TEXT NOT NULL,
        snapshot_key TEXT,
        counts TEXT NOT NULL
    );
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        poll_id INTEGER NOT NULL REFERENCES polls (id),
        reason TEXT NOT NULL,
        raw TEXT NOT NULL
    );
    CREATE TABLE locations (
        location_key TEXT PRIMARY KEY,
        geo TEXT NOT NULL,
        precision TEXT NOT NULL,
        resolved_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE calls ADD COLUMN missed_polls INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX calls_missing ON calls (incident_number) WHERE missed_polls > 0;
    INSERT OR REPLACE INTO meta (key, value)
        SELECT 'seen_at', started_at FROM polls WHERE outcome != 'failed' ORDER BY id DESC LIMIT 1;
    UPDATE calls SET missed_polls = 1
        WHERE closed_at IS NULL AND last_seen < (SELECT value FROM meta WHERE key = 'seen_at');
    """,
    """
    ALTER TABLE calls ADD COLUMN first_seen TEXT NOT NULL DEFAULT '';
    ALTER TABLE calls ADD COLUMN division TEXT;
    ALTER TABLE calls ADD COLUMN priority INTEGER;
    ALTER TABLE calls ADD COLUMN nature_of_call TEXT;
    ALTER TABLE calls ADD COLUMN beat TEXT;
    UPDATE calls SET
        first_seen = coalesce(json_extract(data, '$.first_seen'), ''),
        division = json_extract(data, '$.division'),
        priority = json_extract(data, '$.priority'),
        nature_of_call = json_extract(data, '$.nature_of_call'),
        beat = json_extract(data, '$.beat');
    CREATE INDEX calls_first_seen ON calls (first_seen, closed_at, division, priority, nature_of_call, beat);
    CREATE INDEX events_at ON events (at);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer dallas-calls; refusing to guess at its layout."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before migrating."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(f"database schema v{found} is newer than this program's v{SCHEMA_VERSION}")
    for version in range(found, SCHEMA_VERSION):
        with conn:
            conn.executescript("BEGIN;" + MIGRATIONS[version] + f"PRAGMA user_version = {version + 1};")
    return found
