"""The base of the SQLite store: its connection as opened at start-up (WAL, PRAGMAs, the schema
migrated, see :mod:`.sqlite_schema`), the one write transaction, the append-only event log and the
``meta`` values.

Every other part of the adapter writes through :meth:`SqliteLog._transaction` and appends its events
with :meth:`SqliteLog._append` inside it, so events are numbered in one place (the AUTOINCREMENT
sequence) whoever writes them: a poll, the locator or a plain append. The layers above are
:mod:`.sqlite_locations` (the geocode cache) and :mod:`.sqlite` (the calls and the poll log).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dallas_calls.events.encode import data_json, event_wire
from dallas_calls.model import Event, NewEvent
from dallas_calls.storage.sqlite_schema import migrate


class SqliteLog:
    """One SQLite file (WAL) opened and migrated, its event log and meta values; thread-safe."""

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

    # -- events --------------------------------------------------------------------------------

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

    def append_events(self, events: Sequence[NewEvent]) -> list[Event]:
        with self._transaction() as conn:
            return self._append(conn, events)

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

    # -- meta ----------------------------------------------------------------------------------

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
