"""The whole poll pipeline on the recorded sequence, with a real SQLite file and a real archive folder."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.archive.store import LocalObjectStore, decode_changes, decode_snapshot
from dallas_calls.feed.source import ReplayExhausted, ReplaySource, list_snapshots
from dallas_calls.model import Geo
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore
from dallas_calls.tracking.diff import DEFAULT_CLOSE_AFTER_POLLS


def _units(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        found[row["incident_number"]].add(row["unit_number"])
    return found


def expected_replay(folder: Path, close_after: int = 1) -> tuple[dict[str, int], set[str]]:
    """An independent oracle: set arithmetic over consecutive raw snapshots. A call closes once it
    has been missing from ``close_after`` snapshots in a row; one that returns after its close is
    an update (reopened), not a second opening. Returns the event counts and the calls left open."""
    totals = {"call.opened": 0, "call.updated": 0, "call.closed": 0}
    open_units: dict[str, set[str]] = {}
    misses: dict[str, int] = {}
    closed: set[str] = set()
    for _, path in list_snapshots(folder):
        current = _units(json.loads(gzip.decompress(path.read_bytes())))
        for incident in current.keys() - open_units.keys():
            totals["call.updated" if incident in closed else "call.opened"] += 1
        totals["call.updated"] += sum(
            1 for i in current.keys() & open_units.keys() if current[i] != open_units[i]
        )
        for incident in open_units.keys() - current.keys():
            misses[incident] = misses.get(incident, 0) + 1
        gone = {i for i, count in misses.items() if count >= close_after}
        totals["call.closed"] += len(gone)
        closed = (closed | gone) - current.keys()
        open_units = {**{i: u for i, u in open_units.items() if i not in gone}, **current}
        misses = {i: count for i, count in misses.items() if i not in gone and i not in current}
    return totals, set(open_units)


async def replay_all(pipeline: Pipeline, source: ReplaySource) -> list[str]:
    outcomes = []
    while True:
        try:
            outcomes.append((await pipeline.poll(source)).outcome)
        except ReplayExhausted:
            return outcomes


@pytest.mark.parametrize("close_after", [1, 2, 3])
async def test_replay_of_recorded_sequence_produces_exactly_the_expected_events(
    tmp_path: Path, feed_sequence: Path, close_after: int
) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    archive = LocalObjectStore(tmp_path / "archive")
    outcomes = await replay_all(
        Pipeline(store, archive, close_after=close_after), ReplaySource(feed_sequence)
    )

    assert outcomes == ["ok"] * 14
    events = store.events_after(0, limit=10_000)
    counts = {
        t: sum(1 for e in events if e.type == t) for t in ("call.opened", "call.updated", "call.closed")
    }
    expected, still_open = expected_replay(feed_sequence, close_after)
    assert counts == expected
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert set(store.open_calls()) == still_open


async def test_every_fetched_snapshot_is_archived_raw_and_changes_match_the_event_log(
    tmp_path: Path, feed_sequence: Path
) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    archive = LocalObjectStore(tmp_path / "archive")
    await replay_all(Pipeline(store, archive), ReplaySource(feed_sequence))

    raw_keys = list(archive.list("raw/"))
    recorded = [p.relative_to(feed_sequence).as_posix() for _, p in list_snapshots(feed_sequence)]
    assert raw_keys == ["raw/" + name for name in recorded]
    for key in raw_keys:  # exactly the rows as received
        assert decode_snapshot(archive.get(key)) == decode_snapshot((feed_sequence / key[4:]).read_bytes())
    archived = [e for key in archive.list("changes/") for e in decode_changes(archive.get(key))]
    assert archived == [e.to_dict() for e in store.events_after(0, limit=10_000)]


async def test_replay_resumes_after_restart_without_duplicates(tmp_path: Path, feed_sequence: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    archive = LocalObjectStore(tmp_path / "archive")
    source = ReplaySource(feed_sequence)
    for _ in range(5):
        await Pipeline(store, archive).poll(source)
    store.close()

    reopened = SqliteStore(tmp_path / "db.sqlite3")
    rest = ReplaySource(feed_sequence)
    rest.position = 5
    await replay_all(Pipeline(reopened, archive), rest)
    events = reopened.events_after(0, limit=10_000)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    opened = [e.incident_number for e in events if e.type == "call.opened"]
    assert len(opened) == expected_replay(feed_sequence, DEFAULT_CLOSE_AFTER_POLLS)[0]["call.opened"]


class _FixedLocator:
    def __init__(self) -> None:
        self.calls = 0
        self.reporting_areas: list[str | None] = []

    def locate(
        self,
        block: str | None,
        location: str,
        beat: str | None,
        division: str | None,
        reporting_area: str | None = None,
    ) -> Geo:
        self.calls += 1
        self.reporting_areas.append(reporting_area)
        return Geo(32.78, -96.80, "street", "stub", True, 1)


async def test_each_location_key_is_geocoded_once_and_announced(tmp_path: Path, feed_sequence: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    locator = _FixedLocator()
    pipeline = Pipeline(store, LocalObjectStore(tmp_path / "archive"), locator=locator)
    source = ReplaySource(feed_sequence)
    await pipeline.poll(source)
    resolved = await pipeline.locate_pending()
    keys = {c.location_key for c in store.open_calls().values()}
    assert locator.calls == len(keys) == len(resolved)
    # The call's reporting area reaches the locator (its fallback finer than the beat).
    areas = {c.reporting_area for c in store.open_calls().values()}
    assert any(locator.reporting_areas) and set(locator.reporting_areas) <= areas
    assert {e.type for e in resolved} == {"location.resolved"}
    assert all(c.geo is not None for c in store.open_calls().values())
    assert await pipeline.locate_pending() == []  # cached: nothing to do
    await pipeline.poll(source)
    opened = [e for e in store.events_after(resolved[-1].id) if e.type == "call.opened"]
    reused = [e for e in opened if e.data["call"]["location_key"] in keys]
    assert all(e.data["call"]["geo"] is not None for e in reused)  # cached geo rides on call.opened


class _BrokenArchive(LocalObjectStore):
    def put(self, key: str, body: bytes) -> None:
        raise OSError("No space left on device")


async def test_archive_failure_fails_the_poll_and_changes_nothing(
    tmp_path: Path, feed_sequence: Path
) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    result = await Pipeline(store, _BrokenArchive(tmp_path / "a")).poll(ReplaySource(feed_sequence))
    assert result.outcome == "failed"
    assert result.reason is not None and "No space left" in result.reason
    assert store.open_calls() == {}
    assert store.recent_polls(1)[0].outcome == "failed"


@pytest.mark.parametrize("rebase", [False, True])
async def test_replay_time_base(tmp_path: Path, feed_sequence: Path, rebase: bool) -> None:
    source = ReplaySource(feed_sequence, rebase=rebase)
    snap = await source.next_snapshot()
    if rebase:
        assert snap.fetched_at.year >= 2026
        assert snap.rows[0]["date"][:4] >= "2026"
    else:
        assert snap.fetched_at.isoformat() == "2019-06-18T05:17:00+00:00"
        assert snap.rows[0]["date"] == "2019-06-17T00:00:00.000"


async def test_a_location_is_cached_only_with_its_event(
    tmp_path: Path, feed_sequence: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache write and the location.resolved event are one transaction: a failure between
    them leaves neither, so the next run locates the key again and announces it."""
    store = SqliteStore(tmp_path / "db.sqlite3")
    locator = _FixedLocator()
    pipeline = Pipeline(store, LocalObjectStore(tmp_path / "archive"), locator=locator)
    await pipeline.poll(ReplaySource(feed_sequence))
    before = store.last_event_id()

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_append", fails)
    with pytest.raises(OSError):
        await pipeline.locate_pending()
    monkeypatch.undo()
    assert store.last_event_id() == before
    assert store.location_keys_needing_geocode("2019-06-18T05:17:00Z"), "nothing cached without its event"
    resolved = await pipeline.locate_pending()
    assert resolved and all(e.type == "location.resolved" for e in resolved)
    assert await pipeline.locate_pending() == []


def test_area_and_beat_centres_are_cached_briefly_real_points_long() -> None:
    from dallas_calls.locating import BEAT_TTL, POSITIVE_TTL, location_ttl
    from dallas_calls.runtime import APPROXIMATE_PRECISIONS

    assert location_ttl(Geo(32.78, -96.80, "reporting_area", "reporting_area_centre", True, 0)) == BEAT_TTL
    assert location_ttl(Geo(32.78, -96.80, "beat", "beat_centroid", True, 0)) == BEAT_TTL
    assert location_ttl(Geo(32.78, -96.80, "address", "address_points", True, 1)) == POSITIVE_TTL
    assert "reporting_area" in APPROXIMATE_PRECISIONS  # retried when the sources change
