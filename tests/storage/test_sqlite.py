"""The SQLite store: atomic apply, id continuity across restarts, migrations, geocode cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.feed.schema import parse_rows
from dallas_calls.model import ChangeSet, Geo, PollRecord
from dallas_calls.storage import sqlite_schema
from dallas_calls.storage.sqlite import SCHEMA_VERSION, SchemaTooNew, SqliteStore
from dallas_calls.tracking.diff import diff_snapshot
from dallas_calls.tracking.snapshot import group_rows


def _changes(rows: list[dict[str, Any]], store: SqliteStore, at: str) -> ChangeSet:
    parsed, _ = parse_rows(rows)
    return diff_snapshot(store.tracked_calls(), group_rows(parsed), at, close_after=1).changes


def _poll(at: str, outcome: str = "ok") -> PollRecord:
    return PollRecord(started_at=at, outcome=outcome, rows=1, source="test")


def test_apply_persists_calls_and_events_with_increasing_ids(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    store = SqliteStore(tmp_path / "s.db")
    events = store.apply(
        _changes(first_snapshot, store, "2019-06-18T05:17:00Z"), _poll("2019-06-18T05:17:00Z")
    )
    assert [e.id for e in events] == list(range(1, 39))
    assert {e.type for e in events} == {"call.opened"}
    assert len(store.open_calls()) == 38
    assert store.last_event_id() == 38
    assert store.events_after(30) == events[30:]


def test_failed_transaction_leaves_nothing_behind(
    tmp_path: Path, first_snapshot: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "s.db")
    changes = _changes(first_snapshot, store, "2019-06-18T05:17:00Z")

    def broken(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(store, "_insert_poll", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.apply(changes, _poll("2019-06-18T05:17:00Z"))
    assert store.open_calls() == {}
    assert store.events_after(0) == []
    assert store.last_event_id() == 0


def test_restart_resumes_state_and_never_reuses_an_event_id(
    tmp_path: Path, first_snapshot: list[dict[str, Any]], second_snapshot: list[dict[str, Any]]
) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.apply(_changes(first_snapshot, store, "2019-06-18T05:17:00Z"), _poll("2019-06-18T05:17:00Z"))
    store.prune_events(before="2100-01-01")  # even a pruned log keeps its high-water mark
    store.close()

    reopened = SqliteStore(path)
    assert len(reopened.open_calls()) == 38
    assert reopened.last_event_id() == 38
    changes = _changes(first_snapshot, reopened, "2019-06-18T05:21:00Z")
    assert changes.is_empty()  # nothing is re-opened after a restart
    events = reopened.apply(_changes(second_snapshot, reopened, "2019-06-18T06:09:00Z"), _poll("x"))
    assert events[0].id == 39
    assert [e.id for e in events] == list(range(39, 39 + len(events)))


def test_closed_calls_keep_their_history(tmp_path: Path, first_snapshot: list[dict[str, Any]]) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.apply(_changes(first_snapshot, store, "2019-06-18T05:17:00Z"), _poll("a"))
    store.apply(_changes([], store, "2019-06-18T05:21:00Z"), _poll("b"))
    incident = first_snapshot[0]["incident_number"]
    call = store.get_call(incident)
    assert call is not None and call.closed_at == "2019-06-18T05:21:00Z"
    assert [e.type for e in store.call_events(incident)] == ["call.opened", "call.closed"]
    assert store.open_calls() == {}


def test_schema_is_versioned_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew):
        SqliteStore(path)


def test_migrations_run_in_order_from_an_older_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    extra = "ALTER TABLE polls ADD COLUMN note TEXT;"
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", (*sqlite_schema.MIGRATIONS, extra))
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert "note" in [row[1] for row in conn.execute("PRAGMA table_info(polls)")]


def test_geocode_cache_expires_and_attaches_geo_to_open_calls(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.apply(_changes(first_snapshot, store, "2019-06-18T05:17:00Z"), _poll("a"))
    key = next(iter(store.open_calls().values())).location_key
    assert key in store.location_keys_needing_geocode("2019-06-18T05:18:00Z")
    geo = Geo(32.8, -96.8, "address", "test", True, 2)
    store.put_location(key, geo, expires_at="2019-06-19T00:00:00Z")
    assert store.get_location(key, "2019-06-18T06:00:00Z") == geo
    assert store.get_location(key, "2019-06-20T00:00:00Z") is None  # expired
    assert key not in store.location_keys_needing_geocode("2019-06-18T05:18:00Z")
    located = [c for c in store.open_calls().values() if c.location_key == key]
    assert located and all(c.geo == geo for c in located)


def test_ids_can_be_raised_above_another_stores_and_never_go_down(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    store = SqliteStore(tmp_path / "s.db")
    assert store.raise_event_ids_above(500) == 500
    events = store.apply(
        _changes(first_snapshot, store, "2019-06-18T05:17:00Z"), _poll("2019-06-18T05:17:00Z")
    )
    assert events[0].id == 501
    assert store.raise_event_ids_above(10) == 538, "a lower floor changes nothing"
    first_id = store.store_id
    store.close()
    reopened = SqliteStore(tmp_path / "s.db")
    assert reopened.store_id == first_id and reopened.last_event_id() == 538
    assert SqliteStore(tmp_path / "other.db").store_id != first_id
