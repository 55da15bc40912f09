"""Several trackers and locators race from threads on shuffled, duplicated SQS batches, against
DynamoDB Local (which serializes transactions as DynamoDB does; moto does not). Whatever the
interleaving: every commit a writer was told succeeded is kept, event ids are contiguous, the stream
(commit order) delivers them in id order, the calls table is the fold of the event log, and each
location is announced once."""

from __future__ import annotations

import json
import queue
import random
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.archive.store import LocalObjectStore, encode_snapshot
from dallas_calls.aws.handlers import Runtime, handle_locator, handle_tracker
from dallas_calls.model import Call
from dallas_calls.pipeline import Pipeline, archive_raw
from dallas_calls.storage.dynamodb import decode_batch
from dallas_calls.storage.sqlite import SqliteStore
from tests.aws.conftest import AwsWorld, Clock, FakeLocator

pytestmark = pytest.mark.aws

Recorded = list[tuple[datetime, list[Any]]]
TRACKERS = 3
LOCATORS = 2
MAX_DELIVERIES = 12


def batches(records: list[dict[str, Any]], rng: random.Random) -> list[list[dict[str, Any]]]:
    """Every message delivered twice (at-least-once), in shuffled batches of one to four."""
    pool = records * 2
    rng.shuffle(pool)
    out = []
    while pool:
        size = rng.randint(1, 4)
        out.append(pool[:size])
        pool = pool[size:]
    return out


def race(
    work: list[list[dict[str, Any]]], handler: Callable[[dict[str, Any]], dict[str, Any]], threads: int
) -> int:
    """Run the batches on ``threads`` threads; a record the handler reports failed is delivered
    again (as SQS does after the visibility timeout). Returns how many batches ran."""
    todo: queue.Queue[tuple[int, list[dict[str, Any]]]] = queue.Queue()
    for batch in work:
        todo.put((1, batch))
    ran = [0]
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            try:
                delivery, batch = todo.get(timeout=0.5)
            except queue.Empty:
                return
            try:
                failed = {f["itemIdentifier"] for f in handler({"Records": batch})["batchItemFailures"]}
                ran[0] += 1
                again = [r for r in batch if r["messageId"] in failed]
                if again and delivery < MAX_DELIVERIES:
                    todo.put((delivery + 1, again))
            except BaseException as exc:  # a handler must never raise: it reports failures
                errors.append(exc)
            finally:
                todo.task_done()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    todo.join()
    for thread in pool:
        thread.join()
    assert not errors
    return ran[0]


def fold(events: list[Any]) -> dict[str, dict[str, Any]]:
    """Each incident's last call.* event: what the calls table must hold."""
    calls: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.type.startswith("call."):
            calls[event.data["call"]["incident_number"]] = {"id": event.id, "call": event.data["call"]}
    return calls


def scan(aws: AwsWorld, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in aws.ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend(page["Items"])
    return items


def without_geo(calls: dict[str, Call]) -> dict[str, dict[str, Any]]:
    return {n: {**c.to_dict(), "geo": None} for n, c in calls.items()}


def test_racing_writers_keep_every_commit_in_id_order(
    aws: AwsWorld, recorded: Recorded, tmp_path: Path
) -> None:
    rng = random.Random(13)
    at0 = recorded[0][0]
    tracker_rt = aws.runtime()
    locator_rt = aws.runtime(clock=Clock(at0), locator=FakeLocator())
    for at, rows in recorded:
        archive_raw(tracker_rt.archive, encode_snapshot(rows), at)
    tracker_records = [r for r in aws.receive(aws.tracker_queue)["Records"] if "TestEvent" not in r["body"]]
    locator_records = [r for r in aws.receive(aws.locator_queue)["Records"] if "TestEvent" not in r["body"]]
    assert len(tracker_records) == len(locator_records) == len(recorded)

    committed: list[int] = []  # first ids of the batches whose transaction returned success
    for rt in (tracker_rt, locator_rt):
        _record_commits(rt, committed)

    def run_trackers() -> None:
        race(batches(tracker_records, rng), lambda e: handle_tracker(tracker_rt, e), TRACKERS)

    def run_locators() -> None:
        race(batches(locator_records, rng), lambda e: handle_locator(locator_rt, e), LOCATORS)

    roles = [threading.Thread(target=run_trackers), threading.Thread(target=run_locators)]
    for thread in roles:
        thread.start()
    for thread in roles:
        thread.join()

    store = tracker_rt.store
    events = store.events_after(0, limit=100_000)
    ids = [e.id for e in events]
    assert ids == list(range(1, store.last_event_id() + 1))  # contiguous, none lost
    batch_items = scan(aws, aws.names.events)
    assert sorted(committed) == sorted(int(i["first_id"]["N"]) for i in batch_items)  # reported = kept
    assert {e.type for e in events} >= {"call.opened", "call.updated", "location.resolved"}
    located = [e.location_key for e in events if e.type == "location.resolved"]
    assert len(located) == len(set(located))  # each answer announced once, however often delivered

    # commit order (the stream) is id order: each batch starts right after the one before
    streamed = [decode_batch(r["dynamodb"]["NewImage"]) for r in aws.stream_event()["Records"]]
    assert [e.id for batch in streamed for e in batch] == ids

    # the calls table is the fold of the event log, open and closed calls alike
    expected = fold(events)
    items = {i["incident_number"]["S"]: i for i in scan(aws, aws.names.calls)}
    assert set(items) == set(expected)
    for number, item in items.items():
        assert json.loads(item["data"]["S"]) == expected[number]["call"]
        assert int(item["event_id"]["N"]) == expected[number]["id"]
        assert ("open_shard" in item) == (expected[number]["call"]["closed_at"] is None)

    # the tracker applied an increasing subsequence of the snapshots, each once, and its state is
    # what the one-machine runtime computes from that subsequence
    applied = sorted(
        (p.started_at, p.snapshot_key) for p in store.recent_polls(50) if p.source == "aws:tracker"
    )
    keys = [k for _, k in applied]
    assert len(keys) == len(set(keys)) >= 2
    by_key = {f"raw/{at:%Y/%m/%d/%H%M%SZ}.json.gz": (at, rows) for at, rows in recorded}
    one = SqliteStore(tmp_path / "one.sqlite3")
    pipeline = Pipeline(one, LocalObjectStore(tmp_path / "one"))
    for key in keys:
        at, rows = by_key[key]
        pipeline.process(rows, at, "test", key)
    assert without_geo(store.load_tracker().calls) == without_geo(one.open_calls())
    assert without_geo(store.open_calls()) == without_geo(one.open_calls())


def _record_commits(rt: Runtime, committed: list[int]) -> None:
    """Note the first id of every event batch whose transaction DynamoDB acknowledged."""
    real = rt.store.transact

    def transact(actions: list[dict[str, Any]]) -> None:
        real(actions)
        committed.extend(
            int(a["Put"]["Item"]["first_id"]["N"])
            for a in actions
            if "Put" in a and a["Put"]["TableName"] == rt.store.names.events
        )

    rt.store.transact = transact  # type: ignore[method-assign]
