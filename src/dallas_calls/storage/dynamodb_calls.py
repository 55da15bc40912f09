"""The ``calls`` table on DynamoDB: the read model of every call, as the API reads it, and how
committed event batches are projected onto it (idempotent, never backwards).

Every write here is a conditional update that a replay may repeat: an item already at an event (or
a newer one) is left alone, so materializing a batch twice, or a crashed tracker's batch being
finished by the next one (``DynamoStore.repair``), changes nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dallas_calls.model import Call, CallFacts, Event, Geo, call_facts
from dallas_calls.storage.dynamodb_locations import LocationCache
from dallas_calls.storage.dynamodb_log import backoff
from dallas_calls.storage.dynamodb_schema import (
    DAY_INDEX,
    DEFAULT_CLOSED_TTL,
    DEFAULT_EVENT_TTL,
    OPEN_INDEX,
    OPEN_SHARDS,
    SEEN,
    WRITE_THREADS,
    Item,
    TableNames,
    _dumps,
    _n,
    _s,
    _str,
    is_conditional_failure,
    is_write_conflict,
    open_shard,
    shifted,
)

# What /analytics reads of a call item (names, not reserved words, so none can clash).
FACTS_PROJECTION = "#i, #f, #c, #x, #e"
FACTS_NAMES = {
    "#i": "incident_number",
    "#f": "first_seen",
    "#c": "closed_at",
    "#x": "facts",
    "#e": "expires_at",
}
# What choosing the calls open at a time reads of an item (see FACTS_NAMES on reserved words).
OPEN_AT_PROJECTION = "#i, #f, #c, #e"
OPEN_AT_NAMES = {"#i": "incident_number", "#f": "first_seen", "#c": "closed_at", "#e": "expires_at"}
# What counting calls reads of an item: its key, and what the window and expiry checks need.
COUNT_NAMES = {"#i": "incident_number", "#f": "first_seen", "#e": "expires_at"}
# How far before a replay's start a call may have been first seen and still be found open at it
# once closed (still-open calls are found whenever they were first seen). Dallas calls last hours.
OPEN_CALL_LOOKBACK = timedelta(days=3)


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


class CallsTable(LocationCache):
    """The ``calls`` read model (and the ``seen`` item of ``meta``): read by the API, written by
    materializing committed event batches."""

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

    # -- reading the read model ----------------------------------------------------------------

    def _geo_for(self, keys: Iterable[str]) -> dict[str, Geo]:
        """Located cached geocodes of these keys (as SQLite's join: any cached point with a lat)."""
        found: dict[str, Geo] = {}
        for item in self._batch_get(self.names.locations, "location_key", keys, "location_key, geo"):
            geo = Geo.from_dict(json.loads(_str(item, "geo") or "{}"))
            if geo.lat is not None:
                found[str(_str(item, "location_key"))] = geo
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

    def calls_by_number(self, incidents: Collection[str]) -> dict[str, Call]:
        """The calls among ``incidents`` that the read model holds, open or closed (until their TTL):
        how the tracker finds a closed call that came back."""
        seen = self._seen()
        found = [
            self._call_from_item(item, seen)
            for item in self._batch_get(self.names.calls, "incident_number", incidents)
            if not self._expired(item)
        ]
        return {c.incident_number: c for c in self._with_geo(found)}

    def get_call(self, incident_number: str) -> Call | None:
        item = self.client.get_item(
            TableName=self.names.calls, Key={"incident_number": _s(incident_number)}
        ).get("Item")
        if item is None or self._expired(item):
            return None
        return self._with_geo([self._call_from_item(item, self._seen())])[0]

    def _first_seen_between(self, start: str, end: str, **projection: Any) -> Iterator[Item]:
        """Live items first seen in [start, end), oldest first within each day: a Query per UTC
        day of the ``by_day`` index (``projection``: a ProjectionExpression and its names)."""
        day = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC).date()
        last = datetime.fromisoformat(end.replace("Z", "+00:00")).astimezone(UTC).date()
        now_epoch = int(self.clock().timestamp())
        while day <= last:
            for item in self._query(
                TableName=self.names.calls,
                IndexName=DAY_INDEX,
                KeyConditionExpression="seen_day = :d AND first_seen >= :s",
                ExpressionAttributeValues={":d": _s(day.isoformat()), ":s": _s(start)},
                **projection,
            ):
                if (_str(item, "first_seen") or "") >= end:
                    break
                if not self._expired(item, now_epoch):
                    yield item
            day += timedelta(days=1)

    def calls_between(self, start: str, end: str, limit: int = 1000) -> list[Call]:
        """Calls first seen in [start, end), oldest first: a Query per day of the ``by_day`` index."""
        seen = self._seen()
        found: list[Call] = []
        for item in self._first_seen_between(start, end):
            if len(found) >= limit:
                break
            found.append(self._call_from_item(item, seen))
        return self._with_geo(found)

    def calls_open_at(self, at: str, limit: int = 1000) -> list[Call]:
        """Calls first seen before ``at`` and not closed before it (a replay's starting state),
        oldest first, at most ``limit``; a call reopened since reads as it is now (as on SQLite).
        The ones still open come from the ``open`` index. The ones closed since are picked from
        the ``by_day`` Queries of the ``OPEN_CALL_LOOKBACK`` days before ``at``, asking for the
        few attributes the choice needs, then read whole (BatchGetItem); a call first seen longer
        before the window and closed since is not among them."""
        found = {n: c for n, c in self.open_calls().items() if c.first_seen < at}
        closed_since = [
            str(_str(item, "incident_number"))
            for item in self._first_seen_between(
                shifted(at, -OPEN_CALL_LOOKBACK),
                at,
                ProjectionExpression=OPEN_AT_PROJECTION,
                ExpressionAttributeNames=OPEN_AT_NAMES,
            )
            if (_str(item, "closed_at") or "") >= at
        ]
        seen = self._seen()
        read = [
            self._call_from_item(item, seen)
            for item in self._batch_get(self.names.calls, "incident_number", set(closed_since) - set(found))
        ]
        ordered = sorted(
            [*found.values(), *self._with_geo(read)], key=lambda c: (c.first_seen, c.incident_number)
        )
        return ordered[:limit]

    def count_calls_between(self, start: str, end: str) -> int:
        """How many calls were first seen in [start, end): the ``by_day`` Queries, keys only."""
        return sum(
            1
            for _ in self._first_seen_between(
                start, end, ProjectionExpression="#i, #f, #e", ExpressionAttributeNames=COUNT_NAMES
            )
        )

    def call_facts_between(self, start: str, end: str) -> list[CallFacts]:
        """The narrow facts of the calls first seen in [start, end), for /analytics: the same Query
        per day, with a ProjectionExpression naming the few attributes it needs (the ``facts``
        attribute that materializing writes), so the full call JSON is neither sent nor decoded.
        (DynamoDB still bills the read by item size.) Items written before ``facts`` existed are
        read whole, once each, until their next event rewrites them."""
        found: list[CallFacts] = []
        legacy: list[str] = []
        for item in self._first_seen_between(
            start, end, ProjectionExpression=FACTS_PROJECTION, ExpressionAttributeNames=FACTS_NAMES
        ):
            facts = _str(item, "facts")
            if facts is None:
                legacy.append(str(_str(item, "incident_number")))
                continue
            division, priority, nature, beat = json.loads(facts)
            found.append(
                (str(_str(item, "first_seen")), _str(item, "closed_at"), division, priority, nature, beat)
            )
        for item in self._batch_get(self.names.calls, "incident_number", legacy):
            found.append(call_facts(Call.from_dict(json.loads(_str(item, "data") or "{}"))))
        return found

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

    # -- materializing the read model --------------------------------------------------------------

    def _call_update(self, event: Event) -> Item:
        call = Call.from_dict(event.data["call"])
        values: dict[str, Any] = {
            ":data": _s(_dumps(call.to_dict())),
            ":key": _s(call.location_key),
            ":last_seen": _s(call.last_seen),
            ":first_seen": _s(call.first_seen),
            ":day": _s(call.first_seen[:10]),
            ":facts": _s(_dumps(list(call_facts(call)[2:]))),
            ":id": _n(event.id),
            ":ids": {"NS": [str(event.id)]},
        }
        sets = [
            "#d = :data",
            "location_key = :key",
            "last_seen = :last_seen",
            "first_seen = :first_seen",
            "seen_day = :day",
            "facts = :facts",
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
