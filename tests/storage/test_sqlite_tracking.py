"""Tracking on a real SQLite file: unchanged calls cost no row writes, last_seen stays right, a call
must be missing twice to close, a returning call is reopened, and a v2 database migrates."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dallas_calls.api.view import CurrentCallsView
from dallas_calls.archive.store import LocalObjectStore
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage import sqlite_schema
from dallas_calls.storage.sqlite import SCHEMA_VERSION, SqliteStore

T0 = datetime(2019, 6, 18, 5, 17, tzinfo=UTC)


def at(poll: int) -> datetime:
    return T0 + timedelta(minutes=4 * poll)


def iso(poll: int) -> str:
    return at(poll).isoformat().replace("+00:00", "Z")


def pipeline(tmp_path: Path, **kwargs: Any) -> Pipeline:
    return Pipeline(SqliteStore(tmp_path / "db.sqlite3"), LocalObjectStore(tmp_path / "archive"), **kwargs)


def without(rows: list[dict[str, Any]], incident: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["incident_number"] != incident]


def count_call_writes(path: Path) -> sqlite3.Connection:
    """Another connection adds triggers that count every write to the calls table."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        """
        CREATE TABLE call_writes (kind TEXT NOT NULL);
        CREATE TRIGGER count_updates AFTER UPDATE ON calls BEGIN INSERT INTO call_writes VALUES ('update'); END;
        CREATE TRIGGER count_inserts AFTER INSERT ON calls BEGIN INSERT INTO call_writes VALUES ('insert'); END;
        """
    )
    return conn


def test_an_unchanged_poll_writes_no_call_row_and_last_seen_still_moves(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    p = pipeline(tmp_path)
    p.process(first_snapshot, at(0), "test", None)
    counter = count_call_writes(tmp_path / "db.sqlite3")

    for poll in (1, 2, 3):
        result = p.process(first_snapshot, at(poll), "test", None)
        assert result.outcome == "ok" and result.events == []
    assert counter.execute("SELECT count(*) FROM call_writes").fetchone()[0] == 0

    calls = p.store.open_calls()
    assert len(calls) == 38
    assert {c.last_seen for c in calls.values()} == {iso(3)}
    assert {c.first_seen for c in calls.values()} == {iso(0)}
    some = next(iter(calls))
    assert p.store.get_call(some) == calls[some]


def missing_once(tmp_path: Path, rows: list[dict[str, Any]]) -> tuple[Pipeline, str]:
    """Poll 0 opens every call of ``rows``; poll 1 misses the first one. Checks poll 1 did nothing."""
    p = pipeline(tmp_path)
    p.process(rows, at(0), "test", None)
    gone = rows[0]["incident_number"]
    missing = p.process(without(rows, gone), at(1), "test", None)
    assert missing.outcome == "ok" and missing.events == []
    return p, gone


def test_a_call_missing_once_is_not_closed_and_keeps_its_last_seen(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    p, gone = missing_once(tmp_path, first_snapshot)
    call = p.store.get_call(gone)
    assert call is not None and call.closed_at is None and call.last_seen == iso(0)

    back = p.process(first_snapshot, at(2), "test", None)
    assert back.events == []  # no close, no reopen: nothing happened to it
    call = p.store.get_call(gone)
    assert call is not None and call.last_seen == iso(2)


def test_a_call_missing_twice_closes_with_the_last_poll_that_held_it(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    p, gone = missing_once(tmp_path, first_snapshot)
    p.store.close()

    restarted = pipeline(tmp_path)  # the miss count survives a restart
    result = restarted.process(without(first_snapshot, gone), at(2), "test", None)
    (event,) = result.events
    assert event.type == "call.closed" and event.incident_number == gone
    assert event.data["call"]["closed_at"] == iso(2) and event.data["call"]["last_seen"] == iso(0)
    assert gone not in restarted.store.open_calls()


def test_a_held_poll_counts_absences_but_closes_nothing(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    p = pipeline(tmp_path)
    p.process(first_snapshot, at(0), "test", None)
    empty = p.process([], at(1), "test", None)
    assert empty.outcome == "held" and empty.closed == 0
    glitch_over = p.process(first_snapshot, at(2), "test", None)
    assert glitch_over.outcome == "ok" and glitch_over.events == []

    assert p.process([], at(3), "test", None).outcome == "held"
    confirmed = p.process([], at(4), "test", None)  # a second empty poll: the drop is real
    assert confirmed.outcome == "ok" and confirmed.closed == 38
    assert p.store.open_calls() == {}


def test_a_returning_call_is_reopened_and_its_timeline_continues(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    p = pipeline(tmp_path)
    p.process(first_snapshot, at(0), "test", None)
    view = CurrentCallsView(p.store)
    view.load()
    number = first_snapshot[0]["incident_number"]
    rest = without(first_snapshot, number)
    for poll in (1, 2):
        for event in p.process(rest, at(poll), "test", None).events:
            view.apply(event)
    assert number not in view.calls and number in view.recent_closed

    result = p.process(first_snapshot, at(3), "test", None)
    (event,) = result.events
    assert event.type == "call.updated" and event.data["reopened"] is True
    assert event.data["changes"] == {"closed_at": [iso(2), None]}
    view.apply(event)
    assert view.calls[number]["first_seen"] == iso(0)
    assert number not in view.recent_closed  # counted once, as open

    call = p.store.get_call(number)
    assert call is not None and call.closed_at is None and call.first_seen == iso(0)
    assert call.last_seen == iso(3)
    timeline = [(e.type, e.data.get("reopened", False)) for e in p.store.call_events(number)]
    assert timeline == [("call.opened", False), ("call.closed", False), ("call.updated", True)]
    assert len(p.store.open_calls()) == 38


def test_a_write_by_another_connection_is_seen_by_the_next_poll(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    first = pipeline(tmp_path)
    first.process(first_snapshot, at(0), "test", None)
    other = pipeline(tmp_path)  # a second process on the same file (e.g. `poll --once`)
    gone = first_snapshot[0]["incident_number"]
    other.process(without(first_snapshot, gone), at(1), "test", None)
    other.process(without(first_snapshot, gone), at(2), "test", None)  # closes it

    result = first.process(first_snapshot, at(3), "test", None)
    assert [(e.type, e.incident_number) for e in result.events] == [("call.updated", gone)]
    assert result.events[0].data["reopened"] is True


def test_a_version_2_database_migrates_and_keeps_its_open_calls_last_seen(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    path = tmp_path / "db.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for version, script in enumerate(sqlite_schema.MIGRATIONS[:2]):
        old.executescript(script + f"PRAGMA user_version = {version + 1};")
    data = (
        '{"incident_number":"%s","location":"Elm St","location_key":"k","first_seen":"%s","last_seen":"%s"}'
    )
    old.executemany(
        "INSERT INTO calls (incident_number, data, location_key, last_seen, closed_at) VALUES (?, ?, 'k', ?, NULL)",
        [
            ("19-1", data % ("19-1", iso(0), iso(1)), iso(1)),  # seen by the last poll
            ("19-2", data % ("19-2", iso(0), iso(0)), iso(0)),  # missing from the last (held) poll
        ],
    )
    for poll, outcome in ((0, "ok"), (1, "held"), (2, "failed")):
        old.execute(
            "INSERT INTO polls (started_at, outcome, rows, quarantined, duration_ms, source, counts) "
            "VALUES (?, ?, 0, 0, 0, 'test', '{}')",
            (iso(poll), outcome),
        )
    old.close()

    store = SqliteStore(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    calls = store.open_calls()
    assert {n: c.last_seen for n, c in calls.items()} == {"19-1": iso(1), "19-2": iso(0)}
    assert dict(store.tracked_calls().misses) == {"19-2": 1}
