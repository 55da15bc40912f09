"""DynamoDB adapter of the state-store port: the AWS runtime's state, events and geocode cache.

Four tables (names configurable, see :class:`TableNames`; :func:`table_definitions` gives their exact
key schema, indexes, streams and TTL for Terraform and for tests):

``meta`` (PK ``name``)
    ``counter``: ``value`` = the last event id given out. ``tracker``: the tracker's high-water mark
    (``fetched_at`` / ``snapshot_key`` of the last applied snapshot), ``held`` (the guard's memory),
    ``version`` (an optimistic lock), ``state`` (gzip JSON of every open call exactly as the tracker
    left it, last_seen included), the recent poll log and the last poll's quarantined rows.
    ``last_failure``: the newest failed poll (written by the downloader). ``seen``: the newest poll's
    time and the open calls it did not see, for every open call's ``last_seen``.
``events`` (PK ``log`` = ``"events"``, SK ``first_id``; stream NEW_IMAGE; TTL ``expires_at``)
    The event log, one item per *batch*: the events of one tracker poll or one locator run, gzip JSONL
    in ``body``, ids ``first_id..last_id``. The publisher reads this table's stream.
``calls`` (PK ``incident_number``; TTL ``expires_at``)
    The read model of every call (``data`` = the call's JSON). ``open_shard`` is present only while a
    call is open, so the sparse GSI ``open`` (PK ``open_shard``, SK ``incident_number``) holds exactly
    the open calls: :meth:`DynamoStore.open_calls` Queries its ``OPEN_SHARDS`` partitions, never Scans.
    A closed call gets ``expires_at`` (epoch seconds) and DynamoDB deletes it after ``closed_ttl``;
    until it does, readers skip it. GSI ``by_day`` (PK ``seen_day``, SK ``first_seen``) serves /history
    and, projected to the ``facts`` attribute, /analytics.
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
``last_seen`` of unchanged open calls moves through one ``seen`` item per poll, not a write per call
(see :class:`~dallas_calls.storage.dynamodb_calls.Seen`).

The adapter is layered, one module per table or concern: :mod:`.dynamodb_schema` (names, table
definitions, item encoding, which errors mean "retry"), :mod:`.dynamodb_log` (the event log, the
counter's compare-and-set, the one retry loop), :mod:`.dynamodb_locations` (the geocode cache and
the locator's commit), :mod:`.dynamodb_calls` (the calls read model), and this module (the
tracker's state, the poll commit and the StateStore port).
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dallas_calls.events.encode import changeset_events
from dallas_calls.model import Call, ChangeSet, Event, NewEvent, PollRecord, QuarantinedRow
from dallas_calls.storage.dynamodb_calls import CallsTable, Seen
from dallas_calls.storage.dynamodb_schema import (
    LAST_FAILURE,
    QUARANTINE_KEPT,
    RECENT_POLLS,
    TRACKER,
    TTL_ATTRIBUTE,
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
    table_definitions,
)
from dallas_calls.tracking.state import CallsInMemory, OpenCalls

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
    misses: dict[str, int] = field(default_factory=dict)  # open calls absent from recent snapshots


# -- the store ---------------------------------------------------------------------------------


class DynamoStore(CallsTable):
    """The StateStore port on DynamoDB. Thread-safe (boto3 clients are)."""

    def close(self) -> None:
        return None

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
        misses: dict[str, int] | None = None,
    ) -> list[Event]:
        """Commit, then materialize the read model: the calls that changed, and one ``seen`` item
        for every open call's ``last_seen`` (see :class:`Seen`)."""
        at = archive_at or datetime.fromisoformat(poll.started_at.replace("Z", "+00:00"))
        stored = self.commit_poll(state, counter, changes, poll, seen, quarantined, at, misses)
        self.materialize(stored)
        seen_now = set(seen)
        closed = {c.incident_number for c in changes.closed}
        missing = {n: c.last_seen for n, c in state.calls.items() if n not in seen_now and n not in closed}
        self._mark_seen(Seen(poll.started_at, missing))
        if stored:
            self._mark_materialized(stored[-1].id)
        return stored

    # -- materializing -------------------------------------------------------------------------

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
