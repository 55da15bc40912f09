"""Rows that once failed a whole poll, over real HTTP from the fake Socrata server into a real SQLite
file and archive folder: each is quarantined with its reason, the rest applies, and the raw archive
holds the response bodies byte for byte, so replaying it gives the same history."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dallas_calls.archive.store import LocalObjectStore, decode_snapshot, encode_pages
from dallas_calls.feed.client import FeedConfig, SocrataFeed
from dallas_calls.feed.source import LiveSource, ReplaySource
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore
from tests.fakes.socrata import FakeSocrata, Respond

PAGE = 25


def bad_rows(real: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        dict(real[0], incident_number="BAD-DATE", date="9999-12-31T00:00:00.000", time="23:59:59"),
        dict(real[1], incident_number="BAD-TEXT", nature_of_call="Major Dist\ud800"),
        dict(real[2], incident_number="9" * 65),
    ]


async def test_rows_that_failed_the_poll_are_quarantined_and_the_bodies_archived_byte_for_byte(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    archive = LocalObjectStore(tmp_path / "archive")
    rows = [*first_snapshot, *bad_rows(first_snapshot)]  # 62 rows: pages of 25, 25, 12
    with FakeSocrata([rows]) as fake:
        source = LiveSource(SocrataFeed(FeedConfig(url=fake.url, page_size=PAGE)))
        result = await Pipeline(store, archive).poll(source)
        await source.aclose()

    assert result.outcome == "ok" and result.rows == 62 and result.quarantined == 3
    assert set(store.open_calls()) == {r["incident_number"] for r in first_snapshot}
    reasons = sorted(q.reason for q in store.quarantined_rows())
    assert reasons == [
        "date '9999-12-31T00:00:00.000' '23:59:59' is out of the representable range",
        "incident_number is longer than 64 characters",
        "nature_of_call holds a lone surrogate (replaced with U+FFFD in the stored row)",
    ]
    served = [json.dumps(rows[i : i + PAGE]).encode() for i in range(0, len(rows), PAGE)]
    assert result.snapshot_key is not None
    assert archive.get(result.snapshot_key) == encode_pages(served)
    assert decode_snapshot(archive.get(result.snapshot_key)) == rows


async def test_a_body_with_invalid_utf8_is_archived_as_sent_and_quarantines_only_its_row(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    archive = LocalObjectStore(tmp_path / "archive")
    good = json.dumps(first_snapshot[0]).encode()
    body = b'[{"incident_number": "19-\xff", "location": "Elm St"}, ' + good + b"]"
    with FakeSocrata([first_snapshot]) as fake:
        fake.inject(Respond(200, body, {"Content-Type": "application/json"}))
        source = LiveSource(SocrataFeed(FeedConfig(url=fake.url)))
        result = await Pipeline(store, archive).poll(source)
        await source.aclose()

    assert result.outcome == "ok" and result.quarantined == 1 and result.opened == 1
    assert result.snapshot_key is not None
    assert archive.get(result.snapshot_key) == encode_pages([body])
    (record,) = store.quarantined_rows()
    assert record.raw["incident_number"] == "19-\ufffd"


async def test_replaying_a_byte_exact_archive_rebuilds_the_same_history(
    tmp_path: Path, first_snapshot: list[dict[str, Any]], second_snapshot: list[dict[str, Any]]
) -> None:
    live = SqliteStore(tmp_path / "live.sqlite3")
    archive = LocalObjectStore(tmp_path / "archive")
    snapshots = [[*first_snapshot, *bad_rows(first_snapshot)], second_snapshot, second_snapshot]
    with FakeSocrata(snapshots) as fake:
        source = LiveSource(SocrataFeed(FeedConfig(url=fake.url, page_size=PAGE)), clock=_ticking())
        pipeline = Pipeline(live, archive)
        outcomes = [(await pipeline.poll(source)).outcome for _ in snapshots]
        await source.aclose()
    assert outcomes == ["ok", "held", "ok"]  # the real pair drops most calls: held, then confirmed

    replayed = SqliteStore(tmp_path / "replayed.sqlite3")
    replay = ReplaySource(tmp_path / "archive" / "raw")
    again = Pipeline(replayed, LocalObjectStore(tmp_path / "archive-2"))
    assert [(await again.poll(replay)).outcome for _ in snapshots] == outcomes
    assert [e.to_dict() for e in replayed.events_after(0)] == [e.to_dict() for e in live.events_after(0)]
    assert replayed.open_calls() == live.open_calls()
    assert [q.reason for q in replayed.quarantined_rows()] == [q.reason for q in live.quarantined_rows()]


def _ticking() -> Callable[[], datetime]:
    """A clock four minutes further on at each reading, like the recorded sequence."""
    moments = (datetime(2019, 6, 18, 5, 17, tzinfo=UTC) + timedelta(minutes=4 * i) for i in range(100))
    return lambda: next(moments)
