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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dallas_calls.events.encode import changeset_events
from dallas_calls.model import Call, ChangeSet, Event, Geo, NewEvent, PollRecord, QuarantinedRow
from dallas_calls.storage.dynamodb_locations import LocationCache
from dallas_calls.storage.dynamodb_log import backoff
from dallas_calls.storage.dynamodb_schema import (
    DAY_INDEX,
    DEFAULT_CLOSED_TTL,
    DEFAULT_EVENT_TTL,
    LAST_FAILURE,
    OPEN_INDEX,
    OPEN_SHARDS,
    QUARANTINE_KEPT,
    RECENT_POLLS,
    SEEN,
    TRACKER,
    TTL_ATTRIBUTE,
    WRITE_THREADS,
    Conflict,
    Item,
    StaleSnapshot,
    TableNames,
    _bytes,
    _dumps,
    _int,
    _n,
    _poll_dict,
    _poll_from,
    _s,
    _str,
    batch_archive_at,
    create_tables,
    decode_batch,
    dynamodb_client,
    epoch,
    is_conditional_failure,
    is_write_conflict,
    iso,
    open_shard,
    table_definitions,
)

__all__ = [
    "TTL_ATTRIBUTE",
    "Conflict",
    "DynamoStore",
    "StaleSnapshot",
    "TableNames",
    "TrackerState",
    "batch_archive_at",
    "create_tables",
    "decode_batch",
    "dynamodb_client",
    "epoch",
    "iso",
    "table_definitions",
]

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class Seen:
    """When the open calls were last seen, in one ``meta`` item instead of one write per call.

    Every open call that a poll sees gets that poll's time as ``last_seen``, so one item says it for
    all of them: ``at``, the newest poll, and ``missing``, the open calls that poll did not see (a
    held poll defers their close) with their own older ``last_seen``. Rewriting ``last_seen`` on each
    call item instead cost about 3 write units per open call per poll (the item and its copies in
    both indexes), most of the DynamoDB bill. A reader applies it to open call items only, and
    never moves ``last_seen`` back (an item written after this poll keeps its own, newer, time).
    """

    at: str
    missing: dict[str, str] = field(default_factory=dict)

    def last_seen(self, incident_number: str, own: str) -> str:
        return max(own, self.missing.get(incident_number, self.at))


# -- the store ---------------------------------------------------------------------------------


class DynamoStore(LocationCache):
    """The StateStore port on DynamoDB. Thread-safe (boto3 clients are)."""

    def __init__(
        self,
        names: TableNames,
        client: Any = None,
        endpoint_url: str | None = None,
        closed_ttl: timedelta = DEFAULT_CLOSED_TTL,
        event_ttl: timedelta = DEFAULT_EVENT_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(names, client, endpoint_url, event_ttl, clock)
        self.closed_ttl = closed_ttl

    def close(self) -> None:
        return None

    # -- reading the read model ----------------------------------------------------------------

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

    def _call_from_item(self, item: Item, seen: Seen) -> Call:
        call = Call.from_dict(json.loads(_str(item, "data") or "{}"))
        if "open_shard" not in item:
            return call
        return call.with_changes(last_seen=seen.last_seen(call.incident_number, call.last_seen))

    def open_calls(self) -> dict[str, Call]:
        """Every open call, from a Query per shard of the sparse ``open`` index (eventually
        consistent: the API's read path; the tracker keeps its own consistent copy)."""
        calls = []
        seen = self._seen()
        for shard in range(OPEN_SHARDS):
            for item in self._query(
                TableName=self.names.calls,
                IndexName=OPEN_INDEX,
                KeyConditionExpression="open_shard = :s",
                ExpressionAttributeValues={":s": _n(shard)},
            ):
                calls.append(self._call_from_item(item, seen))
        return {c.incident_number: c for c in self._with_geo(calls)}

    def get_call(self, incident_number: str) -> Call | None:
        item = self.client.get_item(
            TableName=self.names.calls, Key={"incident_number": _s(incident_number)}
        ).get("Item")
        if item is None or self._expired(item):
            return None
        return self._with_geo([self._call_from_item(item, self._seen())])[0]

    def calls_between(self, start: str, end: str, limit: int = 1000) -> list[Call]:
        """Calls first seen in [start, end), oldest first: a Query per day of the ``by_day`` index."""
        day = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC).date()
        last = datetime.fromisoformat(end.replace("Z", "+00:00")).astimezone(UTC).date()
        now_epoch = int(self.clock().timestamp())
        seen = self._seen()
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
                    found.append(self._call_from_item(item, seen))
            day += timedelta(days=1)
        return self._with_geo(found[:limit])

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
        )

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
    ) -> list[Event]:
        """Commit one poll atomically: its event batch, the new open-call state and the high-water
        mark. Raises :class:`Conflict` if the counter or the tracker item moved since they were read,
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
        polls = [poll, *state.polls][:RECENT_POLLS]
        names = {"#v": "version", "#s": "state", "#q": "quarantine"}
        values: dict[str, Any] = {
            ":version": _n(state.version + 1),
            ":state": {"B": gzip.compress(_dumps(calls).encode(), mtime=0)},
            ":fetched": _s(poll.started_at),
            ":held": {"BOOL": poll.outcome == "held"},
            ":polls": _s(_dumps([_poll_dict(p) for p in polls])),
            ":q": _s(_dumps([{"raw": q.raw, "reason": q.reason} for q in quarantined[:QUARANTINE_KEPT]])),
        }
        sets = [
            "#v = :version",
            "#s = :state",
            "fetched_at = :fetched",
            "held = :held",
            "polls = :polls",
            "#q = :q",
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
        self.transact(actions)
        return stored

    def apply_poll(
        self,
        state: TrackerState,
        counter: int,
        changes: ChangeSet,
        poll: PollRecord,
        seen: Sequence[str],
        quarantined: Sequence[QuarantinedRow] = (),
        archive_at: datetime | None = None,
    ) -> list[Event]:
        """Commit, then materialize the read model: the calls that changed, and one ``seen`` item
        for every open call's ``last_seen`` (see :class:`Seen`)."""
        at = archive_at or datetime.fromisoformat(poll.started_at.replace("Z", "+00:00"))
        stored = self.commit_poll(state, counter, changes, poll, seen, quarantined, at)
        self.materialize(stored)
        seen_now = set(seen)
        closed = {c.incident_number for c in changes.closed}
        missing = {n: c.last_seen for n, c in state.calls.items() if n not in seen_now and n not in closed}
        self._mark_seen(Seen(poll.started_at, missing))
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

    def _update_quietly(self, request: Item, attempts: int = 8) -> None:
        """One conditional update whose failed condition means "already applied, or newer": fine.
        A ``TransactionConflictException`` (a transaction held the item) is retried with backoff."""
        from botocore.exceptions import ClientError

        for attempt in range(1, attempts + 1):
            try:
                self.client.update_item(**request)
                return
            except ClientError as exc:
                if is_conditional_failure(exc):
                    return
                if not is_write_conflict(exc) or attempt == attempts:
                    raise
                self.sleep(backoff(attempt))

    def materialize(self, events: Sequence[Event]) -> None:
        """Project events onto the calls and locations tables. Idempotent and monotonic: an item
        already at this event (or a newer one) is left alone."""
        requests: list[Item] = []
        for event in events:
            if event.type.startswith("call.") and isinstance(event.data.get("call"), dict):
                requests.append(self._call_update(event))
            elif event.type == "location.resolved" and event.location_key:
                requests.append(self._location_update(event))
        if not requests:
            return
        with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(requests))) as pool:
            for _ in pool.map(self._update_quietly, requests):
                pass

    def _mark_seen(self, seen: Seen) -> None:
        """One small write per poll, never backwards (a late retry of an older poll is ignored)."""
        self._update_quietly(
            {
                "TableName": self.names.meta,
                "Key": {"name": _s(SEEN)},
                "UpdateExpression": "SET #at = :at, #m = :m",
                "ConditionExpression": "attribute_not_exists(#at) OR #at < :at",
                "ExpressionAttributeNames": {"#at": "at", "#m": "missing"},
                "ExpressionAttributeValues": {":at": _s(seen.at), ":m": _s(_dumps(seen.missing))},
            }
        )

    def _seen(self) -> Seen:
        item = self.client.get_item(TableName=self.names.meta, Key={"name": _s(SEEN)}).get("Item") or {}
        return Seen(_str(item, "at") or "", json.loads(_str(item, "missing") or "{}"))

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
        seen: Iterable[str] = (),
        quarantined: Sequence[QuarantinedRow] = (),
    ) -> list[Event]:
        """The port's apply, for a single writer that computed ``changes`` from the tracker state
        (the AWS tracker uses load_tracker / commit_poll directly, with retries)."""
        state = self.load_tracker()
        self.repair(state)
        return self.apply_poll(state, self.last_event_id(), changes, poll, list(seen), quarantined)

    def append_events(self, events: Sequence[NewEvent], archive_at: datetime | None = None) -> list[Event]:
        """Append events as one batch and project them (the store port; the AWS locator commits its
        cache writes with its events through :meth:`record_locations` instead)."""
        at = archive_at or self.clock()
        stored = self.retry_conflicts(lambda: self.commit_once(events, at, "store"), "event batch")
        self.materialize(stored)
        return stored

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
