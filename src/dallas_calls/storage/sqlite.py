"""SQLite adapter of the state-store port: the one-machine runtime's state, in one WAL file.

Open and closed calls, the append-only event log, the poll log, quarantined rows and the geocode
cache. Every write that must be atomic (a ChangeSet, its events and its poll record) is one
transaction, so a crash between polls leaves either all of a poll or none of it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dallas_calls.events.encode import canonical_json, changeset_events, data_json, event_wire
from dallas_calls.model import (
    FACT_COLUMNS,
    Call,
    CallFacts,
    ChangeSet,
    Event,
    Geo,
    NewEvent,
    PollRecord,
    QuarantinedRow,
    call_facts,
)
from dallas_calls.storage.port import Resolved
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


class SqliteStore:
    """The StateStore port on one SQLite file (WAL), safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.RLock()
        self._index: OpenCallIndex | None = None
        migrate(self._conn)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- calls ---------------------------------------------------------------------------------

    def _geo_for(self, keys: Iterable[str]) -> dict[str, Geo]:
        wanted = sorted(set(keys))
        found: dict[str, Geo] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT location_key, geo FROM locations WHERE location_key IN ({marks})", chunk
            )
            for key, geo in rows:
                parsed = Geo.from_dict(json.loads(geo))
                if parsed.lat is not None:
                    found[key] = parsed
        return found

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

    def _append(
        self,
        conn: sqlite3.Connection,
        events: Sequence[NewEvent],
        call_texts: Sequence[str | None] | None = None,
    ) -> list[Event]:
        """Insert events with the next ids, in one statement. Inside the write transaction no one
        else can insert, so the ids are the AUTOINCREMENT sequence's next ones, given explicitly
        (SQLite advances the sequence past them). ``call_texts`` are the JSON of each event's call
        when the caller made it already; each stored event carries its wire form (``Event.wire``),
        so the change record and the SSE frames reuse this one encoding."""
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        first = (int(row[0]) if row else 0) + 1
        texts = call_texts if call_texts is not None else [None] * len(events)
        stored: list[Event] = []
        rows: list[tuple[Any, ...]] = []
        for i, (ev, call_text) in enumerate(zip(events, texts, strict=True)):
            text = data_json(ev.data, call_text)
            wire = event_wire(first + i, ev.type, ev.at, text)
            stored.append(
                Event(first + i, ev.type, ev.at, ev.data, ev.incident_number, ev.location_key, wire)
            )
            rows.append((first + i, ev.type, ev.at, ev.incident_number, ev.location_key, text))
        conn.executemany(
            "INSERT INTO events (id, type, at, incident_number, location_key, data) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        return stored

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

    def append_events(self, events: Sequence[NewEvent]) -> list[Event]:
        with self._transaction() as conn:
            return self._append(conn, events)

    # -- events --------------------------------------------------------------------------------

    @staticmethod
    def _event(row: tuple[Any, ...]) -> Event:
        # The stored data text is canonical JSON (written by _append): the wire form is built
        # around it instead of encoding the decoded data again.
        event_id = int(row[0])
        return Event(
            event_id,
            row[1],
            row[2],
            json.loads(row[5]),
            row[3],
            row[4],
            event_wire(event_id, row[1], row[2], row[5]),
        )

    def events_after(self, after_id: int, limit: int = 1000) -> list[Event]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, type, at, incident_number, location_key, data FROM events "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [self._event(r) for r in rows]

    def events_in_window(self, start: str, end: str, limit: int = 1000) -> list[Event]:
        """Events with ``start <= at < end``, in id order (the order they happened)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, type, at, incident_number, location_key, data FROM events "
                "WHERE at >= ? AND at < ? ORDER BY id LIMIT ?",
                (start, end, limit),
            ).fetchall()
        return [self._event(r) for r in rows]

    def last_event_id(self) -> int:
        """The highest id ever given, even if pruned (AUTOINCREMENT never reuses ids)."""
        with self._lock:
            row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return int(row[0]) if row else 0

    def raise_event_ids_above(self, floor: int) -> int:
        """Make every later event id larger than ``floor`` (ids only ever grow). Used when this
        store takes over from another in one server (a demo run replaced by the next, or by live
        data), so no id a client saw in the old store is ever given again. Returns the last id."""
        with self._transaction() as conn:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            before = int(row[0]) if row else 0
            if row is None:
                conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (floor,))
            elif before < floor:
                conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (floor,))
            if before < floor:  # a jump on purpose, not a gap: `archive verify` must know it
                found = conn.execute("SELECT value FROM meta WHERE key = 'event_id_jumps'").fetchone()
                jumps = [*json.loads(found[0] if found else "[]"), [before + 1, floor]]
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('event_id_jumps', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (json.dumps(jumps),),
                )
        return self.last_event_id()

    def event_id_jumps(self) -> list[tuple[int, int]]:
        """The id ranges skipped on purpose by ``raise_event_ids_above`` (never given to events)."""
        return [(int(a), int(b)) for a, b in json.loads(self.get_meta("event_id_jumps") or "[]")]

    @property
    def store_id(self) -> str:
        """A random id of this database, made on first use: clients resuming a stream name it, so
        an id from another store (an earlier demo run) gets a reset instead of a wrong replay."""
        found = self.get_meta("store_id")
        if found is None:
            found = uuid.uuid4().hex
            self.set_meta("store_id", found)
        return found

    def first_event_id(self) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT MIN(id) FROM events").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def prune_events(self, before: str) -> int:
        """Drop events older than ``before``; clients resuming from before them get a reset."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM events WHERE at < ?", (before,)).rowcount

    def call_events(self, incident_number: str) -> list[Event]:
        """A call's history: its own events and the location.resolved events of its location key."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, type, at, incident_number, location_key, data FROM events "
                "WHERE incident_number = ? OR (type = 'location.resolved' AND location_key IN "
                "(SELECT location_key FROM calls WHERE incident_number = ?)) ORDER BY id",
                (incident_number, incident_number),
            ).fetchall()
        return [self._event(r) for r in rows]

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

    # -- geocode cache -------------------------------------------------------------------------

    def get_location(self, location_key: str, now: str) -> Geo | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT geo FROM locations WHERE location_key = ? AND expires_at > ?", (location_key, now)
            ).fetchone()
        return Geo.from_dict(json.loads(row[0])) if row else None

    def record_locations(self, resolutions: Sequence[Resolved], resolved_at: str) -> list[Event]:
        """Cache the answers and append the events of the located ones in one transaction: a crash
        never leaves a cached answer whose ``location.resolved`` was not logged (it would never
        be announced: the cache says the key needs no more work)."""
        with self._transaction() as conn:
            for found in resolutions:
                self._put_location(conn, found.location_key, found.geo, found.expires_at, resolved_at)
            return self._append(conn, [f.event for f in resolutions if f.event is not None])

    def put_location(self, location_key: str, geo: Geo, expires_at: str, resolved_at: str = "") -> None:
        with self._transaction() as conn:
            self._put_location(conn, location_key, geo, expires_at, resolved_at)

    @staticmethod
    def _put_location(
        conn: sqlite3.Connection, location_key: str, geo: Geo, expires_at: str, resolved_at: str
    ) -> None:
        conn.execute(
            "INSERT INTO locations (location_key, geo, precision, resolved_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (location_key) DO UPDATE SET geo = excluded.geo, "
            "precision = excluded.precision, resolved_at = excluded.resolved_at, "
            "expires_at = excluded.expires_at",
            (location_key, _dumps(geo.to_dict()), geo.precision, resolved_at or expires_at, expires_at),
        )

    def expire_locations(self, precisions: Sequence[str]) -> int:
        """Make cached geocodes of these precisions stale, so they are located again."""
        marks = ",".join("?" * len(precisions))
        with self._transaction() as conn:
            return conn.execute(
                f"UPDATE locations SET expires_at = '' WHERE precision IN ({marks})", tuple(precisions)
            ).rowcount

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def location_keys_needing_geocode(self, now: str) -> list[str]:
        """Keys of open calls with no fresh cached geocode."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT c.location_key FROM calls c LEFT JOIN locations l "
                "ON l.location_key = c.location_key AND l.expires_at > ? "
                "WHERE c.closed_at IS NULL AND l.location_key IS NULL ORDER BY c.location_key",
                (now,),
            ).fetchall()
        return [r[0] for r in rows]
