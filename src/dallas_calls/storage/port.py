"""The state-store port: what the stages need from storage, whatever holds it (SQLite, DynamoDB)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dallas_calls.model import Call, CallFacts, ChangeSet, Event, Geo, NewEvent, PollRecord, QuarantinedRow
from dallas_calls.tracking.state import OpenCalls


class Resolved(Protocol):
    """One key's answer (``locating.Resolution``): what to cache, until when, its event if located."""

    @property
    def location_key(self) -> str: ...

    @property
    def geo(self) -> Geo: ...

    @property
    def expires_at(self) -> str: ...

    @property
    def event(self) -> NewEvent | None: ...


class ReadStore(Protocol):
    """What the API reads: enough for the current-calls view, resume, call history and readiness.
    SQLite (one machine) and DynamoDB (API replicas on ECS) both provide it."""

    def open_calls(self) -> dict[str, Call]: ...

    def get_call(self, incident_number: str) -> Call | None: ...

    def calls_between(self, start: str, end: str, limit: int = 1000) -> list[Call]: ...

    def call_facts_between(self, start: str, end: str) -> list[CallFacts]:
        """The narrow facts of every call first seen in [start, end), in no particular order (for
        /analytics: tuples straight from an index, never full calls)."""
        ...

    def calls_open_at(self, at: str, limit: int = 1000) -> list[Call]:
        """Calls first seen before ``at`` and not closed before it, oldest first (a replay's start)."""
        ...

    def count_calls_between(self, start: str, end: str) -> int: ...

    def last_event_id(self) -> int: ...

    def first_event_id(self) -> int | None: ...

    def events_after(self, after_id: int, limit: int = 1000) -> list[Event]: ...

    def events_in_window(self, start: str, end: str, limit: int = 1000) -> list[Event]:
        """Events with ``start <= at < end`` still in the log, in id order (a replay's events)."""
        ...

    def call_events(self, incident_number: str) -> list[Event]: ...

    def last_good_poll(self) -> PollRecord | None: ...


class StateStore(Protocol):
    def open_calls(self) -> dict[str, Call]:
        """Every open call by incident number, with its cached geo attached."""
        ...

    def tracked_calls(self) -> OpenCalls:
        """What the tracker diffs the next snapshot against."""
        ...

    def apply(
        self,
        changes: ChangeSet,
        poll: PollRecord,
        misses: dict[str, int] | None = None,
        quarantined: Sequence[QuarantinedRow] = (),
    ) -> list[Event]:
        """Apply a ChangeSet, append its events and record the poll, all in one transaction.
        ``misses``: consecutive misses of the open calls absent from the snapshot."""
        ...

    def record_poll(self, poll: PollRecord, quarantined: Sequence[QuarantinedRow] = ()) -> None: ...

    def append_events(self, events: Sequence[NewEvent]) -> list[Event]: ...

    def events_after(self, after_id: int, limit: int = 1000) -> list[Event]: ...

    def last_event_id(self) -> int: ...

    def first_event_id(self) -> int | None: ...

    def get_call(self, incident_number: str) -> Call | None: ...

    def call_events(self, incident_number: str) -> list[Event]: ...

    def recent_polls(self, limit: int = 20) -> list[PollRecord]: ...

    def last_good_poll(self) -> PollRecord | None: ...

    def get_location(self, location_key: str, now: str) -> Geo | None:
        """The cached geocode of a key, or None when absent or expired. A cached miss is a Geo with
        precision "none" (negative results are cached too, with a shorter TTL)."""
        ...

    def put_location(self, location_key: str, geo: Geo, expires_at: str) -> None: ...

    def close(self) -> None: ...
