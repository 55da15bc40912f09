"""The in-memory read model behind ``/current-calls/``, ``/stats`` and SSE resume.

Built once from the store (open calls + last event id), then kept current by the events the bus
delivers: ``call.opened`` / ``call.updated`` / ``call.closed`` and ``location.resolved``. No request
scans a table. What an event does to the calls, and the bodies computed once per change from them
(the encoded body, its gzip form and its strong ETag; ``/stats``), are in ``view_state.py``
(``ViewState``, the base class); this module loads that state, follows the bus and the store, and
serves the client streams.

The view also keeps a bounded ring of recent events with their SSE framing (encoded once, shared by
every client). Resume reads the ring when it covers the client's id, the store otherwise. On an
API-only replica fed by Redis or ``POST /events/`` (ids from elsewhere, not in the local store), the
ring is the only resume source: an id older than the ring gets a ``reset``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from dallas_calls.api.follow import STORE_CHECK_S, InOrder, Lag, read_range
from dallas_calls.api.stats import STATS_HOURS, parse_time
from dallas_calls.api.view_state import ViewState
from dallas_calls.api.wakeups import WakeRounds
from dallas_calls.events.bus import EventBus, Overflow, Subscription
from dallas_calls.events.filters import AreaIndex, StreamFilter
from dallas_calls.events.ring import EventRing, RingEvent
from dallas_calls.mode import ModeState
from dallas_calls.model import Call, Event, iso_utc

log = logging.getLogger(__name__)

DEFAULT_RING_SIZE = 10_000
DEFAULT_RING_BYTES = 4 * 1024 * 1024  # frames kept in the ring, at most (DALLAS_CALLS_SSE_RING_MAX_BYTES)
VIEW_QUEUE_SIZE = 100_000
LOAD_REPLAY = 1000  # newest events applied again on load (see load())
SYNC_CHUNK = 200  # events applied between two turns of the event loop


class EventStore(Protocol):
    """The parts of the state store the view reads."""

    def open_calls(self) -> dict[str, Call]: ...

    def last_event_id(self) -> int: ...

    def first_event_id(self) -> int | None: ...

    def events_after(self, after_id: int, limit: int = 1000) -> list[Event]: ...

    def calls_between(self, start: str, end: str, limit: int = 1000) -> list[Call]: ...


class CurrentCallsView(ViewState):
    """The view: a ``ViewState`` loaded from ``store`` and kept current by the bus, and the
    ``EventLog`` (``events/sse.py``) the client streams read."""

    def __init__(
        self,
        store: EventStore,
        ring_size: int = DEFAULT_RING_SIZE,
        mode: ModeState | None = None,
        ring_max_bytes: int = DEFAULT_RING_BYTES,
        ring_min_events: int = 0,
    ) -> None:
        # The newest events, framed (see events/ring.py): at most ``ring_size`` of them and
        # ``ring_max_bytes`` of frames, never fewer than ``ring_min_events`` (a queue's worth).
        super().__init__(EventRing(ring_size, ring_max_bytes, ring_min_events), mode or ModeState())
        self.store = store
        # Bumped when the store is replaced (a demo loop, the switch to live): every client stream
        # then gets a reset. Ids below ``id_floor`` belong to an earlier store: resuming from one
        # gets a reset too.
        self.epoch = 0
        self.id_floor = 0
        self.reset_reason = ""
        self.closing = False
        self._sub: Subscription | None = None
        self._bus: EventBus | None = None
        self._task: asyncio.Task[None] | None = None
        self._wakeups = WakeRounds()  # the client streams waiting for newer events
        self._order = InOrder(lambda: self.last_event_id, self._apply_one)
        self.lag = Lag()
        self._watch: asyncio.Task[None] | None = None
        self._joined: tuple[int, int, bytes] | None = None  # (after, upto, frames) shared by clients
        self._indexed: tuple[int, int, AreaIndex[RingEvent]] | None = None  # (after, upto, index) likewise
        # (after, ring generation, events): the slice shared by the clients at the same cursor
        self._live: tuple[int, int, list[RingEvent]] | None = None
        self.clients = 0

    # -- building ------------------------------------------------------------------------------

    def load(self) -> None:
        """(Re)build from the store: its open calls, then its newest ``LOAD_REPLAY`` events again.
        Events carry whole calls, so applying them again is harmless, and it makes the view right
        even when the store's calls lag its event log (the AWS tracker commits the log first): a
        replica starting between the two still ends in the log's state."""
        self.store_id = getattr(self.store, "store_id", None)
        last = self.store.last_event_id()
        self.calls = {n: c.to_dict() for n, c in self.store.open_calls().items()}
        self._by_key = {}
        for number, call in self.calls.items():
            self._by_key.setdefault(str(call.get("location_key")), set()).add(number)
        start = max(last - LOAD_REPLAY, 0)
        replay = self.store.events_after(start, LOAD_REPLAY) if last else []
        self.last_event_id = start if replay else last
        self.ring.clear(replay[0].id - 1 if replay else last)
        self._order.held.clear()
        for event in replay:
            self._apply_replayed(event)
        self.last_event_id = max(self.last_event_id, last)
        self._joined = self._live = None
        self._generation += 1
        self._load_recent_closed()
        self._changed()
        self._notify()

    def replace_store(self, store: EventStore, reason: str) -> None:
        """Serve another store from now on (its ids start above this one's): rebuild from it and
        tell every client stream to reset. Call after ``sync()``, with no await in between."""
        self.store = store
        self.recent_closed = {}
        self.load()
        self.id_floor = self.last_event_id
        self.reset_reason = reason
        self.epoch += 1
        self._notify()

    def _load_recent_closed(self) -> None:
        anchor = datetime.now(UTC)
        newest = max((parse_time(c.get("last_seen")) for c in self.calls.values()), default=None, key=_key)
        if newest is not None:
            anchor = newest
        start, end = anchor - timedelta(hours=STATS_HOURS + 1), anchor + timedelta(hours=1)
        try:
            recent = self.store.calls_between(iso_utc(start), iso_utc(end), limit=50_000)
        except Exception as exc:  # stats history is a nicety; never fail startup for it
            log.warning("could not load recently closed calls: %s", exc)
            return
        for call in recent:
            if call.closed_at is not None:
                at = parse_time(call.received_at) or parse_time(call.first_seen)
                if at is not None:
                    self.recent_closed[call.incident_number] = at

    def attach(self, bus: EventBus) -> None:
        """Subscribe to the bus and start applying its events (call from the running loop); check
        the store every few seconds for events the bus did not bring."""
        self._bus = bus
        self._sub = bus.subscribe(VIEW_QUEUE_SIZE)
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="current-calls-view")
        self._watch = loop.create_task(self._watch_store(), name="current-calls-store-check")

    async def _watch_store(self) -> None:
        while True:
            await asyncio.sleep(STORE_CHECK_S)
            await self.catch_up()

    async def catch_up(self) -> int:
        """Read what the store holds beyond this view and apply it; returns how many events."""
        store = self.store
        try:
            latest = await asyncio.to_thread(store.last_event_id)
            after = self.last_event_id
            missing = await asyncio.to_thread(read_range, store, after, latest) if latest > after else []
        except Exception as exc:
            self.lag.error = f"{type(exc).__name__}: {exc}"
            return 0
        if store is not self.store:  # replaced meanwhile: the new store's view is already loaded
            return 0
        before = self.last_event_id
        for event in missing:
            self._order.offer(event, store)
        if self._order.held:
            self._order.drain(store)
        self.lag.record(latest, self.last_event_id)
        self.lag.log_now(log)
        applied = self.last_event_id - before
        if applied > 0:
            log.info("caught up %d event ids from the store that the bus did not bring", applied)
            self._notify()
        return max(applied, 0)

    async def detach(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sub is not None:
            self._sub.close()
            self._sub = None

    async def _run(self) -> None:
        while True:
            sub = self._sub
            assert sub is not None
            try:
                event = await sub.get()
            except Overflow:
                self._recover()
                self._notify()
                continue
            self.apply(event)
            await self.sync()  # the rest of a batch, then one wake-up for the clients
            self._notify()

    def _recover(self) -> None:
        """The view's own queue overflowed (a flood): resubscribe. The events it missed are read
        from the store's log in id order (``InOrder``) when the next one arrives, or by the next
        store check, before any later event is applied."""
        log.warning("current-calls view fell behind the bus; catching up from the event log")
        assert self._bus is not None
        if self._sub is not None:
            self._sub.close()
        self._sub = self._bus.subscribe(VIEW_QUEUE_SIZE)

    async def sync(self) -> None:
        """Apply every event already delivered to the view's queue. ``get()`` on a queue that is not
        empty returns without suspending, so each event is taken and applied in one step, in order
        (even when several callers sync at once); after every ``SYNC_CHUNK`` events the loop gets a
        turn, so a burst of 25,000 events never holds up the other requests for long."""
        sub = self._sub
        applied = 0
        while sub is not None and sub.pending():
            try:
                event = await sub.get()
            except Overflow:
                self._recover()
                applied += 1
                break
            self.apply(event)
            applied += 1
            if applied % SYNC_CHUNK == 0:
                self._notify()
                await asyncio.sleep(0)
                sub = self._sub
        if applied:
            self._notify()

    def _notify(self) -> None:
        """Newer events are in the ring (or the store changed): wake the waiting client streams,
        in coalesced rounds (see ``WakeRounds``)."""
        self._wakeups.notify()

    # -- applying events (in id order; what each one does: ViewState) --------------------------

    def apply(self, event: Event) -> None:
        """Apply one event from the bus, in id order (gaps are filled from the store first)."""
        self._order.offer(event, self.store)

    # -- the EventLog of SSE streams -----------------------------------------------------------

    def latest_id(self) -> int:
        return max(self.last_event_id, self.store.last_event_id())

    def ring_last_id(self) -> int:
        return self.ring.last_id()

    def live_after(self, after_id: int) -> list[RingEvent] | None:
        """The ring's events after ``after_id``. After a wake-up every client at the same cursor asks
        for the same slice: it is cut once and shared (read-only) until the ring changes."""
        if after_id < self.ring_floor:
            return None
        cached = self._live
        if cached is not None and cached[0] == after_id and cached[1] == self._generation:
            return cached[2]
        fresh = self.ring.after(after_id)
        self._live = (after_id, self._generation, fresh)
        return fresh

    def close_streams(self) -> None:
        """The server is stopping: end every client stream now (they reconnect by id)."""
        self.closing = True
        self._wakeups.wake_all()

    async def wait_newer(self, after_id: int) -> None:
        epoch = self.epoch
        while self.ring_last_id() <= after_id and self.epoch == epoch and not self.closing:
            await self._wakeups.wait(self.clients)

    def frames_after(self, after_id: int, events: list[RingEvent]) -> bytes:
        if not events:
            return b""
        upto = events[-1].id
        cached = self._joined
        if cached is not None and cached[0] == after_id and cached[1] == upto:
            return cached[2]
        joined = b"".join(e.frame for e in events)
        self._joined = (after_id, upto, joined)
        return joined

    def frames_matching(self, after_id: int, events: list[RingEvent], flt: StreamFilter) -> bytes:
        """The frames of the ``events`` (the ring's after ``after_id``) that pass ``flt``: the
        slice's area index is built once and shared by the clients at the same cursor (a filtered
        client looks only at the events near its area), the frames are the shared ones."""
        if not events:
            return b""
        index = None
        if flt.area is not None:
            upto = events[-1].id
            cached = self._indexed
            if cached is not None and cached[0] == after_id and cached[1] == upto:
                index = cached[2]
            else:
                index = AreaIndex(events)
                self._indexed = (after_id, upto, index)
        return b"".join(e.frame for e in flt.select(events, self, index))

    def client_joined(self) -> None:
        self.clients += 1

    def client_left(self) -> None:
        self.clients -= 1

    def ring_events(self) -> list[RingEvent]:
        return self.ring.entries()

    def backlog(self, after_id: int, limit: int) -> list[RingEvent] | None:
        if after_id < self.id_floor:
            return None  # an id of the store this one replaced
        if after_id >= self.ring_floor:
            return self.ring.after(after_id, limit)
        first = self.store.first_event_id()
        if first is not None and after_id < first - 1:
            return None  # pruned
        page = self.store.events_after(after_id, limit)
        if not page:
            # Nothing after after_id in the store, yet the ring starts later: the gap is lost.
            return None if after_id < self.ring_floor else []
        return [RingEvent.of(e) for e in page]

    def call_matches(self, incident_number: str, flt: StreamFilter) -> bool | None:
        call = self.calls.get(incident_number)
        if call is None:
            return None
        return flt.matches_call(call.get("division"), call.get("priority"))


def _key(value: datetime | None) -> datetime:
    return value or datetime.min.replace(tzinfo=UTC)
