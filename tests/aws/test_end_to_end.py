"""The whole AWS path over HTTP against the emulators, not in lockstep: the downloader archives the
14 recorded snapshots on its own schedule while two tracker pollers, a locator poller and the
publisher's stream poller run concurrently in threads, each message or stream record left to the
handler's partial-batch response (see ``mappings.py``). The result is compared with the one-machine
runtime on the same snapshots: same open calls, same call events, every event published once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dallas_calls.api.view import CurrentCallsView
from dallas_calls.archive.keys import raw_key
from dallas_calls.archive.store import LocalObjectStore, ObjectStore, decode_changes
from dallas_calls.aws.handlers import handle_download, handle_locator, handle_publisher, handle_tracker
from dallas_calls.config import Settings
from dallas_calls.model import Event
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore
from tests.aws.conftest import TOKEN, AwsWorld, Clock, FakeLocator, RunningApi
from tests.aws.mappings import SqsMapping, StreamMapping
from tests.fakes.socrata import FakeSocrata

pytestmark = pytest.mark.aws

SETTLE_S = 120.0  # a bound on the wait for the pipeline to drain, not a timing assertion


def one_machine(tmp_path: Path, snapshots: list[tuple[datetime, list[Any]]]) -> SqliteStore:
    """Pipeline + SqliteStore over these snapshots: poll, then locate, as `serve` does."""
    store = SqliteStore(tmp_path / "one.sqlite3")
    clock = Clock()
    pipeline = Pipeline(store, LocalObjectStore(tmp_path / "one-archive"), locator=FakeLocator(), clock=clock)

    async def run() -> None:
        for at, rows in snapshots:
            clock.at = at
            pipeline.process(rows, at, "test", raw_key(at))
            await pipeline.locate_pending()

    asyncio.run(run())
    return store


def change_records(archive: ObjectStore) -> dict[str, list[dict[str, Any]]]:
    return {key: decode_changes(archive.get(key)) for key in archive.list("changes/")}


def call_events(events: list[Event]) -> list[tuple[str, str, dict[str, Any]]]:
    """The call events without ids and geo (both depend on how the locator interleaved)."""
    return [
        (e.type, e.at, {**e.data, "call": {**e.data["call"], "geo": None}})
        for e in events
        if e.type.startswith("call.")
    ]


class Pollers:
    """Threads that keep polling until stopped, as the event source mappings do."""

    def __init__(self, polls: list[Callable[[], int]]) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, args=(p,)) for p in polls]

    def _run(self, poll: Callable[[], int]) -> None:
        while not self.stop.is_set():
            try:
                if not poll():
                    self.stop.wait(0.05)
            except BaseException as exc:  # an emulator error ends the test, not just the thread
                self.errors.append(exc)
                return

    def __enter__(self) -> Pollers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_aws_runtime_matches_the_one_machine_runtime(
    aws: AwsWorld, recorded: list[tuple[datetime, list[Any]]], tmp_path: Path
) -> None:
    times = [at for at, _ in recorded]
    api_settings = Settings(
        data_dir=tmp_path / "api", ingest_token=TOKEN, geocode=False, rate_limit_per_min=0
    )
    api_store = SqliteStore(tmp_path / "api" / "empty.sqlite3")  # an API-only replica
    with FakeSocrata([rows for _, rows in recorded]) as feed, RunningApi(api_settings, api_store) as api:
        schedule = Clock()
        downloader = aws.runtime(feed_url=feed.url, clock=schedule)
        tracker = aws.runtime()
        locator = aws.runtime(clock=schedule, locator=FakeLocator())
        publisher = aws.runtime(api_url=api.url)
        tracking = [
            SqsMapping(
                aws.sqs, aws.tracker_queue, lambda e: handle_tracker(tracker, e), visibility_timeout_s=10
            )
            for _ in range(2)  # the tracker mapping's maximum concurrency
        ]
        locating = SqsMapping(
            aws.sqs, aws.locator_queue, lambda e: handle_locator(locator, e), visibility_timeout_s=10
        )
        publishing = StreamMapping(aws.streams, aws.stream_arn, lambda e: handle_publisher(publisher, e))
        store = tracker.store
        last_key = raw_key(times[-1])

        def drained() -> bool:
            return (
                store.load_tracker().snapshot_key == last_key
                and aws.waiting(aws.tracker_queue) == 0
                and aws.waiting(aws.locator_queue) == 0
                and publishing.poll() == 0
                and httpx.get(api.url + "/current-calls/").json()["last_event_id"] == store.last_event_id()
            )

        with Pollers([m.poll for m in tracking] + [locating.poll]) as pollers:
            for at in times:  # the schedule does not wait for the stages
                schedule.at = at
                downloaded = handle_download(downloader)
                assert downloaded["fetched_at"] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
                publishing.poll()
            deadline = time.monotonic() + SETTLE_S
            while not drained():
                assert time.monotonic() < deadline, "the pipeline did not drain"
                assert not pollers.errors
                time.sleep(0.1)
        assert not pollers.errors
        current = httpx.get(api.url + "/current-calls/").json()

    # nothing failed for good: no message in a DLQ, no stream batch dead-lettered
    assert [aws.waiting(q) for q in aws.dlqs.values()] == [0, 0]
    assert publishing.dead_lettered == []

    # the tracker applied the snapshots in order (a late one is skipped, never applied out of order);
    # the one-machine runtime on those snapshots gives the same calls and the same call events
    polls = sorted(store.recent_polls(50), key=lambda p: p.started_at)
    applied = [p.snapshot_key for p in polls if p.source == "aws:tracker"]
    assert [p.outcome for p in polls] == ["ok"] * len(applied) and applied[-1] == last_key
    assert len(applied) >= len(times) // 2
    expected_store = one_machine(tmp_path, [(at, rows) for at, rows in recorded if raw_key(at) in applied])
    events = store.events_after(0, limit=100_000)
    assert [e.id for e in events] == list(range(1, store.last_event_id() + 1))
    assert call_events(events) == call_events(expected_store.events_after(0, limit=100_000))
    assert store.open_calls() == expected_store.open_calls()  # geo and last_seen included
    assert store.load_tracker().calls == expected_store.open_calls()
    located = [e.location_key for e in events if e.type == "location.resolved"]
    assert len(located) == len(set(located))
    assert set(located) >= {
        e.location_key for e in expected_store.events_after(0, limit=100_000) if e.location_key
    }

    # the API fed by the publisher holds the fold of the event log, every id delivered in order
    view = CurrentCallsView(SqliteStore(tmp_path / "fold.sqlite3"))
    for event in events:
        view.apply(event)
    assert current["last_event_id"] == events[-1].id
    assert current["current_active_calls"] == [view.calls[n] for n in sorted(view.calls)]

    # every event is in exactly one change record, filed under its batch's time
    archived = [e["id"] for records in change_records(tracker.archive).values() for e in records]
    assert sorted(archived) == [e.id for e in events]
    assert list(tracker.archive.list("raw/")) == [raw_key(at) for at in times]

    # a call's history
    some = sorted(expected_store.open_calls())[0]
    call_ids = [e.id for e in store.call_events(some)]
    assert "call.opened" in {events[i - 1].type for i in call_ids}

    # an API replica reading the DynamoDB store directly (what ECS runs) serves the same calls
    replica_settings = Settings(data_dir=tmp_path / "replica", geocode=False, rate_limit_per_min=0)
    with RunningApi(replica_settings, store) as replica:
        again = httpx.get(replica.url + "/current-calls/").json()
        history = httpx.get(f"{replica.url}/calls/{some}").json()
    assert again["last_event_id"] == current["last_event_id"]
    assert again["current_active_calls"] == [
        c.to_dict() for _, c in sorted(expected_store.open_calls().items())
    ]
    assert [e["id"] for e in history["events"]] == call_ids
