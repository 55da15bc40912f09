"""SQLite adapter of the state-store port: the one-machine runtime's state, in one WAL file.

Open and closed calls, the append-only event log, the poll log, quarantined rows and the geocode
cache. Every write that must be atomic (a ChangeSet, its events and its poll record) is one
transaction, so a crash between polls leaves either all of a poll or none of it.

The adapter is layered, one module per concern (as the DynamoDB one is): :mod:`.sqlite_schema` (the
versioned schema and its migrations), :mod:`.sqlite_log` (the connection as opened at start-up, the
one write transaction, the event log and the meta values), :mod:`.sqlite_locations` (the geocode
cache and the locator's commit), :mod:`.sqlite_tracked` (the tracker's in-memory index of the open
calls), and this module (the calls, a poll's commit, the poll log and the StateStore port).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from dallas_calls.events.encode import canonical_json, changeset_events
from dallas_calls.model import (
    FACT_COLUMNS,
    Call,
    CallFacts,
    ChangeSet,
    Event,
    PollRecord,
    QuarantinedRow,
    call_facts,
)
from dallas_calls.storage.sqlite_locations import SqliteLocations
from dallas_calls.storage.sqlite_schema import SCHEMA_VERSION, SchemaTooNew, migrate
from dallas_calls.storage.sqlite_tracked import (
    LAST_SEEN,
    SEEN_AT_KEY,
    OpenCallIndex,
    StoredOpenCalls,
    data_version,
)
from dallas_calls.tracking.state import OpenCalls

__all__ = ["SCHEMA_VERSION", "SchemaTooNew", "SqliteStore", "migrate"]

_CALL_COLUMNS = f"data, location_key, {LAST_SEEN}"


_dumps = canonical_json


class SqliteStore(SqliteLocations):
    """The StateStore port on one SQLite file (WAL), safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self._index: OpenCallIndex | None = None

    # -- calls ---------------------------------------------------------------------------------

    def _calls_from_rows(self, rows: list[tuple[str, str, str]]) -> list[Call]:
        geos = self._geo_for(row[1] for row in rows)
        calls = []
        for data, key, last_seen in rows:
            fields = json.loads(data)
            fields["last_seen"] = last_seen
            call = Call.from_dict(fields)
            geo = geos.get(key)
            calls.append(call if geo is None or geo == call.geo else call.with_changes(geo=geo))
        return calls

    def open_calls(self) -> dict[str, Call]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_CALL_COLUMNS} FROM calls WHERE closed_at IS NULL").fetchall()
            return {c.incident_number: c for c in self._calls_from_rows(rows)}

    def get_call(self, incident_number: str) -> Call | None:
        return self.calls_by_number([incident_number]).get(incident_number)

    def calls_by_number(self, incidents: Collection[str]) -> dict[str, Call]:
        """The stored calls, open or closed, among ``incidents`` (unknown ones are left out)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_CALL_COLUMNS} FROM calls "
                "WHERE incident_number IN (SELECT value FROM json_each(?))",
                (json.dumps(list(incidents)),),
            ).fetchall()
            return {c.incident_number: c for c in self._calls_from_rows(rows)}

    def tracked_calls(self) -> OpenCalls:
        """What the tracker diffs a snapshot against. Kept in memory between polls and followed by
        every apply; rebuilt from the table when another connection has written to the file."""
        with self._lock:
            index = self._index
            if index is None or index.version != data_version(self._conn):
                index = self._index = OpenCallIndex.read(self._conn, self.open_calls())
            return StoredOpenCalls(index.fingerprints, index.misses, self.calls_by_number)

    def calls_between(self, start: str, end: str, limit: int = 1000) -> list[Call]:
        """Calls first seen in [start, end), open or closed, oldest first (for /history)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_CALL_COLUMNS} FROM calls WHERE first_seen >= ? AND first_seen < ? "
                "ORDER BY first_seen LIMIT ?",
                (start, end, limit),
            ).fetchall()
            return self._calls_from_rows(rows)

    def calls_open_at(self, at: str, limit: int = 1000) -> list[Call]:
        """Calls first seen before ``at`` and not closed before it (for a replay's starting
        state), oldest first. A call reopened since reads as it is now."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_CALL_COLUMNS} FROM calls "
                "WHERE first_seen < ? AND (closed_at IS NULL OR closed_at >= ?) ORDER BY first_seen LIMIT ?",
                (at, at, limit),
            ).fetchall()
            return self._calls_from_rows(rows)

    def count_calls_between(self, start: str, end: str) -> int:
        """How many calls were first seen in [start, end) (for "shown of how many")."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM calls WHERE first_seen >= ? AND first_seen < ?", (start, end)
            ).fetchone()
        return int(row[0])

    def call_facts_between(self, start: str, end: str) -> list[CallFacts]:
        """The narrow facts of the calls first seen in [start, end), for /analytics: read from the
        covering index ``calls_first_seen`` alone (no JSON decoded, no Call built)."""
        with self._lock:
            return self._conn.execute(
                f"SELECT {FACT_COLUMNS} FROM calls WHERE first_seen >= ? AND first_seen < ?",
                (start, end),
            ).fetchall()

    # -- applying changes ----------------------------------------------------------------------

    def _insert_poll(
        self, conn: sqlite3.Connection, poll: PollRecord, quarantined: Sequence[QuarantinedRow]
    ) -> int:
        cur = conn.execute(
            "INSERT INTO polls (started_at, outcome, rows, quarantined, duration_ms, reason, source, "
            "snapshot_key, counts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                poll.started_at,
                poll.outcome,
                poll.rows,
                poll.quarantined,
                poll.duration_ms,
                poll.reason,
                poll.source,
                poll.snapshot_key,
                _dumps(poll.counts),
            ),
        )
        poll_id = int(cur.lastrowid or 0)
        conn.executemany(
            "INSERT INTO quarantine (poll_id, reason, raw) VALUES (?, ?, ?)",
            [(poll_id, q.reason, _dumps(q.raw)) for q in quarantined],
        )
        return poll_id

    def apply(
        self,
        changes: ChangeSet,
        poll: PollRecord,
        misses: Mapping[str, int] | None = None,
        quarantined: Sequence[QuarantinedRow] = (),
    ) -> list[Event]:
        """Commit one poll that read a snapshot: its changed calls, its events, its poll record and
        ``seen_at``. Only changed calls are written: an unchanged open call's last_seen is
        ``seen_at``. ``misses`` holds the consecutive misses of the open calls absent from the
        snapshot (closed ones are ignored); every other open call is present."""
        events = changeset_events(changes, poll.started_at)
        upserts = [*changes.opened, *(u.call for u in changes.updated), *changes.closed]
        # One event per changed call, in the same order: each call's JSON is made once, for its row
        # and for its event (a poll that opens 25,000 calls otherwise encodes each one four times).
        call_texts = [_dumps(ev.data["call"]) for ev in events]
        closed = {c.incident_number for c in changes.closed}
        absent = {n: count for n, count in (misses or {}).items() if n not in closed}
        with self._transaction() as conn:
            conn.executemany(
                f"INSERT INTO calls (incident_number, data, location_key, last_seen, {FACT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (incident_number) DO UPDATE SET "
                "data = excluded.data, location_key = excluded.location_key, "
                "last_seen = excluded.last_seen, closed_at = excluded.closed_at, missed_polls = 0, "
                "first_seen = excluded.first_seen, division = excluded.division, "
                "priority = excluded.priority, nature_of_call = excluded.nature_of_call, beat = excluded.beat",
                [
                    (c.incident_number, text, c.location_key, c.last_seen, *call_facts(c))
                    for c, text in zip(upserts, call_texts, strict=True)
                ],
            )
            self._record_absences(conn, absent, poll.started_at)
            stored = self._append(conn, events, call_texts)
            self._insert_poll(conn, poll, quarantined)
        with self._lock:
            if self._index is not None:
                self._index.committed(changes, absent)
        return stored

    @staticmethod
    def _record_absences(conn: sqlite3.Connection, absent: Mapping[str, int], seen_at: str) -> None:
        """A call missing for the first time keeps the previous ``seen_at`` as its own last_seen;
        calls missing before and present again go back to following ``seen_at``."""
        conn.executemany(
            "UPDATE calls SET last_seen = CASE WHEN missed_polls = 0 THEN coalesce("
            "(SELECT value FROM meta WHERE key = ?), last_seen) ELSE last_seen END, missed_polls = ? "
            "WHERE incident_number = ? AND closed_at IS NULL",
            [(SEEN_AT_KEY, count, incident) for incident, count in absent.items()],
        )
        conn.execute(
            "UPDATE calls SET missed_polls = 0 WHERE missed_polls > 0 AND closed_at IS NULL "
            "AND incident_number NOT IN (SELECT value FROM json_each(?))",
            (json.dumps(list(absent)),),
        )
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (SEEN_AT_KEY, seen_at),
        )

    def record_poll(self, poll: PollRecord, quarantined: Sequence[QuarantinedRow] = ()) -> None:
        with self._transaction() as conn:
            self._insert_poll(conn, poll, quarantined)

    # -- polls ---------------------------------------------------------------------------------

    @staticmethod
    def _poll(row: tuple[Any, ...]) -> PollRecord:
        return PollRecord(
            started_at=row[0],
            outcome=row[1],
            rows=row[2],
            quarantined=row[3],
            duration_ms=row[4],
            reason=row[5],
            source=row[6],
            snapshot_key=row[7],
            counts=json.loads(row[8]),
        )

    _POLL_COLUMNS = (
        "started_at, outcome, rows, quarantined, duration_ms, reason, source, snapshot_key, counts"
    )

    def recent_polls(self, limit: int = 20) -> list[PollRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._POLL_COLUMNS} FROM polls ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._poll(r) for r in rows]

    def last_good_poll(self) -> PollRecord | None:
        """The newest poll whose snapshot was read (ok or held): the measure of feed freshness."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._POLL_COLUMNS} FROM polls WHERE outcome != 'failed' ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return self._poll(row) if row else None

    def last_snapshot_poll_held(self) -> bool:
        """Whether the newest poll that read a snapshot was held (failed polls do not count)."""
        poll = self.last_good_poll()
        return poll is not None and poll.outcome == "held"

    def quarantined_rows(self, limit: int = 100) -> list[QuarantinedRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT raw, reason FROM quarantine ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [QuarantinedRow(json.loads(raw), reason) for raw, reason in rows]
