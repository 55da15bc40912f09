"""One poll, stage by stage: fetch → archive raw → parse → diff → guard → store → archive changes
→ publish. Locating calls (:mod:`dallas_calls.locating`) runs after, on its own pace, so a slow
geocoder never delays a poll.

The stages are pure functions from the core packages; this module only wires them to the ports
(snapshot source, state store, object store, event bus), and records every poll's outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dallas_calls import metrics
from dallas_calls.archive.keys import changes_key, raw_key
from dallas_calls.archive.store import ObjectStore, decode_changes, encode_changes
from dallas_calls.events.bus import EventBus
from dallas_calls.events.encode import event_from_dict
from dallas_calls.feed.schema import parse_rows
from dallas_calls.feed.source import ReplayExhausted, Snapshot, SnapshotSource
from dallas_calls.gcpause import collector_paused
from dallas_calls.locating import CallLocator, locate_pending_keys
from dallas_calls.model import Call, CallUpdate, ChangeSet, Event, Geo, PollRecord, QuarantinedRow, iso_utc
from dallas_calls.storage.sqlite import SqliteStore
from dallas_calls.tracking.diff import DEFAULT_CLOSE_AFTER_POLLS, diff_snapshot
from dallas_calls.tracking.guard import (
    DEFAULT_MAX_DROP_FRACTION,
    DEFAULT_MIN_OPEN,
    GuardDecision,
    guard_changes,
)
from dallas_calls.tracking.snapshot import group_rows
from dallas_calls.tracking.state import OpenCalls

log = logging.getLogger(__name__)

MAX_KEYS_PER_SECOND = 1000


@dataclass(slots=True)
class PollResult:
    outcome: str
    rows: int = 0
    quarantined: int = 0
    opened: int = 0
    updated: int = 0
    closed: int = 0
    last_event_id: int = 0
    reason: str | None = None
    snapshot_key: str | None = None
    events: list[Event] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The `poll --json` object."""
        return {
            "outcome": self.outcome,
            "rows": self.rows,
            "quarantined": self.quarantined,
            "opened": self.opened,
            "updated": self.updated,
            "closed": self.closed,
            "last_event_id": self.last_event_id,
            "reason": self.reason,
            "snapshot_key": self.snapshot_key,
        }


def archive_raw(archive: ObjectStore, body: bytes, fetched_at: datetime) -> tuple[datetime, str]:
    """Write the raw snapshot (``Snapshot.archived``: bytes, so no content can fail it) under its
    time key, before anything else. Keys have one-second resolution: the same snapshot again (a
    replay) reuses its key; a different one fetched in the same second takes the next free
    sequence number of that second (``HHMMSSZ_001.json.gz``, which sorts after ``HHMMSSZ.json.gz``),
    so no snapshot ever overwrites another and the key still names the second it was fetched in,
    however fast the polls come."""
    for seq in range(MAX_KEYS_PER_SECOND):
        key = raw_key(fetched_at, seq)
        if not archive.exists(key):
            archive.put(key, body)
            return fetched_at, key
        if archive.get(key) == body:
            return fetched_at, key
    raise RuntimeError(f"more than {MAX_KEYS_PER_SECOND} snapshots in the second of {raw_key(fetched_at)}")


def count_events(events: Sequence[Event]) -> None:
    """Add events to the metrics, one increment per type (not per event: a busy poll has thousands)."""
    for kind, count in Counter(e.type for e in events).items():
        metrics.EVENTS.labels(kind).inc(count)


def write_change_record(archive: ObjectStore, events: Sequence[Event], at: datetime) -> str:
    """Merge ``events`` into the change record of ``at`` (by id: two batches in the same second,
    or the same batch written twice, give one record in id order). Returns the key."""
    key = changes_key(at)
    earlier: list[Event] = []
    if key in set(archive.list(key)):
        earlier = [event_from_dict(d) for d in decode_changes(archive.get(key))]
    merged = {e.id: e for e in [*earlier, *events]}
    archive.put(key, encode_changes([merged[i] for i in sorted(merged)]))
    return key


GeoLookup = Callable[[str], Geo | None]


def with_cached_geo(changes: ChangeSet, lookup: GeoLookup) -> ChangeSet:
    """Give new calls (and calls whose location changed) a geo already in the cache, so their first
    event already places them. ``lookup(location_key)`` is asked once per key; only a located geo
    (lat set) is attached."""
    cache: dict[str, Geo | None] = {}

    def attach(call: Call) -> Call:
        if call.geo is not None:
            return call
        if call.location_key not in cache:
            cache[call.location_key] = lookup(call.location_key)
        geo = cache[call.location_key]
        return call.with_changes(geo=geo) if geo is not None and geo.lat is not None else call

    return ChangeSet(
        opened=tuple(attach(c) for c in changes.opened),
        updated=tuple(CallUpdate(attach(u.call), u.changes) for u in changes.updated),
        closed=changes.closed,
    )


@dataclass(frozen=True, slots=True)
class PollPlan:
    """What one snapshot does to the stored state, decided before anything is written."""

    decision: GuardDecision  # ok / held, with the reason
    changes: ChangeSet  # what to apply: guarded (closes held back), cached geo attached
    seen: tuple[str, ...]  # incident numbers present in the snapshot (their last_seen moves)
    misses: dict[str, int]  # open calls absent from the snapshot: consecutive misses, this one included
    rows: int  # raw rows in the snapshot
    quarantined: list[QuarantinedRow]
    open_before: int

    @property
    def open_after(self) -> int:
        reopened = sum(1 for u in self.changes.updated if u.reopened)
        return self.open_before + len(self.changes.opened) + reopened - len(self.changes.closed)


def plan_poll(
    stored: OpenCalls,
    raw_rows: Sequence[Any],
    now: str,
    previous_held: bool,
    geo_lookup: GeoLookup,
    min_open: int = DEFAULT_MIN_OPEN,
    max_drop_fraction: float = DEFAULT_MAX_DROP_FRACTION,
    close_after: int = DEFAULT_CLOSE_AFTER_POLLS,
) -> PollPlan:
    """Parse → group → diff → guard → attach cached geo: the tracker stage, pure but for the reads
    of ``stored`` and ``geo_lookup``. Both runtimes (``Pipeline.process`` and the AWS tracker) call
    this. A held poll still counts its absences: it only holds back the closes."""
    rows, quarantined = parse_rows(list(raw_rows))
    snapshot = group_rows(rows)
    diff = diff_snapshot(stored, snapshot, now, close_after)
    open_before = len(stored.fingerprints)
    decision = guard_changes(
        diff.changes,
        open_before=open_before,
        snapshot_size=len(snapshot),
        previous_held=previous_held,
        missing=len(diff.misses),
        min_open=min_open,
        max_drop_fraction=max_drop_fraction,
    )
    return PollPlan(
        decision=decision,
        changes=with_cached_geo(decision.changes, geo_lookup),
        seen=tuple(snapshot),
        misses=diff.misses,
        rows=len(raw_rows),
        quarantined=quarantined,
        open_before=open_before,
    )


class StageFailed(Exception):
    """A stage of a poll failed: ``stage: cause`` becomes the failed poll's reason."""

    def __init__(self, stage: str, cause: BaseException, key: str | None = None) -> None:
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
        self.key = key


class Pipeline:
    def __init__(
        self,
        store: SqliteStore,
        archive: ObjectStore,
        bus: EventBus | None = None,
        locator: CallLocator | None = None,
        min_open: int = DEFAULT_MIN_OPEN,
        max_drop_fraction: float = DEFAULT_MAX_DROP_FRACTION,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        close_after: int = DEFAULT_CLOSE_AFTER_POLLS,
    ) -> None:
        self.store = store
        self.archive = archive
        self.bus = bus
        self.locator = locator
        self.min_open = min_open
        self.max_drop_fraction = max_drop_fraction
        self.close_after = close_after
        self.clock = clock
        self.recording_failed = False  # the store could not record the last failed poll either

    def _fail(
        self, started: datetime, t0: float, reason: str, source: str, key: str | None = None
    ) -> PollResult:
        log.warning("poll failed: %s", reason)
        poll = PollRecord(
            started_at=iso_utc(started),
            outcome="failed",
            duration_ms=(time.perf_counter() - t0) * 1000,
            reason=reason,
            source=source,
            snapshot_key=key,
        )
        metrics.POLLS.labels("failed").inc()
        metrics.POLL_FAILURES.labels(reason.partition(":")[0]).inc()
        try:
            self.store.record_poll(poll)
            last_id = self.store.last_event_id()
        except Exception as exc:  # a full disk, a broken database: say so once, retry next poll
            if not self.recording_failed:
                log.error("cannot record polls in the store (%s); retrying every poll", exc)
            self.recording_failed = True
            return PollResult("failed", reason=f"{reason}; not recorded: {exc}", snapshot_key=key)
        self._recording_works()
        return PollResult("failed", reason=reason, last_event_id=last_id, snapshot_key=key)

    def _recording_works(self) -> None:
        if self.recording_failed:
            log.warning("the store records polls again")
            self.recording_failed = False

    async def poll(self, source: SnapshotSource) -> PollResult:
        """Run one poll to completion. Never raises: any fault of any stage becomes a failed poll
        with the stage and the reason (ReplayExhausted is raised: the caller decides what the end
        of a recording means). Archive, parse, diff and apply run in a worker thread, so the event
        loop (the API, the SSE streams) never waits for them; events are published once committed.
        """
        started = self.clock()
        t0 = time.perf_counter()
        try:
            snapshot = await source.next_snapshot()
        except ReplayExhausted:
            raise
        except Exception as exc:
            return self._fail(started, t0, f"fetch: {exc}", source.name)
        try:
            result = await asyncio.to_thread(self._archive_and_process, snapshot, t0)
        except StageFailed as exc:
            return self._fail(started, t0, str(exc), snapshot.source, exc.key)
        self._recording_works()
        if self.bus is not None and result.events:
            try:
                await self.bus.publish(result.events)
            except Exception as exc:  # committed: clients catch up from the log when they resume
                log.error("could not publish %d committed events: %s", len(result.events), exc)
        return result

    def _archive_and_process(self, snapshot: Snapshot, t0: float) -> PollResult:
        # No collector pass over the poll's objects in flight (see gcpause): the loop would wait.
        with collector_paused():
            return self._archive_and_process_now(snapshot, t0)

    def _archive_and_process_now(self, snapshot: Snapshot, t0: float) -> PollResult:
        try:
            fetched_at, key = archive_raw(self.archive, snapshot.archived, snapshot.fetched_at)
        except Exception as exc:
            metrics.ARCHIVE_ERRORS.labels("raw").inc()
            raise StageFailed(f"archive {raw_key(snapshot.fetched_at)}", exc) from exc
        try:
            return self.process(snapshot.rows, fetched_at, snapshot.source, key, t0)
        except Exception as exc:
            log.exception("processing snapshot %s failed", key)
            raise StageFailed("process", exc, key) from exc

    def process(
        self,
        raw_rows: Sequence[Any],
        fetched_at: datetime,
        source: str,
        key: str | None,
        t0: float | None = None,
    ) -> PollResult:
        """Parse, diff, guard and apply one archived snapshot; archive its changes."""
        t0 = time.perf_counter() if t0 is None else t0
        now = iso_utc(fetched_at)
        plan = plan_poll(
            self.store.tracked_calls(),
            raw_rows,
            now,
            previous_held=self.store.last_snapshot_poll_held(),
            geo_lookup=lambda key: self.store.get_location(key, now),
            min_open=self.min_open,
            max_drop_fraction=self.max_drop_fraction,
            close_after=self.close_after,
        )
        decision, applied, quarantined = plan.decision, plan.changes, plan.quarantined
        poll = PollRecord(
            started_at=now,
            outcome=decision.outcome,
            rows=len(raw_rows),
            quarantined=len(quarantined),
            duration_ms=(time.perf_counter() - t0) * 1000,
            reason=decision.reason,
            source=source,
            snapshot_key=key,
            counts=applied.counts(),
        )
        events = self.store.apply(applied, poll, misses=plan.misses, quarantined=quarantined)
        if decision.outcome == "held":
            log.warning("poll held: %s", decision.reason)
        self._archive_events(events, fetched_at)
        metrics.POLLS.labels(decision.outcome).inc()
        metrics.POLL_DURATION.observe(time.perf_counter() - t0)
        metrics.FEED_ROWS.inc(len(raw_rows))
        metrics.QUARANTINED_ROWS.inc(len(quarantined))
        metrics.OPEN_CALLS.set(plan.open_after)
        count_events(events)
        counts = applied.counts()
        return PollResult(
            outcome=decision.outcome,
            rows=len(raw_rows),
            quarantined=len(quarantined),
            opened=counts["opened"],
            updated=counts["updated"],
            closed=counts["closed"],
            last_event_id=self.store.last_event_id(),
            reason=decision.reason,
            snapshot_key=key,
            events=events,
        )

    def _archive_events(self, events: Sequence[Event], at: datetime) -> None:
        """Write a change record. The events are already committed, so a failure here is logged and
        counted, not fatal: the raw archive can always rebuild them."""
        if not events:
            return
        try:
            write_change_record(self.archive, events, at)
        except Exception as exc:
            metrics.ARCHIVE_ERRORS.labels("changes").inc()
            log.error("could not archive %d events to %s: %s", len(events), changes_key(at), exc)

    async def locate_pending(self, limit: int = 200) -> list[Event]:
        """Geocode open calls' location keys that have no fresh cached result, cache the answers and
        emit location.resolved events (archived, then published). The lookups run in a worker
        thread: the local index is CPU work and online providers block on the network."""
        if self.locator is None:
            return []
        events = await asyncio.to_thread(self._locate_pending, limit)
        if self.bus is not None and events:
            await self.bus.publish(events)
        return events

    def _locate_pending(self, limit: int) -> list[Event]:
        locator = self.locator
        if locator is None:
            return []
        now_dt = self.clock()
        events = locate_pending_keys(self.store, locator, now_dt, limit)
        self._archive_events(events, now_dt)
        count_events(events)
        return events
