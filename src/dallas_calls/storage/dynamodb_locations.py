"""The geocode cache on DynamoDB (table ``locations``), and the locator's commit.

A located answer and its ``location.resolved`` event are written in one transaction
(:meth:`LocationCache.record_locations`): cache items, the event batch and the counter move together
or not at all. Were they two writes, a locator that failed between them would leave a cached answer
that no event announces: the next run would find the key fresh and never emit it, and browsers would
never see that location. Misses are cached in the same transactions (they have no event).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from dallas_calls.model import Event, Geo
from dallas_calls.storage.dynamodb_log import EventLog
from dallas_calls.storage.dynamodb_schema import Item, _dumps, _n, _s, _str, epoch
from dallas_calls.storage.port import Resolved

LOCATIONS_PER_COMMIT = 40  # + counter + batch items: well under the 100 actions of a transaction


class LocationCache(EventLog):
    """Reads and writes of the ``locations`` table."""

    def get_location(self, location_key: str, now: str) -> Geo | None:
        item = self.client.get_item(
            TableName=self.names.locations, Key={"location_key": _s(location_key)}
        ).get("Item")
        if item is None or (_str(item, "expires_iso") or "") <= now:
            return None
        return Geo.from_dict(json.loads(_str(item, "geo") or "{}"))

    def fresh_locations(self, keys: Iterable[str], now: str) -> set[str]:
        """Which of ``keys`` have an unexpired cached geocode (hit or miss)."""
        items = self._batch_get(self.names.locations, "location_key", keys, "location_key, expires_iso")
        return {str(_str(item, "location_key")) for item in items if (_str(item, "expires_iso") or "") > now}

    def _location_set(
        self,
        location_key: str,
        geo: Geo,
        expires_at: str,
        resolved_at: str,
        event_id: int | None = None,
        unless_fresh_at: str | None = None,
    ) -> Item:
        """The update of one cache item (and, with ``event_id``, the id of the event announcing it);
        with ``unless_fresh_at``, only if the key has no answer still fresh at that time."""
        values: dict[str, Any] = {
            ":g": _s(_dumps(geo.to_dict())),
            ":p": _s(geo.precision),
            ":r": _s(resolved_at or expires_at),
            ":e": _s(expires_at),
            ":t": _n(epoch(expires_at)),
        }
        expression = "SET geo = :g, #p = :p, resolved_at = :r, expires_iso = :e, expires_at = :t"
        if event_id is not None:
            expression += " ADD event_ids :ids"
            values[":ids"] = {"NS": [str(event_id)]}
        update: Item = {
            "TableName": self.names.locations,
            "Key": {"location_key": _s(location_key)},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {"#p": "precision"},
            "ExpressionAttributeValues": values,
        }
        if unless_fresh_at is not None:
            update["ConditionExpression"] = "attribute_not_exists(expires_iso) OR expires_iso <= :now"
            values[":now"] = _s(unless_fresh_at)
        return update

    def put_location(self, location_key: str, geo: Geo, expires_at: str, resolved_at: str = "") -> None:
        """Cache one answer on its own (the store port, for the one-machine pipeline)."""
        self.client.update_item(**self._location_set(location_key, geo, expires_at, resolved_at))

    def record_locations(
        self, resolutions: Sequence[Resolved], resolved_at: str, archive_at: datetime
    ) -> list[Event]:
        """Cache the answers and append the events of the located ones: each run of up to
        :data:`LOCATIONS_PER_COMMIT` keys is one transaction (cache items + event batch + counter).
        A key that another locator answered meanwhile (a duplicate SQS delivery racing this one) is
        left to that answer, so each answer is announced once. Returns the stored events in id order."""
        stored: list[Event] = []
        for start in range(0, len(resolutions), LOCATIONS_PER_COMMIT):
            chunk = resolutions[start : start + LOCATIONS_PER_COMMIT]
            stored += self.retry_conflicts(
                partial(self._commit_locations, chunk, resolved_at, archive_at), "locator batch"
            )
        return stored

    def _commit_locations(
        self, chunk: Sequence[Resolved], resolved_at: str, archive_at: datetime
    ) -> list[Event]:
        fresh = self.fresh_locations((r.location_key for r in chunk), resolved_at)
        todo = [r for r in chunk if r.location_key not in fresh]

        def cache_writes(stored: list[Event]) -> list[Item]:
            ids = iter(stored)
            return [
                {
                    "Update": self._location_set(
                        r.location_key,
                        r.geo,
                        r.expires_at,
                        resolved_at,
                        next(ids).id if r.event is not None else None,
                        unless_fresh_at=resolved_at,
                    )
                }
                for r in todo
            ]

        events = [r.event for r in todo if r.event is not None]
        return self.commit_once(events, archive_at, "locator", cache_writes)
