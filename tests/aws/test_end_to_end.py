"""The whole AWS path over HTTP against moto, compared with the one-machine runtime on the same
recorded snapshots: same open calls, same events (ids included), same change archive."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dallas_calls.api.view import CurrentCallsView
from dallas_calls.archive.store import LocalObjectStore, ObjectStore, decode_changes
from dallas_calls.aws.handlers import handle_download, handle_locator, handle_publisher, handle_tracker
from dallas_calls.config import Settings
from dallas_calls.feed.source import ReplaySource
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore
from tests.aws.conftest import FEED_SEQUENCE, TOKEN, AwsWorld, Clock, FakeLocator, RunningApi
from tests.fakes.socrata import FakeSocrata

pytestmark = pytest.mark.aws


def one_machine(tmp_path: Path, times: list[datetime]) -> tuple[SqliteStore, LocalObjectStore]:
    """Pipeline + SqliteStore over the recorded sequence: poll, then locate, as `serve` does."""
    store = SqliteStore(tmp_path / "one.sqlite3")
    archive = LocalObjectStore(tmp_path / "one-archive")
    clock = Clock()
    pipeline = Pipeline(store, archive, locator=FakeLocator(), clock=clock)
    source = ReplaySource(FEED_SEQUENCE)

    async def run() -> None:
        for at in times:
            clock.at = at
            assert (await pipeline.poll(source)).outcome == "ok"
            await pipeline.locate_pending()

    asyncio.run(run())
    return store, archive


def change_records(archive: ObjectStore) -> dict[str, list[dict[str, Any]]]:
    return {key: decode_changes(archive.get(key)) for key in archive.list("changes/")}


def no_failures(result: dict[str, Any]) -> None:
    assert result == {"batchItemFailures": []}


def test_aws_runtime_matches_the_one_machine_runtime(
    aws: AwsWorld, recorded: list[tuple[datetime, list[Any]]], tmp_path: Path
) -> None:
    times = [at for at, _ in recorded]
    expected_store, expected_archive = one_machine(tmp_path, times)
    expected_events = expected_store.events_after(0, limit=100_000)

    api_settings = Settings(
        data_dir=tmp_path / "api", ingest_token=TOKEN, geocode=False, rate_limit_per_min=0
    )
    api_store = SqliteStore(tmp_path / "api" / "empty.sqlite3")  # an API-only replica
    with FakeSocrata([rows for _, rows in recorded]) as feed, RunningApi(api_settings, api_store) as api:
        clock = Clock()
        rt = aws.runtime(api_url=api.url, feed_url=feed.url, clock=clock, locator=FakeLocator())
        first = aws.receive(aws.tracker_queue)  # the notification's s3:TestEvent, if the emulator sends one
        no_failures(handle_tracker(rt, first))
        aws.receive(aws.locator_queue)
        for at in times:
            clock.at = at
            downloaded = handle_download(rt)
            assert downloaded["fetched_at"] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
            tracked = aws.receive(aws.tracker_queue)
            assert len(tracked["Records"]) == 1
            no_failures(handle_tracker(rt, tracked))
            no_failures(handle_locator(rt, aws.receive(aws.locator_queue)))
            no_failures(handle_publisher(rt, aws.stream_event()))

        current = httpx.get(api.url + "/current-calls/").json()

    # the API fed by the publisher shows what the one-machine runtime's event log folds to
    view = CurrentCallsView(expected_store)
    for event in expected_events:
        view.apply(event)
    assert current["last_event_id"] == expected_events[-1].id
    assert current["current_active_calls"] == [view.calls[n] for n in sorted(view.calls)]

    # the same event log, ids included
    assert [e.to_dict() for e in rt.store.events_after(0, limit=100_000)] == [
        e.to_dict() for e in expected_events
    ]
    # the same state (the calls read model and the tracker's own copy)
    assert rt.store.open_calls() == expected_store.open_calls()
    assert rt.store.load_tracker().calls == expected_store.open_calls()
    # the same change archive
    assert change_records(rt.archive) == change_records(expected_archive)
    # the same raw archive keys
    assert list(rt.archive.list("raw/")) == [k for k in expected_archive.list("raw/")]
    # a call's history
    some = sorted(expected_store.open_calls())[0]
    assert [e.id for e in rt.store.call_events(some)] == [e.id for e in expected_store.call_events(some)]
    polls = rt.store.recent_polls(14)
    assert [p.outcome for p in polls] == ["ok"] * 14
    assert rt.store.last_good_poll() is not None

    # an API replica reading the DynamoDB store directly (what ECS runs) serves the same calls
    replica_settings = Settings(data_dir=tmp_path / "replica", geocode=False, rate_limit_per_min=0)
    with RunningApi(replica_settings, rt.store) as replica:
        again = httpx.get(replica.url + "/current-calls/").json()
        history = httpx.get(f"{replica.url}/calls/{some}").json()
    assert again["last_event_id"] == current["last_event_id"]
    expected_calls = [c.to_dict() for _, c in sorted(expected_store.open_calls().items())]
    assert again["current_active_calls"] == expected_calls
    assert [e["id"] for e in history["events"]] == [e.id for e in expected_store.call_events(some)]
