"""``call_facts_between`` on DynamoDB Local: the narrow read (a ProjectionExpression on the
``by_day`` index) gives the same facts as SQLite for the same calls, across UTC days, skips expired
items, and still reads items written before the ``facts`` attribute existed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dallas_calls.model import Call, ChangeSet, Event, PollRecord, Unit, call_facts
from dallas_calls.storage.dynamodb import DynamoStore, TableNames, create_tables, dynamodb_client
from dallas_calls.storage.sqlite import SqliteStore

pytestmark = pytest.mark.aws
WINDOW = ("2025-01-01T00:00:00Z", "2025-01-04T00:00:00Z")


def _call(number: str, first_seen: str, closed_at: str | None = None, **fields: object) -> Call:
    return Call(
        incident_number=number,
        division="CENTRAL",
        nature_of_call="40/01 - OTHER",
        priority=2,
        received_at=None,
        block="100",
        location="MAIN ST",
        beat="111",
        reporting_area=None,
        status="At Scene",
        units=(Unit("B1", None),),
        location_key="100 MAIN ST|DALLAS",
        first_seen=first_seen,
        last_seen=closed_at or first_seen,
        closed_at=closed_at,
    ).with_changes(**fields)


CALLS = [
    _call("25-1", "2025-01-01T05:00:00Z", "2025-01-01T06:10:00Z"),
    _call("25-2", "2025-01-01T23:59:00Z", division=None, priority=None, beat=None),
    _call("25-3", "2025-01-02T00:01:00Z", "2025-01-02T00:05:00Z", nature_of_call="40 - OTHER"),
    _call("25-4", "2025-01-03T23:59:59Z", priority=1),
    _call("25-5", "2025-01-04T00:00:00Z"),  # at the end of the window: left out
    _call("25-6", "2024-12-31T23:59:59Z"),  # before it
]


@pytest.fixture
def dynamo(dynamodb_url: str) -> Iterator[DynamoStore]:
    client = dynamodb_client(dynamodb_url)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = TableNames(*(f"{prefix}-{t}" for t in ("calls", "locations", "meta", "events")))
    create_tables(client, names)
    # closed calls expire 30 days after closing: keep the clock near the calls
    yield DynamoStore(names, client=client, clock=lambda: datetime(2025, 1, 5, tzinfo=UTC))
    for name in (names.calls, names.locations, names.meta, names.events):
        client.delete_table(TableName=name)


def _materialize(store: DynamoStore, calls: list[Call]) -> None:
    store.materialize(
        [
            Event(i, "call.closed" if c.closed_at else "call.opened", c.first_seen, {"call": c.to_dict()})
            for i, c in enumerate(calls, start=1)
        ]
    )


def test_dynamodb_gives_the_same_facts_as_sqlite(dynamo: DynamoStore, tmp_path: Path) -> None:
    _materialize(dynamo, CALLS)
    sqlite = SqliteStore(tmp_path / "s.sqlite3")
    sqlite.apply(ChangeSet(opened=tuple(CALLS)), PollRecord("2025-01-01T05:00:00Z", "ok"))
    expected = sorted(call_facts(c) for c in CALLS[:4])
    assert (
        sorted(dynamo.call_facts_between(*WINDOW)) == sorted(sqlite.call_facts_between(*WINDOW)) == expected
    )
    assert dynamo.call_facts_between("2025-01-02T00:00:00Z", "2025-01-02T00:01:00Z") == []


def test_the_read_asks_for_the_facts_only(dynamo: DynamoStore) -> None:
    _materialize(dynamo, CALLS[:1])
    asked: list[dict[str, object]] = []
    query = dynamo.client.query

    def spy(**kwargs: object) -> object:
        asked.append(kwargs)
        return query(**kwargs)

    dynamo.client.query = spy  # type: ignore[method-assign]
    try:
        assert dynamo.call_facts_between(*WINDOW) == [call_facts(CALLS[0])]
    finally:
        dynamo.client.query = query  # type: ignore[method-assign]
    assert asked and all(a["IndexName"] == "by_day" and "ProjectionExpression" in a for a in asked)


def test_expired_items_are_skipped_and_old_items_without_facts_are_read_whole(
    dynamo: DynamoStore,
) -> None:
    _materialize(dynamo, CALLS[:2])
    legacy = CALLS[2]
    dynamo.client.put_item(
        TableName=dynamo.names.calls,
        Item={
            "incident_number": {"S": legacy.incident_number},
            "data": {"S": json.dumps(legacy.to_dict())},
            "first_seen": {"S": legacy.first_seen},
            "seen_day": {"S": legacy.first_seen[:10]},
            "closed_at": {"S": str(legacy.closed_at)},
            "event_id": {"N": "9"},
        },
    )
    dynamo.client.update_item(
        TableName=dynamo.names.calls,
        Key={"incident_number": {"S": "25-1"}},
        UpdateExpression="SET expires_at = :e",
        ExpressionAttributeValues={":e": {"N": "1000"}},  # long past: DynamoDB has not deleted it yet
    )
    assert sorted(dynamo.call_facts_between(*WINDOW)) == sorted(call_facts(c) for c in CALLS[1:3])
