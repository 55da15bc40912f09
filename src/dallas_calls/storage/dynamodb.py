"""DynamoDB adapter of the state-store port: the AWS runtime's state, events and geocode cache.

Four tables (names configurable, see :class:`TableNames`; :func:`table_definitions` gives their exact
key schema, indexes, streams and TTL for Terraform and for tests):

``meta`` (PK ``name``)
    ``counter``: ``value`` = the last event id given out. ``tracker``: the tracker's high-water mark
    (``fetched_at`` / ``snapshot_key`` of the last applied snapshot), ``held`` (the guard's memory),
    ``version`` (an optimistic lock), ``state`` (gzip JSON of every open call exactly as the tracker
    left it, last_seen included), the recent poll log and the last poll's quarantined rows.
    ``last_failure``: the newest failed poll (written by the downloader).
``events`` (PK ``log`` = ``"events"``, SK ``first_id``; stream NEW_IMAGE; TTL ``expires_at``)
    The event log, one item per *batch*: the events of one tracker poll or one locator run, gzip JSONL
    in ``body``, ids ``first_id..last_id``. The publisher reads this table's stream.
``calls`` (PK ``incident_number``; TTL ``expires_at``)
    The read model of every call (``data`` = the call's JSON). ``open_shard`` is present only while a
    call is open, so the sparse GSI ``open`` (PK ``open_shard``, SK ``incident_number``) holds exactly
    the open calls: :meth:`DynamoStore.open_calls` Queries its ``OPEN_SHARDS`` partitions, never Scans.
    A closed call gets ``expires_at`` (epoch seconds) and DynamoDB deletes it after ``closed_ttl``;
    until it does, readers skip it. GSI ``by_day`` (PK ``seen_day``, SK ``first_seen``) serves /history.
``locations`` (PK ``location_key``; TTL ``expires_at``)
    The geocode cache. Readers skip expired items (DynamoDB deletes them up to days late).

Why the events live in their own table, one partition, in batches
    The API's ``POST /events/`` skips any id at or below the newest it has seen, so events must reach
    it in id order. DynamoDB Streams order records per partition key only; events derived from the
    calls table's stream (one partition per incident) would arrive out of order across shards. A
    single ``log`` partition gives one ordered stream. And an id taken with a bare atomic ``ADD``
    could be committed *after* a higher id taken by a concurrent writer (tracker vs locator), which the
    API would then drop. So ids are taken by compare-and-set of the counter *inside* the transaction
    that writes the batch: commit order is id order, and a writer that loses the race retries.
    Batching keeps one poll in one item (atomic, one stream record, one S3 change record, one POST).
    Event volume (a few per second at most) is far below one partition's limits.

The commit point of a poll is one ``TransactWriteItems``: counter CAS + the event batch + the
tracker item (conditional on its ``version``, so a concurrent or redelivered snapshot cannot apply
twice, and on the high-water mark, so an older snapshot cannot roll state back). State and events
change together, as the design demands. The ``calls`` table is then *materialized* from the batch
with conditional updates (``event_id < :id``), which are idempotent and never go backwards; a crash
between the two is repaired before the next snapshot is applied (``materialized < last_id``).
"""

from __future__ import annotations

import gzip
import json
import logging
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dallas_calls.archive.store import decode_changes, encode_changes
from dallas_calls.events.encode import changeset_events, event_from_dict
from dallas_calls.model import Call, ChangeSet, Event, Geo, NewEvent, PollRecord, QuarantinedRow
from dallas_calls.tracking.state import CallsInMemory, OpenCalls

log = logging.getLogger(__name__)

OPEN_SHARDS = 4
OPEN_INDEX = "open"
DAY_INDEX = "by_day"
LOG_PARTITION = "events"
COUNTER = "counter"
TRACKER = "tracker"
LAST_FAILURE = "last_failure"
MAX_BATCH_BYTES = 300_000  # an item may hold 400 KB; a bigger batch is split (same transaction)
RECENT_POLLS = 50
QUARANTINE_KEPT = 100
DEFAULT_CLOSED_TTL = timedelta(days=30)
DEFAULT_EVENT_TTL = timedelta(days=7)
WRITE_THREADS = 16

Item = dict[str, Any]


class Conflict(Exception):
    """Another writer committed first (the counter or the tracker item moved): reload and retry."""


class StaleSnapshot(Exception):
    """The snapshot is not newer than the tracker's high-water mark."""


@dataclass(frozen=True, slots=True)
class TableNames:
    calls: str = "dallas-calls-calls"
    locations: str = "dallas-calls-locations"
    meta: str = "dallas-calls-meta"
    events: str = "dallas-calls-events"


@dataclass(slots=True)
class TrackerState:
    """The tracker's memory, read with a consistent read. ``calls`` have their cached geo joined."""

    calls: dict[str, Call] = field(default_factory=dict)
    fetched_at: str | None = None  # high-water mark: poll time of the last applied snapshot
    snapshot_key: str | None = None
    held: bool = False
    version: int = 0
    last_batch: int = 0  # first id of the tracker's last batch (0: none)
    last_id: int = 0  # last id of the tracker's last batch
    materialized: int = 0  # the calls table reflects the tracker's batches up to this id
    polls: list[PollRecord] = field(default_factory=list)
    misses: dict[str, int] = field(default_factory=dict)  # open calls absent from recent snapshots


# -- attribute helpers -------------------------------------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def _str(item: Item, name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if isinstance(value, dict) and "S" in value else None


def _int(item: Item, name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if isinstance(value, dict) and "N" in value else default


def _bytes(item: Item, name: str) -> bytes | None:
    """A binary attribute: bytes from boto3, base64 text from a Lambda stream event."""
    value = item.get(name)
    if not isinstance(value, dict) or "B" not in value:
        return None
    raw = value["B"]
    if isinstance(raw, str):
        import base64

        return base64.b64decode(raw)
    return bytes(raw)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def open_shard(incident_number: str) -> int:
    return zlib.crc32(incident_number.encode()) % OPEN_SHARDS


def _poll_dict(poll: PollRecord) -> dict[str, Any]:
    return {
        "started_at": poll.started_at,
        "outcome": poll.outcome,
        "rows": poll.rows,
        "quarantined": poll.quarantined,
        "duration_ms": poll.duration_ms,
        "reason": poll.reason,
        "source": poll.source,
        "snapshot_key": poll.snapshot_key,
        "counts": poll.counts,
    }


def _poll_from(data: dict[str, Any]) -> PollRecord:
    return PollRecord(**data)


def _is_conditional_failure(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = response.get("CancellationReasons") or []
        message = str(response.get("Error", {}).get("Message", ""))
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or (
            "ConditionalCheckFailed" in message
        )
    return False


def decode_batch(image: Item) -> list[Event]:
    """The events of one ``events`` item (a stream NewImage or a GetItem result)."""
    body = _bytes(image, "body")
    if body is None:
        return []
    return [event_from_dict(d) for d in decode_changes(body)]


def batch_archive_at(image: Item) -> datetime | None:
    """When the batch's change record is filed (the poll time for a tracker batch)."""
    text = _str(image, "archive_at")
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def dynamodb_client(endpoint_url: str | None = None) -> Any:
    """A DynamoDB client whose connection pool fits the materializing threads."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb", endpoint_url=endpoint_url, config=Config(max_pool_connections=WRITE_THREADS + 4)
    )


# -- schema ------------------------------------------------------------------------------------


def table_definitions(names: TableNames) -> list[dict[str, Any]]:
    """``create_table`` arguments for the four tables (on-demand billing). TTL is set separately:
    see :data:`TTL_ATTRIBUTE` and :func:`create_tables`."""
    on_demand = {"BillingMode": "PAY_PER_REQUEST"}
    return [
        {
            "TableName": names.calls,
            "KeySchema": [{"AttributeName": "incident_number", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "incident_number", "AttributeType": "S"},
                {"AttributeName": "open_shard", "AttributeType": "N"},
                {"AttributeName": "seen_day", "AttributeType": "S"},
                {"AttributeName": "first_seen", "AttributeType": "S"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": OPEN_INDEX,
                    "KeySchema": [
                        {"AttributeName": "open_shard", "KeyType": "HASH"},
                        {"AttributeName": "incident_number", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    "IndexName": DAY_INDEX,
                    "KeySchema": [
                        {"AttributeName": "seen_day", "KeyType": "HASH"},
                        {"AttributeName": "first_seen", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
            **on_demand,
        },
        {
            "TableName": names.locations,
            "KeySchema": [{"AttributeName": "location_key", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "location_key", "AttributeType": "S"}],
            **on_demand,
        },
        {
            "TableName": names.meta,
            "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "name", "AttributeType": "S"}],
            **on_demand,
        },
        {
            "TableName": names.events,
            "KeySchema": [
                {"AttributeName": "log", "KeyType": "HASH"},
                {"AttributeName": "first_id", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "log", "AttributeType": "S"},
                {"AttributeName": "first_id", "AttributeType": "N"},
            ],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            **on_demand,
        },
    ]


TTL_ATTRIBUTE = "expires_at"


def create_tables(client: Any, names: TableNames) -> None:
    """Create the tables and turn TTL on (for tests and local emulators; Terraform does it in AWS)."""
    for definition in table_definitions(names):
        client.create_table(**definition)
    for name in (names.calls, names.locations, names.events):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )


# -- the store ---------------------------------------------------------------------------------


class DynamoStore:
    """The StateStore port on DynamoDB. Thread-safe (boto3 clients are)."""

    def __init__(
        self,
        names: TableNames,
        client: Any = None,
        endpoint_url: str | None = None,
        closed_ttl: timedelta = DEFAULT_CLOSED_TTL,
        event_ttl: timedelta = DEFAULT_EVENT_TTL,
        seen_refresh_s: float = 0.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if client is None:
            client = dynamodb_client(endpoint_url)
        self.client: Any = client
        self.names = names
        self.closed_ttl = closed_ttl
        self.event_ttl = event_ttl
        self.seen_refresh_s = seen_refresh_s
        self.clock = clock

    def close(self) -> None:
        return None

    # -- reading the read model ----------------------------------------------------------------

    def _query(self, **kwargs: Any) -> Iterator[Item]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(**kwargs):
            yield from page.get("Items", [])

    def _expired(self, item: Item, now_epoch: int | None = None) -> bool:
        expires = _int(item, "expires_at", 0)
        return bool(expires) and expires <= (now_epoch or int(self.clock().timestamp()))

    def _geo_for(self, keys: Iterable[str]) -> dict[str, Geo]:
        """Located cached geocodes of these keys (as SQLite's join: any cached point with a lat)."""
        wanted = sorted(set(keys))
        found: dict[str, Geo] = {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self.names.locations: {
                    "Keys": [{"location_key": _s(k)} for k in wanted[start : start + 100]],
                    "ProjectionExpression": "location_key, geo",
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.names.locations, []):
                    geo = Geo.from_dict(json.loads(_str(item, "geo") or "{}"))
                    if geo.lat is not None:
                        found[str(_str(item, "location_key"))] = geo
                request = response.get("UnprocessedKeys") or {}
        return found

    def _with_geo(self, calls: Iterable[Call]) -> list[Call]:
        calls = list(calls)
        geos = self._geo_for(c.location_key for c in calls)
        return [c.with_changes(geo=geos.get(c.location_key, c.geo)) for c in calls]

    def _call_from_item(self, item: Item) -> Call:
        call = Call.from_dict(json.loads(_str(item, "data") or "{}"))
        return call.with_changes(last_seen=_str(item, "last_seen") or call.last_seen)

    def open_calls(self) -> dict[str, Call]:
        """Every open call, from a Query per shard of the sparse ``open`` index (eventually
        consistent: the API's read path; the tracker keeps its own consistent copy)."""
        calls = []
        for shard in range(OPEN_SHARDS):
            for item in self._query(
                TableName=self.names.calls,
                IndexName=OPEN_INDEX,
                KeyConditionExpression="open_shard = :s",
                ExpressionAttributeValues={":s": _n(shard)},
            ):
                calls.append(self._call_from_item(item))
        return {c.incident_number: c for c in self._with_geo(calls)}

    def get_call(self, incident_number: str) -> Call | None:
        item = self.client.get_item(
            TableName=self.names.calls, Key={"incident_number": _s(incident_number)}
        ).get("Item")
        if item is None or self._expired(item):
            return None
        return self._with_geo([self._call_from_item(item)])[0]

    def calls_by_number(self, incidents: Collection[str]) -> dict[str, Call]:
        """The calls among ``incidents`` that the read model holds, open or closed (until their TTL):
        how the tracker finds a closed call that came back. BatchGetItem, 100 keys a request."""
        wanted = sorted(set(incidents))
        found: list[Call] = []
        for start in range(0, len(wanted), 100):
            request: Item = {
                self.names.calls: {"Keys": [{"incident_number": _s(n)} for n in wanted[start : start + 100]]}
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.names.calls, []):
                    if not self._expired(item):
                        found.append(self._call_from_item(item))
                request = response.get("UnprocessedKeys") or {}
        return {c.incident_number: c for c in self._with_geo(found)}

    def calls_between(self, start: str, end: str, limit: int = 1000) -> list[Call]:
        """Calls first seen in [start, end), oldest first: a Query per day of the ``by_day`` index."""
        day = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC).date()
        last = datetime.fromisoformat(end.replace("Z", "+00:00")).astimezone(UTC).date()
        now_epoch = int(self.clock().timestamp())
        found: list[Call] = []
        while day <= last and len(found) < limit:
            for item in self._query(
                TableName=self.names.calls,
                IndexName=DAY_INDEX,
                KeyConditionExpression="seen_day = :d AND first_seen >= :s",
                ExpressionAttributeValues={":d": _s(day.isoformat()), ":s": _s(start)},
            ):
                first = _str(item, "first_seen") or ""
                if first >= end:
                    break
                if not self._expired(item, now_epoch):
                    found.append(self._call_from_item(item))
            day += timedelta(days=1)
        return self._with_geo(found[:limit])

    # -- the event log ---------------------------------------------------------------------------

    def last_event_id(self) -> int:
        item = self.client.get_item(
            TableName=self.names.meta, Key={"name": _s(COUNTER)}, ConsistentRead=True
        ).get("Item")
        return _int(item or {}, "value", 0)

    def _batches(self, after_id: int) -> Iterator[Item]:
        """Live batches that hold ids above ``after_id``, in id order."""
        now_epoch = int(self.clock().timestamp())
        before = self.client.query(
            TableName=self.names.events,
            KeyConditionExpression="#log = :p AND first_id <= :a",
            ExpressionAttributeNames={"#log": "log"},
            ExpressionAttributeValues={":p": _s(LOG_PARTITION), ":a": _n(after_id)},
            ScanIndexForward=False,
            Limit=1,
        ).get("Items", [])
        for item in before:
            if _int(item, "last_id") > after_id and not self._expired(item, now_epoch):
                yield item
        for item in self._query(
            TableName=self.names.events,
            KeyConditionExpression="#log = :p AND first_id > :a",
            ExpressionAttributeNames={"#log": "log"},
            ExpressionAttributeValues={":p": _s(LOG_PARTITION), ":a": _n(after_id)},
        ):
            if not self._expired(item, now_epoch):
                yield item

    def events_after(self, after_id: int, limit: int = 1000) -> list[Event]:
        found: list[Event] = []
        for item in self._batches(after_id):
            found.extend(e for e in decode_batch(item) if e.id > after_id)
            if len(found) >= limit:
                break
        return found[:limit]

    def first_event_id(self) -> int | None:
        for item in self._batches(0):
            return _int(item, "first_id")
        return None

    def _batch_holding(self, event_id: int) -> Item | None:
        items = self.client.query(
            TableName=self.names.events,
            KeyConditionExpression="#log = :p AND first_id <= :a",
            ExpressionAttributeNames={"#log": "log"},
            ExpressionAttributeValues={":p": _s(LOG_PARTITION), ":a": _n(event_id)},
            ScanIndexForward=False,
            Limit=1,
        ).get("Items", [])
        if not items or _int(items[0], "last_id") < event_id or self._expired(items[0]):
            return None
        item: Item = items[0]
        return item

    def _events_by_id(self, ids: Iterable[int]) -> list[Event]:
        """The events with these ids that are still in the log, in id order (one Query per batch)."""
        wanted = set(ids)
        found: dict[int, Event] = {}
        for event_id in sorted(wanted):
            if event_id in found:
                continue
            item = self._batch_holding(event_id)
            for event in decode_batch(item) if item is not None else []:
                if event.id in wanted:
                    found[event.id] = event
        return [found[i] for i in sorted(found)]

    def call_events(self, incident_number: str) -> list[Event]:
        """A call's own events and the location.resolved events of its location key."""
        item = self.client.get_item(
            TableName=self.names.calls, Key={"incident_number": _s(incident_number)}
        ).get("Item")
        if item is None:
            return []
        ids = {int(n) for n in item.get("event_ids", {}).get("NS", [])}
        key = _str(item, "location_key")
        if key:
            location = self.client.get_item(
                TableName=self.names.locations, Key={"location_key": _s(key)}
            ).get("Item")
            ids |= {int(n) for n in (location or {}).get("event_ids", {}).get("NS", [])}
        return self._events_by_id(ids)

    # -- committing ------------------------------------------------------------------------------

    def _batch_groups(self, events: Sequence[Event]) -> list[tuple[list[Event], bytes]]:
        """Split events into runs whose gzip body fits one item (halving until each fits)."""
        body = encode_changes(events)
        if len(body) <= MAX_BATCH_BYTES or len(events) == 1:
            return [(list(events), body)]
        half = len(events) // 2
        return self._batch_groups(events[:half]) + self._batch_groups(events[half:])

    def _batch_puts(self, events: Sequence[Event], archive_at: datetime, source: str) -> list[Item]:
        """Put actions for the batch items holding ``events`` (usually one item; more, in the same
        transaction, when the gzip body would not fit in 400 KB)."""
        expires = _n(int((archive_at + self.event_ttl).timestamp()))
        puts = []
        for group, body in self._batch_groups(events):
            puts.append(
                {
                    "Put": {
                        "TableName": self.names.events,
                        "Item": {
                            "log": _s(LOG_PARTITION),
                            "first_id": _n(group[0].id),
                            "last_id": _n(group[-1].id),
                            "count": _n(len(group)),
                            "at": _s(group[0].at),
                            "archive_at": _s(iso(archive_at)),
                            "source": _s(source),
                            "body": {"B": body},
                            "expires_at": expires,
                        },
                        "ConditionExpression": "attribute_not_exists(first_id)",
                    }
                }
            )
        return puts

    def _counter_update(self, counter: int, new_value: int) -> Item:
        condition = "attribute_not_exists(#v)" if counter == 0 else "#v = :old"
        values: dict[str, Any] = {":new": _n(new_value)}
        if counter:
            values[":old"] = _n(counter)
        return {
            "Update": {
                "TableName": self.names.meta,
                "Key": {"name": _s(COUNTER)},
                "UpdateExpression": "SET #v = :new",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#v": "value"},
                "ExpressionAttributeValues": values,
            }
        }

    def _transact(self, actions: list[Item]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise Conflict(str(exc)) from exc
            raise

    @staticmethod
    def _number(counter: int, events: Sequence[NewEvent]) -> list[Event]:
        return [
            Event(counter + i + 1, e.type, e.at, e.data, e.incident_number, e.location_key)
            for i, e in enumerate(events)
        ]

    def append_events(
        self, events: Sequence[NewEvent], archive_at: datetime | None = None, attempts: int = 8
    ) -> list[Event]:
        """Append events as one batch (the locator's path). Retries a lost counter race."""
        if not events:
            return []
        at = archive_at or self.clock()
        for attempt in range(attempts):
            counter = self.last_event_id()
            stored = self._number(counter, events)
            actions = [self._counter_update(counter, stored[-1].id), *self._batch_puts(stored, at, "locator")]
            try:
                self._transact(actions)
            except Conflict:
                time.sleep(0.01 * (attempt + 1))
                continue
            self.materialize(stored)
            return stored
        raise Conflict(f"could not append {len(events)} events after {attempts} attempts")

    # -- the tracker's state ---------------------------------------------------------------------

    def load_tracker(self) -> TrackerState:
        item = self.client.get_item(
            TableName=self.names.meta, Key={"name": _s(TRACKER)}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return TrackerState()
        blob = _bytes(item, "state")
        raw: dict[str, Any] = json.loads(gzip.decompress(blob)) if blob else {}
        calls = self._with_geo(Call.from_dict(d) for d in raw.values())
        polls = [_poll_from(d) for d in json.loads(_str(item, "polls") or "[]")]
        return TrackerState(
            calls={c.incident_number: c for c in calls},
            fetched_at=_str(item, "fetched_at"),
            snapshot_key=_str(item, "snapshot_key"),
            held=bool(item.get("held", {}).get("BOOL", False)),
            version=_int(item, "version"),
            last_batch=_int(item, "last_batch"),
            last_id=_int(item, "last_id"),
            materialized=_int(item, "materialized"),
            polls=polls,
            misses={str(n): int(c) for n, c in json.loads(_str(item, "misses") or "{}").items()},
        )

    def tracked_calls(self) -> OpenCalls:
        """The port's view for a diff, from the tracker's consistent state."""
        state = self.load_tracker()
        return CallsInMemory(state.calls, state.misses, closed=self.calls_by_number)

    def repair(self, state: TrackerState) -> bool:
        """Finish materializing the tracker's last batch if a crash interrupted it."""
        if state.materialized >= state.last_id or not state.last_batch:
            return False
        log.warning("repairing the calls table from events %d..%d", state.last_batch, state.last_id)
        events = self._events_by_id(range(state.last_batch, state.last_id + 1))
        self.materialize(events)
        self._mark_materialized(state.last_id)
        return True

    def commit_poll(
        self,
        state: TrackerState,
        counter: int,
        changes: ChangeSet,
        poll: PollRecord,
        seen: Iterable[str],
        quarantined: Sequence[QuarantinedRow],
        archive_at: datetime,
        misses: dict[str, int] | None = None,
    ) -> list[Event]:
        """Commit one poll atomically: its event batch, the new open-call state (with the misses of
        the open calls absent from the snapshot) and the high-water mark. Raises :class:`Conflict` if the counter or the tracker item moved since they were read,
        :class:`StaleSnapshot` if the poll is not newer than the high-water mark."""
        if state.fetched_at is not None and poll.started_at <= state.fetched_at:
            raise StaleSnapshot(f"{poll.started_at} is not after {state.fetched_at}")
        stored = self._number(counter, changeset_events(changes, poll.started_at))
        calls = {n: c.to_dict() for n, c in state.calls.items()}
        for call in [*changes.opened, *(u.call for u in changes.updated)]:
            calls[call.incident_number] = call.to_dict()
        for call in changes.closed:
            calls.pop(call.incident_number, None)
        for incident in seen:
            if incident in calls:
                calls[incident]["last_seen"] = poll.started_at
        absent = {n: count for n, count in (misses or {}).items() if n in calls}
        polls = [poll, *state.polls][:RECENT_POLLS]
        names = {"#v": "version", "#s": "state", "#q": "quarantine"}
        values: dict[str, Any] = {
            ":version": _n(state.version + 1),
            ":state": {"B": gzip.compress(_dumps(calls).encode(), mtime=0)},
            ":fetched": _s(poll.started_at),
            ":held": {"BOOL": poll.outcome == "held"},
            ":polls": _s(_dumps([_poll_dict(p) for p in polls])),
            ":q": _s(_dumps([{"raw": q.raw, "reason": q.reason} for q in quarantined[:QUARANTINE_KEPT]])),
            ":misses": _s(_dumps(absent)),
        }
        sets = [
            "#v = :version",
            "#s = :state",
            "fetched_at = :fetched",
            "held = :held",
            "polls = :polls",
            "#q = :q",
            "misses = :misses",
        ]
        if poll.snapshot_key:
            sets.append("snapshot_key = :key")
            values[":key"] = _s(poll.snapshot_key)
        if poll.outcome != "failed":
            sets.append("last_good = :good")
            values[":good"] = _s(_dumps(_poll_dict(poll)))
        if stored:
            sets += ["last_batch = :first", "last_id = :last"]
            values[":first"] = _n(stored[0].id)
            values[":last"] = _n(stored[-1].id)
        if state.version:
            condition = "#v = :old"
            values[":old"] = _n(state.version)
        else:
            condition = "attribute_not_exists(#v)"
        actions: list[Item] = [
            {
                "Update": {
                    "TableName": self.names.meta,
                    "Key": {"name": _s(TRACKER)},
                    "UpdateExpression": "SET " + ", ".join(sets),
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        if stored:
            actions.append(self._counter_update(counter, stored[-1].id))
            actions += self._batch_puts(stored, archive_at, "tracker")
        self._transact(actions)
        return stored

    def seen_touches(self, state: TrackerState, seen: Iterable[str], now: str) -> dict[str, str]:
        """Open calls whose read-model ``last_seen`` should move to ``now``: every seen call when
        ``seen_refresh_s`` is 0, else only when ``now`` crosses a refresh boundary (bounds writes)."""
        touches: dict[str, str] = {}
        now_epoch = epoch(now)
        for incident in seen:
            call = state.calls.get(incident)
            if call is None:
                continue
            if self.seen_refresh_s > 0:
                step = self.seen_refresh_s
                if int(epoch(call.last_seen) // step) == int(now_epoch // step):
                    continue
            touches[incident] = now
        return touches

    def apply_poll(
        self,
        state: TrackerState,
        counter: int,
        changes: ChangeSet,
        poll: PollRecord,
        seen: Sequence[str],
        quarantined: Sequence[QuarantinedRow] = (),
        archive_at: datetime | None = None,
        misses: dict[str, int] | None = None,
    ) -> list[Event]:
        """Commit, then materialize the read model."""
        at = archive_at or datetime.fromisoformat(poll.started_at.replace("Z", "+00:00"))
        stored = self.commit_poll(state, counter, changes, poll, seen, quarantined, at, misses)
        changed = {e.incident_number for e in stored}
        touches = {
            n: t for n, t in self.seen_touches(state, seen, poll.started_at).items() if n not in changed
        }
        self.materialize(stored, touches)
        if stored:
            self._mark_materialized(stored[-1].id)
        return stored

    # -- materializing the read model --------------------------------------------------------------

    def _call_update(self, event: Event) -> Item:
        call = Call.from_dict(event.data["call"])
        values: dict[str, Any] = {
            ":data": _s(_dumps(call.to_dict())),
            ":key": _s(call.location_key),
            ":last_seen": _s(call.last_seen),
            ":first_seen": _s(call.first_seen),
            ":day": _s(call.first_seen[:10]),
            ":id": _n(event.id),
            ":ids": {"NS": [str(event.id)]},
        }
        sets = [
            "#d = :data",
            "location_key = :key",
            "last_seen = :last_seen",
            "first_seen = :first_seen",
            "seen_day = :day",
            "event_id = :id",
        ]
        if call.closed_at is None:
            sets.append("open_shard = :shard")
            values[":shard"] = _n(open_shard(call.incident_number))
            remove = " REMOVE closed_at, expires_at"
        else:
            sets += ["closed_at = :closed", "expires_at = :expires"]
            values[":closed"] = _s(call.closed_at)
            closed = datetime.fromisoformat(call.closed_at.replace("Z", "+00:00"))
            values[":expires"] = _n(int((closed + self.closed_ttl).timestamp()))
            remove = " REMOVE open_shard"
        return {
            "TableName": self.names.calls,
            "Key": {"incident_number": _s(call.incident_number)},
            "UpdateExpression": "SET " + ", ".join(sets) + remove + " ADD event_ids :ids",
            "ConditionExpression": "attribute_not_exists(event_id) OR event_id < :id",
            "ExpressionAttributeNames": {"#d": "data"},
            "ExpressionAttributeValues": values,
        }

    def _location_update(self, event: Event) -> Item:
        return {
            "TableName": self.names.locations,
            "Key": {"location_key": _s(str(event.location_key))},
            "UpdateExpression": "ADD event_ids :ids",
            "ConditionExpression": "attribute_exists(location_key)",
            "ExpressionAttributeValues": {":ids": {"NS": [str(event.id)]}},
        }

    def _touch(self, incident: str, last_seen: str) -> Item:
        return {
            "TableName": self.names.calls,
            "Key": {"incident_number": _s(incident)},
            "UpdateExpression": "SET last_seen = :t",
            "ConditionExpression": "attribute_exists(open_shard) AND last_seen < :t",
            "ExpressionAttributeValues": {":t": _s(last_seen)},
        }

    def _update_quietly(self, request: Item) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(**request)
        except ClientError as exc:
            if not _is_conditional_failure(exc):  # already applied (or newer): fine
                raise

    def materialize(self, events: Sequence[Event], touches: dict[str, str] | None = None) -> None:
        """Project events onto the calls and locations tables. Idempotent and monotonic: an item
        already at this event (or a newer one) is left alone."""
        requests: list[Item] = []
        for event in events:
            if event.type.startswith("call.") and isinstance(event.data.get("call"), dict):
                requests.append(self._call_update(event))
            elif event.type == "location.resolved" and event.location_key:
                requests.append(self._location_update(event))
        requests += [self._touch(n, t) for n, t in sorted((touches or {}).items())]
        if not requests:
            return
        with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(requests))) as pool:
            for _ in pool.map(self._update_quietly, requests):
                pass

    def _mark_materialized(self, last_id: int) -> None:
        self._update_quietly(
            {
                "TableName": self.names.meta,
                "Key": {"name": _s(TRACKER)},
                "UpdateExpression": "SET #m = :m",
                "ConditionExpression": "attribute_not_exists(#m) OR #m < :m",
                "ExpressionAttributeNames": {"#m": "materialized"},
                "ExpressionAttributeValues": {":m": _n(last_id)},
            }
        )

    # -- the StateStore port's apply / polls -------------------------------------------------------

    def apply(
        self,
        changes: ChangeSet,
        poll: PollRecord,
        misses: dict[str, int] | None = None,
        quarantined: Sequence[QuarantinedRow] = (),
    ) -> list[Event]:
        """The port's apply, for a single writer that computed ``changes`` from the tracker state
        (the AWS tracker uses load_tracker / commit_poll directly, with retries). Every open call
        not in ``misses`` was in the snapshot."""
        state = self.load_tracker()
        self.repair(state)
        seen = [n for n in state.calls if n not in (misses or {})]
        return self.apply_poll(state, self.last_event_id(), changes, poll, seen, quarantined, misses=misses)

    def record_poll(self, poll: PollRecord, quarantined: Sequence[QuarantinedRow] = ()) -> None:
        """Record a poll that changed nothing (a failed fetch): kept as ``last_failure``."""
        self.client.put_item(
            TableName=self.names.meta,
            Item={"name": _s(LAST_FAILURE), "poll": _s(_dumps(_poll_dict(poll)))},
        )

    def _tracker_fields(self, *names: str) -> Item:
        item: Item | None = self.client.get_item(
            TableName=self.names.meta,
            Key={"name": _s(TRACKER)},
            ProjectionExpression=", ".join(f"#f{i}" for i in range(len(names))),
            ExpressionAttributeNames={f"#f{i}": name for i, name in enumerate(names)},
        ).get("Item")
        return item or {}

    def recent_polls(self, limit: int = 20) -> list[PollRecord]:
        text = _str(self._tracker_fields("polls"), "polls")
        polls = [_poll_from(d) for d in json.loads(text or "[]")]
        item = self.client.get_item(TableName=self.names.meta, Key={"name": _s(LAST_FAILURE)}).get("Item")
        if item is not None:
            polls.append(_poll_from(json.loads(_str(item, "poll") or "{}")))
        return sorted(polls, key=lambda p: p.started_at, reverse=True)[:limit]

    def last_good_poll(self) -> PollRecord | None:
        text = _str(self._tracker_fields("last_good"), "last_good")
        return _poll_from(json.loads(text)) if text else None

    def last_snapshot_poll_held(self) -> bool:
        return bool(self._tracker_fields("held").get("held", {}).get("BOOL", False))

    # -- geocode cache -----------------------------------------------------------------------------

    def get_location(self, location_key: str, now: str) -> Geo | None:
        item = self.client.get_item(
            TableName=self.names.locations, Key={"location_key": _s(location_key)}
        ).get("Item")
        if item is None or (_str(item, "expires_iso") or "") <= now:
            return None
        return Geo.from_dict(json.loads(_str(item, "geo") or "{}"))

    def fresh_locations(self, keys: Iterable[str], now: str) -> set[str]:
        """Which of ``keys`` have an unexpired cached geocode (hit or miss)."""
        wanted = sorted(set(keys))
        fresh: set[str] = set()
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self.names.locations: {
                    "Keys": [{"location_key": _s(k)} for k in wanted[start : start + 100]],
                    "ProjectionExpression": "location_key, expires_iso",
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.names.locations, []):
                    if (_str(item, "expires_iso") or "") > now:
                        fresh.add(str(_str(item, "location_key")))
                request = response.get("UnprocessedKeys") or {}
        return fresh

    def put_location(self, location_key: str, geo: Geo, expires_at: str, resolved_at: str = "") -> None:
        self.client.update_item(
            TableName=self.names.locations,
            Key={"location_key": _s(location_key)},
            UpdateExpression="SET geo = :g, #p = :p, resolved_at = :r, expires_iso = :e, expires_at = :t",
            ExpressionAttributeNames={"#p": "precision"},
            ExpressionAttributeValues={
                ":g": _s(_dumps(geo.to_dict())),
                ":p": _s(geo.precision),
                ":r": _s(resolved_at or expires_at),
                ":e": _s(expires_at),
                ":t": _n(epoch(expires_at)),
            },
        )
