"""Keeping a replica's view in step with the store: the store's event log is the truth, the bus is
only a doorbell.

The view applies events strictly in id order. An event with a gap before it (the bus lost some, a
publisher gave up on a batch, another replica's ingest was missed) is held back while the missing
ids are read from the store's log; they are applied first, so every client stream still sees each
id once, in order. When the store cannot be read just then, the events stay held and the next check
(``StoreWatch``, every few seconds, also the cure for a bus that lost everything) tries again. Ids
the store does not have either (a replica fed only by ``POST /events/``, or ids skipped on purpose
when one store took over from another) are accepted as a jump: nothing can fill them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from dallas_calls.model import Event

log = logging.getLogger(__name__)

STORE_CHECK_S = 2.0  # how often a replica compares itself with the store
MAX_LAG_S = 10.0
LAG_LOG_EVERY_S = 60.0  # how often an in-step replica says so in its log  # behind the store for longer than this: /readyz fails
READ_PAGE = 1000


class EventLog(Protocol):
    def events_after(self, after_id: int, limit: int = 1000) -> list[Event]: ...

    def last_event_id(self) -> int: ...


def read_range(log_store: EventLog, after_id: int, upto_id: int) -> list[Event]:
    """Events with after_id < id <= upto_id from the store's log, in order."""
    out: list[Event] = []
    cursor = after_id
    while cursor < upto_id:
        page = [e for e in log_store.events_after(cursor, READ_PAGE) if e.id <= upto_id]
        if not page:
            break
        out.extend(page)
        cursor = page[-1].id
    return out


class InOrder:
    """Applies events in id order, filling gaps from the store (see the module docstring)."""

    def __init__(self, last_id: Callable[[], int], apply_one: Callable[[Event], None]) -> None:
        self._last_id = last_id
        self._apply_one = apply_one
        self.held: dict[int, Event] = {}
        self.filled = 0  # events read from the store to close a gap
        self.fill_failed = False

    def offer(self, event: Event, store: EventLog) -> None:
        last = self._last_id()
        if event.id <= last:
            return  # already applied: a redelivered or replayed event is harmless
        if event.id == last + 1 and not self.held:
            self._apply_one(event)
            return
        self.held[event.id] = event
        self.drain(store)

    def drain(self, store: EventLog) -> None:
        """Apply the held events, reading the ids missing before each from the store."""
        while self.held:
            first = min(self.held)
            last = self._last_id()
            if first <= last:
                del self.held[first]
                continue
            if first > last + 1:
                try:
                    missing = read_range(store, last, first - 1)
                except Exception as exc:  # retried by the next check
                    if not self.fill_failed:
                        log.warning("cannot read ids %d..%d from the store: %s", last + 1, first - 1, exc)
                    self.fill_failed = True
                    return
                self.fill_failed = False
                for event in missing:
                    self._apply_one(event)
                self.filled += len(missing)
            self._apply_one(self.held.pop(first))


class Lag:
    """How far a replica is behind the store, for ``/readyz``."""

    def __init__(self) -> None:
        self.events: int | None = None  # store's last id minus the view's (None: not checked yet)
        self.behind_since: float | None = None
        self.error: str | None = None  # why the last check could not read the store
        self.checked_at = time.monotonic()  # the last check that could
        self._logged_at = 0.0

    def record(self, store_last: int, view_last: int) -> None:
        self.error = None
        self.checked_at = time.monotonic()
        self.events = max(store_last - view_last, 0)
        if self.events == 0:
            self.behind_since = None
        elif self.behind_since is None:
            self.behind_since = time.monotonic()

    def log_now(self, logger: logging.Logger) -> None:
        """A line with ``replica_lag_s`` (and ``store_lag_events``) each check while behind, once a
        minute while in step: with JSON logs, a CloudWatch metric filter makes it the replica-lag
        metric that the deployment's alarm watches."""
        now = time.monotonic()
        behind = self.behind_s()
        if behind == 0.0 and now - self._logged_at < LAG_LOG_EVERY_S:
            return
        self._logged_at = now
        logger.info(
            "store lag %.1f s (%s events)",
            behind,
            self.events,
            extra={"replica_lag_s": round(behind, 1), "store_lag_events": self.events},
        )

    def behind_s(self) -> float:
        return 0.0 if self.behind_since is None else time.monotonic() - self.behind_since

    def report(self) -> dict[str, object]:
        """A replica is in step unless it has been behind, or unable to read the store, for longer
        than ``MAX_LAG_S`` (one slow check is not a reason to leave the load balancer)."""
        behind = self.behind_s()
        blind = time.monotonic() - self.checked_at
        return {
            "store_lag_events": self.events,
            "store_behind_s": round(behind, 1),
            "store_check_error": self.error,
            "in_step": behind <= MAX_LAG_S and blind <= MAX_LAG_S + STORE_CHECK_S,
        }
