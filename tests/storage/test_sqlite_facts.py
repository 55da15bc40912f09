"""Schema v4: a v3 database migrates and keeps its data; the narrow facts are columns that every
write keeps equal to the stored call; windows are read through the ``calls_first_seen`` index."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from dallas_calls.model import Call, ChangeSet, PollRecord, Unit, call_facts
from dallas_calls.storage import sqlite_schema
from dallas_calls.storage.sqlite import SCHEMA_VERSION, SqliteStore


def _call(number: str, first_seen: str, closed_at: str | None = None, **fields: object) -> Call:
    base = Call(
        incident_number=number,
        division="CENTRAL",
        nature_of_call="40/01 - OTHER",
        priority=2,
        received_at="2025-01-01T00:00:00-06:00",
        block="100",
        location="MAIN ST",
        beat="111",
        reporting_area="1000",
        status="At Scene",
        units=(Unit("B100", "At Scene"),),
        location_key="100 MAIN ST|DALLAS",
        first_seen=first_seen,
        last_seen=first_seen,
        closed_at=closed_at,
    )
    return base.with_changes(**fields)


def _plan(conn: sqlite3.Connection, sql: str, *args: object) -> str:
    return " ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))


def test_a_version_3_database_migrates_and_keeps_its_calls_and_events(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for version, script in enumerate(sqlite_schema.MIGRATIONS[:3]):
        old.executescript(script + f"PRAGMA user_version = {version + 1};")
    calls = [
        _call("25-1", "2025-01-01T12:00:00Z", "2025-01-01T13:00:00Z"),
        _call("25-2", "2025-01-02T12:00:00Z", division=None, priority=None, beat=None),
        _call("25-3", "2025-01-05T12:00:00Z", nature_of_call="40 - OTHER", priority=1),
    ]
    old.executemany(
        "INSERT INTO calls (incident_number, data, location_key, last_seen, closed_at) VALUES (?, ?, ?, ?, ?)",
        [
            (c.incident_number, json.dumps(c.to_dict()), c.location_key, c.last_seen, c.closed_at)
            for c in calls
        ],
    )
    old.execute(
        "INSERT INTO events (type, at, incident_number, data) VALUES ('call.opened', ?, '25-1', '{}')",
        ("2025-01-01T12:00:00Z",),
    )
    old.close()

    store = SqliteStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert [
        c.incident_number for c in store.calls_between("2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z")
    ] == [
        "25-1",
        "25-2",
    ]
    assert store.get_call("25-3") == calls[2]
    assert [e.incident_number for e in store.events_after(0)] == ["25-1"]
    facts = sorted(store.call_facts_between("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"))
    assert facts == sorted(call_facts(c) for c in calls)
    assert facts[1] == ("2025-01-02T12:00:00Z", None, None, None, "40/01 - OTHER", None)
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"calls_first_seen", "events_at"} <= indexes


def test_windows_are_read_through_the_first_seen_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    conn = sqlite3.connect(tmp_path / "s.sqlite3")
    window = ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
    facts_plan = _plan(
        conn,
        "SELECT first_seen, closed_at, division, priority, nature_of_call, beat FROM calls "
        "WHERE first_seen >= ? AND first_seen < ?",
        *window,
    )
    assert "COVERING INDEX calls_first_seen" in facts_plan
    between_plan = _plan(
        conn, "SELECT data FROM calls WHERE first_seen >= ? AND first_seen < ? ORDER BY first_seen", *window
    )
    assert "INDEX calls_first_seen" in between_plan and "TEMP B-TREE" not in between_plan
    assert "INDEX events_at" in _plan(conn, "DELETE FROM events WHERE at < ?", window[0])
    store.close()


def test_every_write_keeps_the_fact_columns_equal_to_the_call(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    window = ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
    opened = _call("25-9", "2025-01-01T12:00:00Z")
    store.apply(ChangeSet(opened=(opened,)), PollRecord("2025-01-01T12:00:00Z", "ok"))
    assert store.call_facts_between(*window) == [call_facts(opened)]
    closed = opened.with_changes(closed_at="2025-01-01T12:40:00Z", priority=1, division="NORTH")
    store.apply(ChangeSet(closed=(closed,)), PollRecord("2025-01-01T12:40:00Z", "ok"))
    assert store.call_facts_between(*window) == [
        ("2025-01-01T12:00:00Z", "2025-01-01T12:40:00Z", "NORTH", 1, "40/01 - OTHER", "111")
    ]
    assert store.call_facts_between("2025-01-01T12:00:01Z", window[1]) == []
