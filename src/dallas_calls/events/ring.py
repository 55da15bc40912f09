"""The in-memory ring of recent events that SSE streams read: compact, bounded by count and bytes.

Each entry keeps an event's SSE frame (bytes, made once and shared by every client) and the few
fields the stream filters and the call page read, not the event's decoded data: a call event's
data is a whole call, about 3-5 KiB of Python objects, where its frame is about 1 KiB in one
object. So a full ring costs a known number of bytes, and the garbage collector walks two objects
per entry instead of five or more.

The ring is bounded twice: at most ``max_events`` entries, and frames of at most ``max_bytes`` in
all, but never fewer than ``min_events`` entries (a live client at most a queue behind must still
find its cursor in the ring). Older ids are served from the store by the view, when it has one.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from typing import Any

from dallas_calls.events.encode import event_json
from dallas_calls.events.filters import EventFacts
from dallas_calls.model import Event


def frame(event: Event) -> bytes:
    """One event in SSE framing: ``id``, ``event`` (its type) and ``data`` (its JSON)."""
    return f"id: {event.id}\nevent: {event.type}\ndata: {event_json(event)}\n\n".encode()


@dataclass(frozen=True, slots=True)
class RingEvent:
    """An event as the ring keeps it: its id, type, the incident / location it concerns, its frame
    and its filter facts."""

    id: int
    type: str
    incident_number: str | None
    location_key: str | None
    frame: bytes
    facts: EventFacts

    @classmethod
    def of(cls, event: Event) -> RingEvent:
        return cls(
            event.id,
            event.type,
            event.incident_number,
            event.location_key,
            frame(event),
            EventFacts.of(event),
        )

    def to_dict(self) -> dict[str, Any]:
        """The event's wire form, decoded again from its frame (for the rare reader that needs the
        data: the call page of an API-only replica)."""
        start = self.frame.index(b"\ndata: ") + len(b"\ndata: ")
        decoded: dict[str, Any] = json.loads(self.frame[start:].rstrip(b"\n"))
        return decoded


class EventRing:
    """The newest events in id order, with ``floor``: every event with an id above it (up to the
    newest) is in the ring."""

    def __init__(self, max_events: int, max_bytes: int, min_events: int = 0) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.min_events = min(min_events, max_events)
        self.floor = 0
        self.bytes = 0
        self._ids: list[int] = []
        self._entries: list[RingEvent] = []
        self._start = 0  # index of the oldest live entry

    def clear(self, floor: int) -> None:
        self.floor = floor
        self.bytes = 0
        self._ids, self._entries, self._start = [], [], 0

    def __len__(self) -> int:
        return len(self._ids) - self._start

    def last_id(self) -> int:
        return self._ids[-1] if len(self._ids) > self._start else self.floor

    def append(self, entry: RingEvent) -> None:
        self._ids.append(entry.id)
        self._entries.append(entry)
        self.bytes += len(entry.frame)
        drop = 0
        live = len(self)
        while live - drop > self.max_events or (
            self.bytes > self.max_bytes and live - drop > max(self.min_events, 1)
        ):
            self.bytes -= len(self._entries[self._start + drop].frame)
            drop += 1
        if drop:
            self.floor = self._ids[self._start + drop - 1]
            self._start += drop
            # Compact once a quarter of the list is dropped entries (amortized O(1)): they hold their
            # frames until then, so the ring's memory stays within a quarter of its bound.
            if self._start >= max(len(self) // 4, 64):
                del self._ids[: self._start]
                del self._entries[: self._start]
                self._start = 0

    def after(self, after_id: int, limit: int | None = None) -> list[RingEvent]:
        """The entries with id > ``after_id`` (at most ``limit``), oldest first."""
        start = bisect.bisect_right(self._ids, after_id, lo=self._start)
        return self._entries[start:] if limit is None else self._entries[start : start + limit]

    def entries(self) -> list[RingEvent]:
        return self._entries[self._start :]
