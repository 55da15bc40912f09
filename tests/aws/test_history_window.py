"""A replay's window read from DynamoDB Local as from SQLite: the window's events (found by time in
a log keyed by id), the calls open at its start and how many calls it holds, from the tracker
run on the recorded snapshots and from the one-machine pipeline on the same snapshots; then
``/history/events`` served by an API replica reading DynamoDB directly (what ECS runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dallas_calls.aws.handlers import handle_tracker
from dallas_calls.config import Settings
from dallas_calls.model import Call, Event, NewEvent, iso_utc
from dallas_calls.storage.dynamodb import DynamoStore
from dallas_calls.storage.sqlite import SqliteStore
from tests.aws.conftest import AwsWorld, RunningApi
from tests.aws.test_tracker import Recorded, expected_after, upload

pytestmark = pytest.mark.aws


def _key(events: list[Event]) -> list[tuple[int, str, str, str | None]]:
    return [(e.id, e.type, e.at, e.incident_number) for e in events]


def _calls(calls: list[Call]) -> list[tuple[str, str, str | None]]:
    return [(c.incident_number, c.first_seen, c.closed_at) for c in calls]


@pytest.fixture
def tracked(aws: AwsWorld, recorded: Recorded, tmp_path: Path) -> tuple[DynamoStore, SqliteStore, list[str]]:
    """The tracker's DynamoDB store and the one-machine store after every recorded snapshot, and
    the snapshots' times."""
    rt = aws.runtime()
    for at, rows in recorded:
        handle_tracker(rt, upload(aws, rt, at, rows))
    return rt.store, expected_after(tmp_path, recorded), [iso_utc(at) for at, _ in recorded]


def windows(times: list[str]) -> list[tuple[str, str]]:
    """Windows over the recording: the whole of it, its middle, one starting between two polls,
    one poll wide, and empty ones before and after it."""
    first, last = times[0], times[-1]
    between = iso_utc(datetime.fromisoformat(times[3].replace("Z", "+00:00")) + timedelta(seconds=30))
    return [
        ("2019-06-18T00:00:00Z", "2019-06-19T00:00:00Z"),
        (times[4], times[9]),
        (between, last),
        (times[6], times[7]),
        ("2019-06-17T00:00:00Z", first),
        (
            iso_utc(datetime.fromisoformat(last.replace("Z", "+00:00")) + timedelta(seconds=1)),
            "2019-06-20T00:00:00Z",
        ),
    ]


def test_dynamodb_reads_a_window_as_sqlite_does(tracked: tuple[DynamoStore, SqliteStore, list[str]]) -> None:
    dynamo, sqlite, times = tracked
    log = dynamo.events_after(0, 100_000)
    assert _key(log) == _key(sqlite.events_after(0, 100_000)), "the same events from the same snapshots"
    everything = dynamo.calls_between("2019-06-18T00:00:00Z", "2019-06-19T00:00:00Z", 100_000)
    for start, end in windows(times):
        want = [e for e in log if start <= e.at < end]
        assert (
            _key(dynamo.events_in_window(start, end))
            == _key(want)
            == _key(sqlite.events_in_window(start, end))
        )
        if len(want) > 3:
            assert _key(dynamo.events_in_window(start, end, limit=3)) == _key(want[:3])
        open_at = [
            c for c in everything if c.first_seen < start and (c.closed_at is None or c.closed_at >= start)
        ]
        open_at.sort(key=lambda c: (c.first_seen, c.incident_number))
        assert _calls(dynamo.calls_open_at(start)) == _calls(open_at)
        assert sorted(_calls(sqlite.calls_open_at(start))) == sorted(_calls(open_at))
        assert dynamo.count_calls_between(start, end) == sqlite.count_calls_between(start, end)
        assert dynamo.count_calls_between(start, end) == sum(start <= c.first_seen < end for c in everything)
    assert any(dynamo.calls_open_at(times[5])), "calls were open mid-recording"
    assert any(c.closed_at for c in dynamo.calls_open_at(times[5])), "some of them closed later"


def _replayed(body: dict[str, Any]) -> set[str]:
    open_calls = {c["incident_number"] for c in body["initial"]}
    for ev in body["events"]:
        number = ev["data"]["call"]["incident_number"]
        if ev["type"] == "call.closed":
            open_calls.discard(number)
        else:
            open_calls.add(number)
    return open_calls


def test_history_events_from_a_replica_reading_dynamodb(
    tracked: tuple[DynamoStore, SqliteStore, list[str]], tmp_path: Path
) -> None:
    dynamo, sqlite, times = tracked
    params = {"start": times[4], "end": "2019-06-19T00:00:00Z"}
    answers = []
    for name, store in (("dynamo", dynamo), ("sqlite", sqlite)):
        settings = Settings(data_dir=tmp_path / name, geocode=False, rate_limit_per_min=0)
        with RunningApi(settings, store) as api:
            res = httpx.get(api.url + "/history/events", params=params)
            assert res.status_code == 200, res.text
            answers.append(res.json())
    on_dynamo, on_sqlite = answers
    assert on_dynamo["source"] == "log" and on_dynamo["note"] is None, "read from the log, not rebuilt"
    assert [e["id"] for e in on_dynamo["events"]] == [e["id"] for e in on_sqlite["events"]]
    assert on_dynamo["events"], "the window holds events"
    assert {c["incident_number"] for c in on_dynamo["initial"]} == {
        c["incident_number"] for c in on_sqlite["initial"]
    }
    assert on_dynamo["window_calls"] == on_sqlite["window_calls"] is not None
    assert _replayed(on_dynamo) == set(dynamo.open_calls()) == _replayed(on_sqlite)


def test_the_window_is_found_by_a_search_not_a_scan(aws: AwsWorld) -> None:
    """400 batches a minute apart (the log of a long run): each window is read with a few
    single-item Queries to find its first batch, then the batches it spans, never the whole log."""
    store: DynamoStore = aws.runtime().store
    start = datetime(2035, 1, 1, tzinfo=UTC)  # after today: DynamoDB Local deletes expired items itself
    for i in range(400):
        at = start + timedelta(minutes=i)
        store.append_events([NewEvent("note", iso_utc(at), {"i": i})], archive_at=at)
    queries: list[int] = []  # the items each Query read, paginated ones included

    def counted(parsed: dict[str, Any], **_: Any) -> None:
        queries.append(int(parsed.get("ScannedCount", 0)))

    store.client.meta.events.register("after-call.dynamodb.Query", counted)
    store.clock = lambda: start + timedelta(hours=8)  # no batch has expired
    for first, minutes in ((0, 5), (123, 10), (390, 20), (250, 1)):
        queries.clear()
        begin = start + timedelta(minutes=first)
        got = store.events_in_window(iso_utc(begin), iso_utc(begin + timedelta(minutes=minutes)))
        assert [e.data["i"] for e in got] == list(range(first, min(400, first + minutes)))
        assert len(queries) <= 24, f"{len(queries)} Queries for a {minutes}-minute window"
        # the search's single items, one page of keys for the first id, the window's batches and
        # the clock slack's (10 minutes each side): never the 400
        assert sum(queries) <= len(queries) + 25 + minutes + 21, f"{sum(queries)} items read"
    store.client.meta.events.unregister("after-call.dynamodb.Query", counted)
    assert store.events_in_window("2034-12-31T00:00:00Z", "2035-01-01T00:00:00Z") == []
    assert (
        store.events_in_window(iso_utc(start + timedelta(days=2)), iso_utc(start + timedelta(days=3))) == []
    )
