"""The state of the current-calls view and what one event does to it: the open calls (indexed by
location key), the calls closed in the last day (for ``/stats``), the ring of recent events with
their SSE framing, and the bodies computed from them: the encoded ``/current-calls/`` body, its gzip
form and its strong ETag, and ``/stats``, each computed once per change.

Synchronous and free of I/O, apart from ``view.py`` (``CurrentCallsView``, its subclass), which loads
this state from the store, keeps it current from the bus in id order and serves the client streams:
what an event changes reads here on its own, without the asyncio plumbing around it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dallas_calls.api.stats import STATS_HOURS, call_stats, parse_time
from dallas_calls.events.ring import EventRing, RingEvent
from dallas_calls.mode import ModeState
from dallas_calls.model import Event, iso_utc

RECENT_CLOSED_BOUND = 20_000  # closed calls kept for the opened-per-hour chart


@dataclass(frozen=True, slots=True)
class Rendered:
    """One version of the ``/current-calls/`` body."""

    body: bytes
    gzipped: bytes
    etag: str
    last_event_id: int


class ViewState:
    """The calls, the ring and the rendered bodies; ``CurrentCallsView`` feeds it events."""

    def __init__(self, ring: EventRing, mode: ModeState) -> None:
        self.mode = mode
        self.store_id: str | None = None
        self._rendered_mode = -1
        self.ring = ring
        self.calls: dict[str, dict[str, Any]] = {}
        self._by_key: dict[str, set[str]] = {}  # location key -> open incident numbers
        self.last_event_id = 0
        self.as_of: str = iso_utc(datetime.now(UTC))
        self.version = 0
        # closed calls of the last day: incident -> received time (for opened-per-hour)
        self.recent_closed: dict[str, datetime] = {}
        self._rendered: Rendered | None = None
        self._stats_cache: tuple[int, dict[str, Any]] | None = None
        self._generation = 0  # bumped whenever the ring changes

    # -- applying events -----------------------------------------------------------------------

    def _apply_replayed(self, event: Event) -> None:
        """An event applied again at load: it changes a call only where the store's calls do not
        already show it or something later (a call seen later than the event keeps the store's
        version; a location only fills calls that have none), so a store whose calls are up to
        date loads exactly as it is, and one whose calls lag its log catches up."""
        data = event.data if isinstance(event.data, dict) else {}
        call = data.get("call")
        stale = False
        if event.type in ("call.opened", "call.updated") and isinstance(call, dict):
            known = self.calls.get(str(call.get("incident_number")))
            stale = known is not None and str(known.get("last_seen") or "") >= str(
                call.get("last_seen") or ""
            )
        elif event.type == "location.resolved":
            incidents = {str(n) for n in data.get("incident_numbers") or ()}
            stale = all(isinstance(self.calls[n].get("geo"), dict) for n in incidents if n in self.calls)
        if not stale:
            self._apply_one(event)
        elif event.id > self.last_event_id:  # in the ring for resume, without touching the calls
            self.last_event_id = event.id
            self._remember(event)

    def _apply_one(self, event: Event) -> None:
        if event.id <= self.last_event_id:
            return
        data = event.data if isinstance(event.data, dict) else {}
        call = data.get("call")
        if event.type in ("call.opened", "call.updated") and isinstance(call, dict):
            number = str(call.get("incident_number"))
            self._drop_call(number)
            self.calls[number] = call
            self._by_key.setdefault(str(call.get("location_key")), set()).add(number)
            self.recent_closed.pop(number, None)  # a reopened call counts once, as open
        elif event.type == "call.closed" and isinstance(call, dict):
            number = str(call.get("incident_number"))
            self._drop_call(number)
            at = parse_time(call.get("received_at")) or parse_time(call.get("first_seen"))
            if at is not None:
                self.recent_closed[number] = at
                if len(self.recent_closed) > RECENT_CLOSED_BOUND:
                    self._forget_old_closed(at)
        elif event.type == "location.resolved":
            self._apply_location(data)
        self.last_event_id = event.id
        self.as_of = event.at
        self._remember(event)
        self._changed()

    def _forget_old_closed(self, now: datetime) -> None:
        """Calls closed long before the stats window count for nothing: drop them (a server that
        nobody asks for /stats must not keep every call it ever closed)."""
        cutoff = now - timedelta(hours=STATS_HOURS + 1)
        self.recent_closed = {n: at for n, at in self.recent_closed.items() if at >= cutoff}
        if len(self.recent_closed) > RECENT_CLOSED_BOUND:  # a day busier than the bound: keep the newest
            newest = sorted(self.recent_closed.items(), key=lambda item: item[1])[-RECENT_CLOSED_BOUND // 2 :]
            self.recent_closed = dict(newest)

    def _drop_call(self, number: str) -> None:
        call = self.calls.pop(number, None)
        if call is not None:
            numbers = self._by_key.get(str(call.get("location_key")))
            if numbers is not None:
                numbers.discard(number)
                if not numbers:
                    del self._by_key[str(call.get("location_key"))]

    def _apply_location(self, data: dict[str, Any]) -> None:
        """A location for the calls it names and every open call at its key (by the key index:
        a burst of locations costs what it touches, not the number of open calls each)."""
        key, geo = data.get("location_key"), data.get("geo")
        if not isinstance(geo, dict):
            return
        incidents = {str(n) for n in data.get("incident_numbers") or ()}
        if key is not None:
            incidents |= self._by_key.get(str(key), set())
        for number in incidents:
            call = self.calls.get(number)
            if call is not None:
                self.calls[number] = {**call, "geo": geo}

    def _remember(self, event: Event) -> None:
        self._generation += 1
        self.ring.append(RingEvent.of(event))

    @property
    def ring_size(self) -> int:
        """The most events the ring keeps."""
        return self.ring.max_events

    @ring_size.setter
    def ring_size(self, value: int) -> None:
        self.ring.max_events = value
        self.ring.min_events = min(self.ring.min_events, value)

    @property
    def ring_floor(self) -> int:
        """Every event with an id above this one (up to the newest) is in the ring."""
        return self.ring.floor

    def _changed(self) -> None:
        self.version += 1
        self._rendered = None

    # -- /current-calls/ -----------------------------------------------------------------------

    def rendered(self) -> Rendered:
        if self._rendered is None or self._rendered_mode != self.mode.version:
            self._rendered_mode = self.mode.version
            calls = [self.calls[n] for n in sorted(self.calls)]
            body = json.dumps(
                {
                    "current_active_calls": calls,
                    "last_event_id": self.last_event_id,
                    "as_of": self.as_of,
                    "store_id": self.store_id,
                    **self.mode.current.to_dict(),
                },
                separators=(",", ":"),
            ).encode()
            digest = hashlib.blake2b(body, digest_size=12).hexdigest()
            self._rendered = Rendered(
                body=body,
                gzipped=gzip.compress(body, compresslevel=6, mtime=0),
                etag=f'"{self.last_event_id}-{digest}"',
                last_event_id=self.last_event_id,
            )
        return self._rendered

    # -- /stats --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """``/stats``, computed once per change of the view."""
        if self._stats_cache is None or self._stats_cache[0] != self.version:
            self._stats_cache = (self.version, call_stats(self.calls, self.recent_closed, self.as_of))
        return self._stats_cache[1]
