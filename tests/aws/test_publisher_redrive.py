"""The publisher's retry budget ends in its DLQ, and a dead-lettered batch can be redriven: its
change record is written and its events POSTed again (the API skips them if newer ids went through;
replicas read such a range from the store)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dallas_calls.archive.store import decode_changes, encode_snapshot
from dallas_calls.aws.handlers import handle_publisher, handle_redrive, handle_tracker
from dallas_calls.config import Settings
from dallas_calls.pipeline import archive_raw
from dallas_calls.storage.dynamodb import decode_batch
from dallas_calls.storage.sqlite import SqliteStore
from tests.aws.conftest import TOKEN, AwsWorld, RunningApi
from tests.aws.mappings import StreamMapping

pytestmark = pytest.mark.aws

Recorded = list[tuple[datetime, list[Any]]]


def archived_ids(rt: Any) -> list[int]:
    return sorted(e["id"] for key in rt.archive.list("changes/") for e in decode_changes(rt.archive.get(key)))


def test_a_dead_lettered_batch_is_redriven(aws: AwsWorld, recorded: Recorded, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "api", ingest_token=TOKEN, geocode=False, rate_limit_per_min=0)
    with RunningApi(settings, SqliteStore(tmp_path / "api.sqlite3")) as api:
        rt = aws.runtime(api_url=api.url)
        rt.streams = aws.streams
        for at, rows in recorded[:2]:
            archive_raw(rt.archive, encode_snapshot(rows), at)
        handle_tracker(rt, aws.receive(aws.tracker_queue))
        second = rt.store.load_tracker().last_batch  # the first id of the second poll's batch

        def publisher(event: dict[str, Any]) -> dict[str, Any]:
            """The API is unreachable for the first batch only (say, during a deploy)."""
            head = event["Records"][0]["dynamodb"]
            if decode_batch(head["NewImage"])[0].id == 1:
                return {"batchItemFailures": [{"itemIdentifier": head["SequenceNumber"]}]}
            return handle_publisher(rt, event)

        mapping = StreamMapping(aws.streams, aws.stream_arn, publisher, maximum_retry_attempts=3)
        while mapping.poll():
            pass
        assert mapping.retries == 0 and len(mapping.dead_lettered) == 1  # given up after 3 retries
        last = rt.store.last_event_id()
        assert httpx.get(api.url + "/current-calls/").json()["last_event_id"] == last
        assert archived_ids(rt) == list(range(second, last + 1))

        dlq_messages = {"Records": [{"messageId": "m1", "body": json.dumps(mapping.dead_lettered[0])}]}
        assert handle_redrive(rt, dlq_messages) == {"batchItemFailures": []}
        assert archived_ids(rt) == list(range(1, last + 1))  # the change archive is whole again
        assert httpx.get(api.url + "/current-calls/").json()["last_event_id"] == last

        garbage = {"Records": [{"messageId": "m2", "body": "{}"}]}
        assert handle_redrive(rt, garbage) == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
