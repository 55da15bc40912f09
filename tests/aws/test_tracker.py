"""The tracker handler under redelivery, out-of-order delivery, races and crashes; the publisher and
downloader failure paths; the DynamoDB adapter's TTL and index reads. All over HTTP against moto."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.archive.keys import raw_key
from dallas_calls.archive.store import LocalObjectStore, decode_changes, encode_snapshot
from dallas_calls.aws.handlers import (
    Runtime,
    handle_download,
    handle_publisher,
    handle_tracker,
    s3_keys,
    track_snapshot,
)
from dallas_calls.model import Geo, NewEvent
from dallas_calls.pipeline import Pipeline, archive_raw
from dallas_calls.storage.dynamodb import Conflict, DynamoStore, TrackerState
from dallas_calls.storage.sqlite import SqliteStore
from tests.aws.conftest import AwsWorld, Clock, RunningApi
from tests.fakes.socrata import FakeSocrata

pytestmark = pytest.mark.aws

Recorded = list[tuple[datetime, list[Any]]]


def upload(aws: AwsWorld, rt: Runtime, at: datetime, rows: list[Any]) -> dict[str, Any]:
    """Archive a snapshot (as the downloader does) and return the SQS event it caused."""
    archive_raw(rt.archive, encode_snapshot(rows), at)
    event = aws.receive(aws.tracker_queue)
    return {"Records": [r for r in event["Records"] if s3_keys(r)]}


def expected_after(tmp_path: Path, snapshots: Recorded) -> SqliteStore:
    """The one-machine runtime's state after processing these snapshots in this order."""
    store = SqliteStore(tmp_path / f"expected-{len(snapshots)}.sqlite3")
    pipeline = Pipeline(store, LocalObjectStore(tmp_path / "expected-archive"))
    for at, rows in snapshots:
        pipeline.process(rows, at, "test", raw_key(at))
    return store


def outcomes(rt: Runtime, event: dict[str, Any]) -> list[dict[str, Any]]:
    from dallas_calls.aws.handlers import _snapshot_keys

    return [track_snapshot(rt, key) for record in event["Records"] for key in _snapshot_keys(rt, record)]


def test_redelivered_message_applies_once(aws: AwsWorld, recorded: Recorded, tmp_path: Path) -> None:
    rt = aws.runtime()
    first = upload(aws, rt, *recorded[0])
    second = upload(aws, rt, *recorded[1])
    assert handle_tracker(rt, first) == {"batchItemFailures": []}
    assert handle_tracker(rt, second) == {"batchItemFailures": []}
    last_id = rt.store.last_event_id()
    state = rt.store.load_tracker()

    assert [o["outcome"] for o in outcomes(rt, second)] == ["duplicate"]  # SQS at-least-once
    assert [o["outcome"] for o in outcomes(rt, first)] == ["stale"]
    assert rt.store.last_event_id() == last_id
    assert rt.store.load_tracker().version == state.version
    expected = expected_after(tmp_path, recorded[:2])
    assert rt.store.open_calls() == expected.open_calls()
    assert [e.to_dict() for e in rt.store.events_after(0)] == [e.to_dict() for e in expected.events_after(0)]


def test_out_of_order_snapshot_is_skipped_and_cannot_roll_state_back(
    aws: AwsWorld, recorded: Recorded, tmp_path: Path
) -> None:
    rt = aws.runtime()
    messages = [upload(aws, rt, *recorded[i]) for i in (0, 1, 2)]
    assert handle_tracker(rt, messages[0]) == {"batchItemFailures": []}
    assert handle_tracker(rt, messages[2]) == {"batchItemFailures": []}
    late = outcomes(rt, messages[1])
    assert late[0]["outcome"] == "stale"
    assert "already applied up to raw/2019/06/18/052500Z.json.gz" in late[0]["reason"]
    expected = expected_after(tmp_path, [recorded[0], recorded[2]])
    assert rt.store.open_calls() == expected.open_calls()
    assert rt.store.load_tracker().snapshot_key == raw_key(recorded[2][0])


def test_a_batch_is_applied_in_fetch_time_order(aws: AwsWorld, recorded: Recorded, tmp_path: Path) -> None:
    rt = aws.runtime()
    messages = [upload(aws, rt, *recorded[i]) for i in range(4)]
    shuffled = {"Records": [messages[i]["Records"][0] for i in (3, 1, 0, 2)]}
    assert handle_tracker(rt, shuffled) == {"batchItemFailures": []}
    expected = expected_after(tmp_path, recorded[:4])
    assert [e.to_dict() for e in rt.store.events_after(0)] == [e.to_dict() for e in expected.events_after(0)]


def test_failure_defers_the_newer_snapshots_of_the_batch(aws: AwsWorld, recorded: Recorded) -> None:
    rt = aws.runtime()
    messages = [upload(aws, rt, *recorded[i]) for i in range(3)]
    rt.archive.client.delete_object(Bucket=rt.archive.bucket, Key=raw_key(recorded[1][0]))  # unreadable
    batch = {"Records": [m["Records"][0] for m in messages]}
    failed = handle_tracker(rt, batch)["batchItemFailures"]
    ids = [m["Records"][0]["messageId"] for m in messages]
    assert [f["itemIdentifier"] for f in failed] == [ids[1], ids[2]]
    assert rt.store.load_tracker().snapshot_key == raw_key(recorded[0][0])


def test_tracker_retries_after_losing_the_counter_to_the_locator(aws: AwsWorld, recorded: Recorded) -> None:
    """A location event committed between the tracker's read and its commit moves the counter: the
    tracker retries, sees the new cache entry, and its events come after, in id order."""
    rt = aws.runtime()
    store = rt.store
    raced: list[int] = []
    original = store.get_location

    def racing_lookup(key: str, now: str) -> Geo | None:
        if not raced:
            geo = Geo(32.78, -96.8, "address", "test", True, 1)
            store.put_location(key, geo, "2099-01-01T00:00:00Z")
            raced.extend(
                e.id
                for e in store.append_events(
                    [
                        NewEvent(
                            "location.resolved",
                            now,
                            {"location_key": key, "geo": geo.to_dict(), "incident_numbers": []},
                            location_key=key,
                        )
                    ]
                )
            )
        return original(key, now)

    store.get_location = racing_lookup  # type: ignore[method-assign]
    message = upload(aws, rt, *recorded[0])
    result = outcomes(rt, message)[0]
    assert result["attempts"] == 2
    assert raced == [1]
    events = store.events_after(0)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    opened = [e for e in events if e.type == "call.opened"]
    located = [e for e in opened if e.data["call"]["geo"] is not None]
    assert len(located) >= 1  # the call at the raced key carries the geo in its first event


def test_stale_tracker_state_cannot_commit(aws: AwsWorld, recorded: Recorded) -> None:
    rt = aws.runtime()
    handle_tracker(rt, upload(aws, rt, *recorded[0]))
    with pytest.raises(Conflict):  # a second tracker that read the state before the first committed
        from dallas_calls.model import ChangeSet, PollRecord

        rt.store.commit_poll(
            TrackerState(),
            0,
            ChangeSet(),
            PollRecord(started_at="2019-06-18T05:30:00Z", outcome="ok"),
            (),
            (),
            recorded[0][0],
        )


def test_crash_before_materializing_is_repaired(aws: AwsWorld, recorded: Recorded, tmp_path: Path) -> None:
    rt = aws.runtime()
    message = upload(aws, rt, *recorded[0])
    real = rt.store.materialize

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Lambda timed out")

    rt.store.materialize = crash  # type: ignore[method-assign]
    failed = handle_tracker(rt, message)["batchItemFailures"]
    assert len(failed) == 1  # SQS will redeliver it
    assert rt.store.open_calls() == {}  # committed, not yet materialized
    rt.store.materialize = real  # type: ignore[method-assign]
    assert [o["outcome"] for o in outcomes(rt, message)] == ["duplicate"]  # redelivery: repair, no re-apply
    expected = expected_after(tmp_path, recorded[:1])
    assert rt.store.open_calls() == expected.open_calls()


def test_messages_that_are_not_snapshots(aws: AwsWorld) -> None:
    rt = aws.runtime()
    test_event = {
        "Records": [
            {
                "messageId": "t",
                "body": json.dumps(
                    {
                        "Type": "Notification",
                        "Message": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}),
                    }
                ),
            }
        ]
    }
    assert handle_tracker(rt, test_event) == {"batchItemFailures": []}
    other_key = {
        "Records": [
            {
                "messageId": "o",
                "body": json.dumps(
                    {
                        "Records": [
                            {
                                "eventName": "ObjectCreated:Put",
                                "s3": {"object": {"key": "changes%2Fx+y.jsonl.gz"}},
                            }
                        ]
                    }
                ),
            }
        ]
    }
    assert handle_tracker(rt, other_key) == {"batchItemFailures": []}
    garbage = {"Records": [{"messageId": "g", "body": "not json"}]}
    assert handle_tracker(rt, garbage) == {"batchItemFailures": [{"itemIdentifier": "g"}]}


def test_keys_from_notifications_are_url_decoded() -> None:
    body = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "in%2Fa+b%3A.json"}}}]}
    assert s3_keys({"body": json.dumps(body)}) == ["in/a b:.json"]


def test_publisher_reports_the_failed_record_and_is_idempotent(
    aws: AwsWorld, recorded: Recorded, tmp_path: Path
) -> None:
    rt = aws.runtime(api_url="http://127.0.0.1:9")  # nothing listens there
    for at, rows in recorded[:2]:
        handle_tracker(rt, upload(aws, rt, at, rows))
    stream = aws.stream_event()
    assert len(stream["Records"]) == 2
    result = handle_publisher(rt, stream)
    first_sequence = stream["Records"][0]["dynamodb"]["SequenceNumber"]
    assert result == {"batchItemFailures": [{"itemIdentifier": first_sequence}]}

    from dallas_calls.config import Settings
    from tests.aws.conftest import TOKEN

    settings = Settings(data_dir=tmp_path / "api", ingest_token=TOKEN, geocode=False, rate_limit_per_min=0)
    with RunningApi(settings, SqliteStore(tmp_path / "api.sqlite3")) as api:
        rt.config = dataclasses.replace(rt.config, api_url=api.url)
        assert handle_publisher(rt, stream) == {"batchItemFailures": []}
        assert handle_publisher(rt, stream) == {"batchItemFailures": []}  # the stream redelivers
        import httpx

        body = httpx.get(api.url + "/current-calls/").json()
    assert body["last_event_id"] == rt.store.last_event_id()
    records = list(rt.archive.list("changes/"))
    assert len(records) == 2
    ids = [e["id"] for key in records for e in decode_changes(rt.archive.get(key))]
    assert ids == list(range(1, rt.store.last_event_id() + 1))  # written twice, each event once


def test_publisher_refused_by_the_api_fails_without_retrying(
    aws: AwsWorld, recorded: Recorded, tmp_path: Path
) -> None:
    from dallas_calls.config import Settings

    settings = Settings(data_dir=tmp_path / "api", ingest_token="other", geocode=False, rate_limit_per_min=0)
    with RunningApi(settings, SqliteStore(tmp_path / "api.sqlite3")) as api:
        rt = aws.runtime(api_url=api.url)
        handle_tracker(rt, upload(aws, rt, *recorded[0]))
        stream = aws.stream_event()
        assert handle_publisher(rt, stream)["batchItemFailures"] == [
            {"itemIdentifier": stream["Records"][0]["dynamodb"]["SequenceNumber"]}
        ]


def test_failed_download_is_recorded_and_raised(aws: AwsWorld) -> None:
    from tests.fakes.socrata import ServerError

    with FakeSocrata([[]]) as feed:
        feed.inject(ServerError(503))
        rt = aws.runtime(feed_url=feed.url)
        with pytest.raises(Exception, match="503"):
            handle_download(rt)
    polls = rt.store.recent_polls()
    assert polls[0].outcome == "failed" and "503" in (polls[0].reason or "")
    assert list(rt.archive.list("raw/")) == []


def test_closed_calls_expire_and_readers_skip_them(aws: AwsWorld, recorded: Recorded) -> None:
    clock = Clock()
    rt = aws.runtime(clock=clock)
    for at, rows in recorded[:3]:
        handle_tracker(rt, upload(aws, rt, at, rows))
    closed = [e.data["call"] for e in rt.store.events_after(0) if e.type == "call.closed"]
    assert closed
    number = closed[0]["incident_number"]
    item = aws.ddb.get_item(TableName=aws.names.calls, Key={"incident_number": {"S": number}})["Item"]
    assert "open_shard" not in item  # out of the sparse open-calls index
    expires = int(item["expires_at"]["N"])
    closed_at = datetime.fromisoformat(closed[0]["closed_at"].replace("Z", "+00:00"))
    assert expires == int((closed_at + timedelta(days=30)).timestamp())
    ttl = aws.ddb.describe_time_to_live(TableName=aws.names.calls)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"

    clock.at = closed_at + timedelta(days=29)
    assert rt.store.get_call(number) is not None
    clock.at = closed_at + timedelta(days=31)  # moto never deletes: the reader must skip it
    assert rt.store.get_call(number) is None
    assert number not in {
        c.incident_number for c in rt.store.calls_between("2019-06-18T00:00:00Z", "2019-06-19T00:00:00Z")
    }


def test_expired_geocodes_are_not_served(aws: AwsWorld) -> None:
    store: DynamoStore = aws.runtime().store
    geo = Geo(32.7, -96.8, "address", "test", True)
    store.put_location("1 MAIN ST", geo, "2019-06-18T06:00:00Z")
    assert store.get_location("1 MAIN ST", "2019-06-18T05:59:59Z") == geo
    assert store.get_location("1 MAIN ST", "2019-06-18T06:00:00Z") is None
    assert store.fresh_locations(["1 MAIN ST", "2 ELM ST"], "2019-06-18T05:00:00Z") == {"1 MAIN ST"}


def test_open_calls_are_read_with_a_query_of_the_sparse_index(aws: AwsWorld, recorded: Recorded) -> None:
    rt = aws.runtime()
    handle_tracker(rt, upload(aws, rt, *recorded[0]))
    calls: list[str] = []

    def count(params: Any, **kwargs: Any) -> None:
        calls.append(kwargs["event_name"].rsplit(".", 1)[-1])

    rt.store.client.meta.events.register("before-call.dynamodb.*", count)
    try:
        assert len(rt.store.open_calls()) == 38
    finally:
        rt.store.client.meta.events.unregister("before-call.dynamodb.*", count)
    assert "Scan" not in calls and calls.count("Query") == 4
