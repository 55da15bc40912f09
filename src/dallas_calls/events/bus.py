"""The in-process event bus: every subscriber gets every event, in id order, through its own
bounded queue. A subscriber that falls behind is cut off (it can resume by id) instead of slowing
the publisher or the other subscribers; the prototype this replaces shared one queue between all
clients, so each event reached only one of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from dallas_calls.model import Event

DEFAULT_QUEUE_SIZE = 1000


class Overflow(Exception):
    """Raised to a subscriber whose queue filled up: it missed events and must resume by id."""


class EventBus(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...

    def subscribe(self, maxsize: int = DEFAULT_QUEUE_SIZE) -> Subscription: ...

    @property
    def subscriber_count(self) -> int: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


_OVERFLOW = object()


class Subscription:
    """One subscriber's queue. Iterate it for events; leaving the iteration (or close()) unsubscribes."""

    def __init__(self, bus: LocalBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=maxsize + 1)
        self.maxsize = maxsize
        self.overflowed = False
        self.closed = False

    def offer(self, event: Event) -> None:
        """Called by the bus; never blocks. On a full queue the subscriber is marked overflowed."""
        if self.overflowed or self.closed:
            return
        if self._queue.qsize() >= self.maxsize:
            self.overflowed = True
            self._queue.put_nowait(_OVERFLOW)  # the one slot kept free for this marker
            self._bus.dropped += 1
            return
        self._queue.put_nowait(event)

    async def get(self) -> Event:
        item = await self._queue.get()
        if item is _OVERFLOW:
            raise Overflow()
        assert isinstance(item, Event)
        return item

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        try:
            while True:
                yield await self.get()
        finally:
            self.close()


class LocalBus:
    """Fan-out inside one process (the default)."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self.published = 0
        self.dropped = 0
        self.last_id = 0

    async def publish(self, events: Sequence[Event]) -> None:
        self.deliver(events)

    def deliver(self, events: Sequence[Event]) -> None:
        """Hand events to every subscriber; ids at or below the last delivered one are skipped, so
        a duplicate delivery (e.g. a replayed ingest) never reaches a client twice."""
        for event in events:
            if event.id <= self.last_id:
                continue
            self.last_id = event.id
            self.published += 1
            for sub in tuple(self._subscribers):
                sub.offer(event)

    def subscribe(self, maxsize: int = DEFAULT_QUEUE_SIZE) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for sub in tuple(self._subscribers):
            sub.close()
