"""The event log on DynamoDB: reading batches by id, and committing a batch under the counter's
compare-and-set (see :mod:`dallas_calls.storage.dynamodb` for why ids are taken that way).

:class:`EventLog` is the base of :class:`~dallas_calls.storage.dynamodb.DynamoStore`: every writer
(tracker, locator, the one-machine pipeline on DynamoDB) commits through :meth:`EventLog.transact`,
so a lost race (``ConditionalCheckFailed`` on the counter or the tracker item) and a simultaneous
one (``TransactionConflict``) are told apart from real errors in one place, and
:meth:`EventLog.retry_conflicts` retries both with jittered exponential backoff.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from dallas_calls.archive.store import encode_changes
from dallas_calls.model import Event, NewEvent, iso_utc
from dallas_calls.storage import dynamodb_schema as schema
from dallas_calls.storage.dynamodb_schema import (
    COUNTER,
    DEFAULT_EVENT_TTL,
    LOG_PARTITION,
    Conflict,
    Item,
    TableNames,
    _int,
    _n,
    _s,
    _str,
    decode_batch,
    dynamodb_client,
    is_conditional_failure,
    is_write_conflict,
    shifted,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

COMMIT_ATTEMPTS = 8
BACKOFF_BASE_S = 0.01
BACKOFF_CAP_S = 1.0
# How far apart two writers' clocks (and so the ``at`` of events committed in id order) may be.
WINDOW_CLOCK_SLACK = timedelta(minutes=10)
FIRST_PAGE = 25


def backoff(attempt: int) -> float:
    """Full-jitter exponential backoff (attempt 1, 2, ...): racing writers spread out at once."""
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))


class EventLog:
    """The ``events`` table and the ``counter`` item of ``meta``."""

    def __init__(
        self,
        names: TableNames,
        client: Any = None,
        endpoint_url: str | None = None,
        event_ttl: timedelta = DEFAULT_EVENT_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client: Any = client if client is not None else dynamodb_client(endpoint_url)
        self.names = names
        self.event_ttl = event_ttl
        self.clock = clock
        self.sleep = sleep

    def _query(self, **kwargs: Any) -> Iterator[Item]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(**kwargs):
            yield from page.get("Items", [])

    def _batch_get(
        self, table: str, key_name: str, keys: Iterable[str], projection: str | None = None
    ) -> Iterator[Item]:
        """The items of ``table`` whose string key ``key_name`` is one of ``keys``: BatchGetItem,
        100 keys a request, unprocessed keys asked again."""
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), 100):
            spec: dict[str, Any] = {"Keys": [{key_name: _s(k)} for k in wanted[start : start + 100]]}
            if projection:
                spec["ProjectionExpression"] = projection
            request: dict[str, Any] = {table: spec}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                yield from response.get("Responses", {}).get(table, [])
                request = response.get("UnprocessedKeys") or {}

    def _expired(self, item: Item, now_epoch: int | None = None) -> bool:
        expires = _int(item, "expires_at", 0)
        return bool(expires) and expires <= (now_epoch or int(self.clock().timestamp()))

    def last_event_id(self) -> int:
        item = self.client.get_item(
            TableName=self.names.meta, Key={"name": _s(COUNTER)}, ConsistentRead=True
        ).get("Item")
        return _int(item or {}, "value", 0)

    def _batches(self, after_id: int) -> Iterator[Item]:
        """Live batches that hold ids above ``after_id``, in id order: the one holding ``after_id``
        if it runs past it, then every batch that starts after it."""
        now_epoch = int(self.clock().timestamp())
        holding = self._batch_holding(after_id)
        if holding is not None and _int(holding, "last_id") > after_id:
            yield holding
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

    def events_between(self, after_id: int, upto_id: int) -> list[Event]:
        """The events with ``after_id < id <= upto_id`` still in the log, in id order: what an API
        replica reads to fill a gap it saw in the ids it was sent (a Query from the batch holding
        ``after_id + 1``, stopping at the batch past ``upto_id``)."""
        found: list[Event] = []
        for item in self._batches(after_id):
            if _int(item, "first_id") > upto_id:
                break
            found.extend(e for e in decode_batch(item) if after_id < e.id <= upto_id)
        return found

    def events_in_window(self, start: str, end: str, limit: int = 1000) -> list[Event]:
        """Events with ``start <= at < end`` still in the log, in id order, at most ``limit``: what a
        replay of a window reads (SQLite's ``events_in_window``). Batches are keyed by id, not time,
        so the ids the window spans are found by two binary searches on the batches' ``at`` (about
        log2 of the ids each, one single-item Query of keys and times per step), and only the
        batches between them are read. Writers' clocks may disagree a little, so both ends reach
        ``WINDOW_CLOCK_SLACK`` further and the events are filtered exactly."""
        first = self.first_event_id()
        if first is None:
            return []
        last = self.last_event_id()
        after = self._last_id_before(shifted(start, -WINDOW_CLOCK_SLACK), first, last)
        upto = self._last_id_before(shifted(end, WINDOW_CLOCK_SLACK), first, last) + 1
        found: list[Event] = []
        if upto <= after:
            return found
        now_epoch = int(self.clock().timestamp())
        for item in self._query(
            TableName=self.names.events,
            KeyConditionExpression="#log = :p AND first_id BETWEEN :a AND :b",
            ExpressionAttributeNames={"#log": "log"},
            ExpressionAttributeValues={":p": _s(LOG_PARTITION), ":a": _n(after + 1), ":b": _n(upto)},
        ):
            if not self._expired(item, now_epoch):
                found.extend(e for e in decode_batch(item) if start <= e.at < end)
            if len(found) > limit:
                break
        return found[:limit]

    def _last_id_before(self, at: str, first: int, last: int) -> int:
        """An id after which reading finds every event at or after ``at``: the id just before the
        last batch that starts before ``at`` (``first - 1`` when none does)."""
        best, lo, hi = first - 1, first, last
        while lo <= hi:
            mid = (lo + hi) // 2
            batch = self._batch_starting_at_or_before(mid)
            if batch is None:  # expired or missing below ``mid``: look later
                lo = mid + 1
                continue
            starts = _int(batch, "first_id")
            if (_str(batch, "at") or "") < at:
                best = max(best, starts - 1)
                lo = max(mid, _int(batch, "last_id")) + 1
            else:
                hi = starts - 1
        return best

    def _batch_starting_at_or_before(self, event_id: int) -> Item | None:
        """The ids and time of the last batch whose first id is at most ``event_id`` (its body left
        out); None when it has expired."""
        items = self.client.query(
            TableName=self.names.events,
            KeyConditionExpression="#log = :p AND first_id <= :a",
            ProjectionExpression="first_id, last_id, #at, expires_at",
            ExpressionAttributeNames={"#log": "log", "#at": "at"},
            ExpressionAttributeValues={":p": _s(LOG_PARTITION), ":a": _n(event_id)},
            ScanIndexForward=False,
            Limit=1,
        ).get("Items", [])
        if not items or self._expired(items[0]):
            return None
        item: Item = items[0]
        return item

    def first_event_id(self) -> int | None:
        """The first id of the oldest live batch: Query pages of ``FIRST_PAGE`` keys, oldest first,
        past the expired batches DynamoDB has not deleted yet (it takes up to a few days)."""
        now_epoch = int(self.clock().timestamp())
        for item in self._query(
            TableName=self.names.events,
            KeyConditionExpression="#log = :p",
            ProjectionExpression="first_id, expires_at",
            ExpressionAttributeNames={"#log": "log"},
            ExpressionAttributeValues={":p": _s(LOG_PARTITION)},
            Limit=FIRST_PAGE,
        ):
            if not self._expired(item, now_epoch):
                return _int(item, "first_id")
        return None

    def _batch_holding(self, event_id: int) -> Item | None:
        """The live batch whose ids include ``event_id`` (the last batch starting at or before it)."""
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

    def _batch_groups(self, events: Sequence[Event]) -> list[tuple[list[Event], bytes]]:
        """Split events into runs whose gzip body fits one item (halving until each fits)."""
        body = encode_changes(events)
        if len(body) <= schema.MAX_BATCH_BYTES or len(events) == 1:
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
                            "archive_at": _s(iso_utc(archive_at)),
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

    @staticmethod
    def _number(counter: int, events: Sequence[NewEvent]) -> list[Event]:
        return [
            Event(counter + i + 1, e.type, e.at, e.data, e.incident_number, e.location_key)
            for i, e in enumerate(events)
        ]

    def transact(self, actions: list[Item]) -> None:
        """One ``TransactWriteItems``. :class:`Conflict` when a condition failed or another
        transaction held an item (both leave nothing written); any other error is raised as is."""
        from botocore.exceptions import ClientError

        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if is_conditional_failure(exc) or is_write_conflict(exc):
                raise Conflict(str(exc)) from exc
            raise

    def retry_conflicts(self, commit: Callable[[], T], what: str, attempts: int = COMMIT_ATTEMPTS) -> T:
        """Run ``commit`` (which reads what it needs and commits one transaction) until it does not
        lose a race, with backoff between attempts; :class:`Conflict` after ``attempts``."""
        for attempt in range(1, attempts + 1):
            try:
                return commit()
            except Conflict:
                log.info("lost a race; retrying", extra={"writer": what, "attempt": attempt})
                if attempt < attempts:
                    self.sleep(backoff(attempt))
        raise Conflict(f"{what}: gave up after {attempts} attempts (constant write contention)")

    def commit_once(
        self,
        events: Sequence[NewEvent],
        archive_at: datetime,
        source: str,
        with_actions: Callable[[list[Event]], list[Item]] = lambda _stored: [],
    ) -> list[Event]:
        """Number ``events`` after the counter and commit them as one batch, together with
        ``with_actions(stored)`` (writes that must happen exactly when the events do), in one
        transaction; :class:`Conflict` if another writer moved first. With no events only the other
        writes are committed (still one transaction)."""
        counter = self.last_event_id() if events else 0
        stored = self._number(counter, events)
        actions = with_actions(stored)
        if stored:
            actions = [
                self._counter_update(counter, stored[-1].id),
                *self._batch_puts(stored, archive_at, source),
                *actions,
            ]
        if actions:
            self.transact(actions)
        return stored
