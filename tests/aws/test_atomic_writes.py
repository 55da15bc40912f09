"""Every write of the AWS path is atomic or idempotent: a ``TransactionConflict`` is retried like a
lost race, and the locator's cache writes and their ``location.resolved`` events commit together.
Faults are injected into the real DynamoDB Local requests (the response AWS would send instead)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from dallas_calls.archive.keys import raw_key
from dallas_calls.archive.store import encode_snapshot
from dallas_calls.aws.handlers import locate_snapshot, track_snapshot
from dallas_calls.pipeline import archive_raw
from dallas_calls.storage.dynamodb_schema import is_conditional_failure, is_write_conflict
from tests.aws.conftest import AwsWorld, Clock, FakeLocator

pytestmark = pytest.mark.aws

Recorded = list[tuple[datetime, list[Any]]]


class _Response:
    status_code = 400
    headers: dict[str, str] = {}  # noqa: RUF012 - read only, as botocore reads it


def cancelled(*reasons: str) -> dict[str, Any]:
    """The parsed error of a cancelled ``TransactWriteItems``, as DynamoDB returns it."""
    return {
        "Error": {
            "Code": "TransactionCanceledException",
            "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{', '.join(reasons)}]",
        },
        "CancellationReasons": [{"Code": r} for r in reasons],
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }


@contextmanager
def failing(client: Any, operation: str, errors: list[dict[str, Any]]) -> Iterator[list[str]]:
    """The next ``len(errors)`` calls of ``operation`` get these error responses instead of reaching
    the server; later calls go through. Yields the list of calls seen."""
    seen: list[str] = []

    def inject(**_kwargs: Any) -> tuple[_Response, dict[str, Any]] | None:
        seen.append(operation)
        return (_Response(), errors.pop(0)) if errors else None

    event = f"before-call.dynamodb.{operation}"
    client.meta.events.register(event, inject)
    try:
        yield seen
    finally:
        client.meta.events.unregister(event, inject)


def test_conflict_codes_are_told_apart() -> None:
    from botocore.exceptions import ClientError

    conflict = ClientError(cancelled("None", "TransactionConflict"), "TransactWriteItems")  # type: ignore[arg-type]
    lost = ClientError(cancelled("ConditionalCheckFailed", "None"), "TransactWriteItems")  # type: ignore[arg-type]
    single = ClientError({"Error": {"Code": "TransactionConflictException"}}, "UpdateItem")
    throttled = ClientError(cancelled("ThrottlingError"), "TransactWriteItems")  # type: ignore[arg-type]
    assert is_write_conflict(conflict) and not is_conditional_failure(conflict)
    assert is_conditional_failure(lost) and not is_write_conflict(lost)
    assert is_write_conflict(single)
    assert not is_write_conflict(throttled) and not is_conditional_failure(throttled)


def test_the_tracker_retries_a_transaction_conflict(aws: AwsWorld, recorded: Recorded) -> None:
    rt = aws.runtime()
    at, rows = recorded[0]
    archive_raw(rt.archive, encode_snapshot(rows), at)
    with failing(aws.ddb, "TransactWriteItems", [cancelled("None", "TransactionConflict", "None")]) as seen:
        result = track_snapshot(rt, raw_key(at))
    assert result["outcome"] == "ok" and result["attempts"] == 2 and len(seen) == 2
    events = rt.store.events_after(0)
    assert [e.id for e in events] == list(range(1, result["opened"] + 1))
    assert rt.store.load_tracker().snapshot_key == raw_key(at)


def test_the_locator_retries_a_transaction_conflict(aws: AwsWorld, recorded: Recorded) -> None:
    at, rows = recorded[0]
    rt = aws.runtime(clock=Clock(at), locator=FakeLocator())
    _, key = archive_raw(rt.archive, encode_snapshot(rows), at)
    with failing(aws.ddb, "TransactWriteItems", [cancelled("TransactionConflict", "None")]):
        result = locate_snapshot(rt, key)
    events = rt.store.events_after(0)
    assert result["located"] == len(events) > 0
    assert len({e.location_key for e in events}) == len(events)  # each key announced once


def test_a_locator_failure_leaves_no_answer_without_its_event(aws: AwsWorld, recorded: Recorded) -> None:
    """The commit fails for good (not a conflict): nothing is cached, so the redelivered message
    locates the keys again and their events are emitted, instead of a cached answer that no event
    ever announces."""
    at, rows = recorded[0]
    rt = aws.runtime(clock=Clock(at), locator=FakeLocator())
    _, key = archive_raw(rt.archive, encode_snapshot(rows), at)
    broken = {"Error": {"Code": "InternalServerError", "Message": "boom"}, "ResponseMetadata": {}}
    with failing(aws.ddb, "TransactWriteItems", [broken] * 20), pytest.raises(Exception, match="boom"):
        locate_snapshot(rt, key)
    keys = {k for _, k in _location_keys(rows)}
    assert rt.store.fresh_locations(keys, "2019-06-18T05:00:00Z") == set()
    assert rt.store.last_event_id() == 0

    again = locate_snapshot(rt, key)  # SQS redelivers the message
    events = rt.store.events_after(0)
    assert again["located"] == len(events) > 0
    located = {e.location_key for e in events}
    assert located <= rt.store.fresh_locations(keys, "2019-06-18T05:00:00Z")
    for location_key in located:  # each cached point is announced by exactly the event that wrote it
        item = aws.ddb.get_item(TableName=aws.names.locations, Key={"location_key": {"S": location_key}})
        ids = [int(n) for n in item["Item"]["event_ids"]["NS"]]
        assert [e.location_key for e in events if e.id in ids] == [location_key]


def _location_keys(rows: list[Any]) -> list[tuple[str, str]]:
    from dallas_calls.feed.schema import parse_rows
    from dallas_calls.tracking.snapshot import group_rows

    parsed, _ = parse_rows(rows)
    return [(n, c.location_key) for n, c in group_rows(parsed).items()]
