"""Server-Sent Events: framing, filters and the per-client stream with resume.

A client stream never misses or repeats an event. It sends the backlog after the client's last id
(from the in-memory ring, or the store's event log when the ring does not reach back that far),
then the live events from the ring, each time everything after the last id it sent. An id the log
no longer holds, or one too far behind to be worth replaying, gets an ``event: reset`` (reload
``/current-calls/``). A client whose queue overflows gets a final ``event: overflow`` and the stream
ends; it resumes with its last id.

The framing of each event is computed once (by the log that holds it) and shared by every client.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from dallas_calls import metrics
from dallas_calls.events.filters import StreamFilter
from dallas_calls.events.ring import RingEvent, frame

__all__ = ["HEARTBEAT", "EventLog", "RingEvent", "client_stream", "control_frame", "frame", "retry_frame"]

RETRY_MS = 3000
NO_FILTER = StreamFilter()
BACKLOG_PAGE = 500
FUTURE_ID_GRACE_S = 1.0  # how long an id ahead of this replica may wait for the bus to catch up


def control_frame(kind: str, data: dict[str, object], event_id: int | None = None) -> bytes:
    """A stream-control event (``reset``, ``overflow``); ``id`` only when it moves the resume point."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, separators=(",", ":"), sort_keys=True)
    return f"{head}event: {kind}\ndata: {body}\n\n".encode()


HEARTBEAT = b": heartbeat\n\n"


def retry_frame(retry_ms: int = RETRY_MS) -> bytes:
    return f"retry: {retry_ms}\n\n".encode()


class EventLog(Protocol):
    """What a client stream reads: the event log (the in-memory ring of recent events kept by the
    current-calls view, the store behind it) and the shared framing. Clients do not each hold a bus
    subscription: the view is the one subscriber, and each client keeps a cursor into the ring, so
    the cost of an event is paid once, not once per client."""

    async def sync(self) -> None:
        """Apply every event the bus has delivered so far (so the ring holds them)."""

    def latest_id(self) -> int:
        """The newest event id this process knows of (ring or store)."""

    def ring_last_id(self) -> int:
        """The newest event id in the ring."""

    def backlog(self, after_id: int, limit: int) -> list[RingEvent] | None:
        """Events with id > after_id, oldest first (at most ``limit``); [] when there are none;
        None when the log no longer holds events right after ``after_id`` (a gap)."""

    def live_after(self, after_id: int) -> list[RingEvent] | None:
        """Every ring event with id > after_id; None when the ring no longer reaches back to it.
        The list may be shared between clients: callers must not modify it."""

    async def wait_newer(self, after_id: int) -> None:
        """Return once the ring holds an event with id > after_id."""

    def frames_after(self, after_id: int, events: list[RingEvent]) -> bytes:
        """The joined frames of ``events`` (the ring's events after ``after_id``), shared between
        the clients at the same cursor."""

    def frames_matching(self, after_id: int, events: list[RingEvent], flt: StreamFilter) -> bytes:
        """The joined frames of those of ``events`` (as in ``frames_after``) that pass ``flt``;
        what a filter needs of the slice (its area index) is shared by the clients at the cursor."""

    def call_matches(self, incident_number: str, flt: StreamFilter) -> bool | None:
        """Whether a call known to the view passes the filter (None: not known)."""

    def client_joined(self) -> None: ...

    def client_left(self) -> None: ...

    @property
    def epoch(self) -> int:
        """Moves when the log is replaced by another store's: every stream then resets."""

    @property
    def reset_reason(self) -> str:
        """Why the log was last replaced (sent with the reset)."""

    @property
    def store_id(self) -> str | None:
        """The id of the store behind the log (None when it has none)."""

    @property
    def closing(self) -> bool:
        """The server is stopping: streams end (clients reconnect to another replica or later)."""


def _frames(events: Sequence[RingEvent], log: EventLog, flt: StreamFilter) -> bytes:
    return b"".join(e.frame for e in flt.select(events, log))


async def _wait_for_id(log: EventLog, event_id: int, grace_s: float) -> bool:
    """An id ahead of this process: wait briefly for the bus (another replica may be ahead)."""
    deadline = time.monotonic() + grace_s
    while True:
        await log.sync()
        if log.latest_id() >= event_id:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)


def _overflow() -> bytes:
    metrics.SSE_DROPPED.inc()
    return control_frame("overflow", {"reason": "client too slow: reconnect with your last event id"})


async def client_stream(
    log: EventLog,
    after_id: int | None,
    flt: StreamFilter = NO_FILTER,
    queue_size: int = 1000,
    retry_ms: int = RETRY_MS,
    future_grace_s: float = FUTURE_ID_GRACE_S,
    store_id: str | None = None,
    heartbeat_s: float | None = None,
    max_backlog: int | None = None,
) -> AsyncIterator[bytes]:
    """The bytes of one client's event stream (see the module docstring for the guarantees).

    The client's queue is its distance behind the ring's newest event: more than ``queue_size``
    events behind (or behind the ring's start) and it gets ``event: overflow`` and the stream ends.
    ``store_id`` is the store the client's id came from (``/current-calls/`` gives it): an id from
    another store gets a reset. When the log's store is replaced mid-stream, the stream resets.
    With ``heartbeat_s``, a comment is sent after that long without an event (proxies keep the
    connection, clients see it alive); the stream ends when the log is closing.
    """
    log.client_joined()
    metrics.SSE_CLIENTS.inc()
    try:
        await log.sync()  # the ring holds every event the bus delivered so far
        epoch = log.epoch
        first = retry_frame(retry_ms)
        if after_id is None:
            last = log.ring_last_id()
        elif store_id and log.store_id and store_id != log.store_id:
            last = log.latest_id()
            first += control_frame(
                "reset", {"reason": "the event id is from another store", "last_event_id": last}
            )
        elif after_id > log.latest_id() and not await _wait_for_id(log, after_id, future_grace_s):
            last = log.latest_id()
            first += control_frame(
                "reset",
                {"reason": "unknown event id (newer than this server's log)", "last_event_id": last},
            )
        elif max_backlog is not None and log.latest_id() - after_id > max_backlog:
            last = log.latest_id()
            first += control_frame(
                "reset",
                {
                    "reason": f"more than {max_backlog} events behind: reload /current-calls/",
                    "last_event_id": last,
                },
            )
        else:
            last = after_id
        yield first

        while True:  # the backlog, page by page (ring when it reaches back far enough, else store)
            page = log.backlog(last, BACKLOG_PAGE)
            if page is None:
                last = log.latest_id()
                yield control_frame(
                    "reset", {"reason": "event id older than the log keeps", "last_event_id": last}
                )
                break
            if not page:
                break
            chunk = _frames(page, log, flt)
            last = page[-1].id
            if chunk:
                yield chunk

        plain = flt.empty
        while True:  # live: everything the ring holds after the cursor, in one write
            if log.epoch != epoch:  # another store replaced the log's: start again from its state
                epoch, last = log.epoch, log.latest_id()
                yield control_frame("reset", {"reason": log.reset_reason, "last_event_id": last})
            try:
                async with asyncio.timeout(heartbeat_s):
                    await log.wait_newer(last)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if log.closing:
                return
            if log.epoch != epoch:
                continue
            fresh = log.live_after(last)  # shared by the clients at the same cursor: read only
            if fresh is None or len(fresh) > queue_size:
                yield _overflow()
                return
            if not fresh:
                continue
            chunk = log.frames_after(last, fresh) if plain else log.frames_matching(last, fresh, flt)
            last = fresh[-1].id
            if chunk:
                yield chunk
    finally:
        log.client_left()
        metrics.SSE_CLIENTS.dec()
