"""The one-machine runtime: wires the stages to SQLite, the archive and the event bus, and runs the
poll schedule. Everything that chooses an adapter lives here (and in cli.py), nowhere else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from dallas_calls import metrics
from dallas_calls.archive.store import ObjectStore, open_object_store
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus, LocalBus
from dallas_calls.feed.client import FeedConfig, SocrataFeed
from dallas_calls.feed.source import LiveSource, ReplayExhausted, ReplaySource, SnapshotSource
from dallas_calls.liveness import Liveness
from dallas_calls.locating import CallLocator
from dallas_calls.model import iso_utc
from dallas_calls.pipeline import Pipeline, PollResult
from dallas_calls.startup import StartupError, check_sqlite, ensure_writable
from dallas_calls.storage.sqlite import SchemaTooNew, SqliteStore

log = logging.getLogger(__name__)


def demo_snapshots() -> Path:
    """The recorded snapshots bundled with the package for the offline demo."""
    return Path(str(resources.files("dallas_calls") / "demo" / "raw"))


def build_locator(settings: Settings) -> CallLocator | None:
    """The geocoding chain, or None when geocoding is off or its module is not available."""
    if not settings.geocode:
        return None
    try:
        from dallas_calls.geocoding.locator import default_locator
    except ImportError:  # geocoding not installed in this build
        return None
    locator: CallLocator = default_locator(settings)
    return locator


def build_bus(settings: Settings) -> EventBus:
    if settings.bus.startswith("redis://") or settings.bus.startswith("rediss://"):
        from dallas_calls.events.redis_bus import RedisBus

        redis_bus: EventBus = RedisBus(settings.bus)
        return redis_bus
    if settings.bus != "local":
        raise ValueError(f"unknown bus {settings.bus!r}: use 'local' or redis://host:port/db")
    return LocalBus()


def feed_source(settings: Settings, max_attempts: int | None = None) -> LiveSource:
    """The live Socrata feed as a snapshot source."""
    feed = SocrataFeed(
        FeedConfig(
            url=settings.feed_url,
            app_token=settings.app_token,
            page_size=settings.feed_page_size,
            timeout_s=settings.feed_timeout_s,
            max_attempts=max_attempts or settings.feed_max_attempts,
        )
    )
    return LiveSource(feed)


@dataclass
class Components:
    """One store's wiring. ``store`` is the connection the API reads; the pipeline writes through a
    connection of its own (``pipeline.store``, same file) from a worker thread, so a long poll
    never holds up a read (WAL: readers never wait for the writer)."""

    settings: Settings
    store: SqliteStore
    archive: ObjectStore
    bus: EventBus
    pipeline: Pipeline

    def close(self) -> None:
        self.pipeline.store.close()
        self.store.close()


APPROXIMATE_PRECISIONS = ("reporting_area", "beat", "none")
MAX_BACKOFF_INTERVALS = 5  # failing polls back off to at most this many poll intervals


def refresh_approximate_locations(store: SqliteStore, locator: CallLocator | None) -> int:
    """When the locator gained sources (a street index was built, real beat polygons fetched, an
    online geocoder configured), answers cached as beat-level or missing get another try at once
    instead of waiting for their TTL. Returns how many cached keys were expired."""
    signature = getattr(locator, "signature", None)
    if signature is None:
        return 0
    current = str(signature())
    previous = store.get_meta("locator_signature")
    expired = 0
    if previous is not None and previous != current:
        expired = store.expire_locations(APPROXIMATE_PRECISIONS)
        log.info(
            "geocoding sources changed (%s -> %s): %d approximate locations will be retried",
            previous,
            current,
            expired,
        )
    store.set_meta("locator_signature", current)
    return expired


def open_store(settings: Settings) -> SqliteStore:
    """The SQLite store of ``settings.data_dir``, checked first (raises StartupError with one clear
    line when the folder, the file or its schema cannot be used)."""
    ensure_writable(settings.data_dir)
    check_sqlite(settings.db_path)
    try:
        return SqliteStore(settings.db_path)
    except SchemaTooNew as exc:
        raise StartupError(f"{settings.db_path}: {exc}; upgrade dallas-calls") from exc
    except sqlite3.Error as exc:
        raise StartupError(f"cannot open {settings.db_path}: {exc}") from exc


def build_components(settings: Settings, bus: EventBus | None = None) -> Components:
    store = open_store(settings)
    writer = SqliteStore(settings.db_path)
    archive = open_object_store(settings.archive_location, endpoint_url=settings.s3_endpoint_url)
    bus = bus or build_bus(settings)
    locator = build_locator(settings)
    refresh_approximate_locations(writer, locator)
    pipeline = Pipeline(
        writer,
        archive,
        bus=bus,
        locator=locator,
        min_open=settings.guard_min_open,
        max_drop_fraction=settings.guard_max_drop,
        close_after=settings.close_after_polls,
    )
    return Components(settings, store, archive, bus, pipeline)


class Scheduler:
    """Polls on a fixed interval (live feed) or at the recorded pace divided by ``speed`` (replay).

    Each poll runs to completion before the next is scheduled. Nothing stops the schedule: a
    failed poll (any stage) is recorded and the next follows, backing off to at most
    ``MAX_BACKOFF_INTERVALS`` intervals while polls keep failing; a fault in locating or pruning is
    logged and counted. After every attempt the schedule beats ``liveness`` (``/healthz``).
    Locating runs after each poll in the same task (in a worker thread): online providers are rate
    limited inside the locator.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        source: SnapshotSource,
        interval_s: float,
        speed: float | None = None,
        retention: timedelta = timedelta(days=7),
        liveness: Liveness | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.liveness = liveness
        self.failures = 0  # consecutive failed polls
        self.retention = retention
        self._last_prune: datetime | None = None
        self.source = source
        self.interval_s = interval_s
        self.speed = speed
        self.last_result: PollResult | None = None
        self.finished = False

    def _delay(self) -> float:
        if isinstance(self.source, ReplaySource) and self.speed:
            # After the last snapshot, wait as long as the last gap: a looping demo starts again
            # at the recording's own pace.
            count = len(self.source.snapshots)
            gap = self.source.gap_after(min(self.source.position - 1, count - 2))
            if gap is not None:
                return max(gap / self.speed, 0.05)
        return self.interval_s

    def next_delay(self) -> float:
        """Seconds until the next poll: the schedule, or the backoff while polls keep failing."""
        if self.failures == 0 or isinstance(self.source, ReplaySource):
            return self._delay()
        backoff: float = self.interval_s * 2.0 ** (self.failures - 1)
        return min(backoff, self.interval_s * MAX_BACKOFF_INTERVALS)

    async def poll_once(self) -> PollResult:
        try:
            result = await self.pipeline.poll(self.source)
        except ReplayExhausted:
            raise
        except Exception as exc:  # pipeline.poll turns every stage's fault into a result: a bug
            log.exception("poll crashed")
            metrics.POLL_FAILURES.labels("poll").inc()
            result = PollResult("failed", reason=f"poll: {type(exc).__name__}: {exc}")
        self.last_result = result
        self.failures = self.failures + 1 if result.outcome == "failed" else 0
        log.info(
            "poll %s: %d rows, %d quarantined, +%d ~%d -%d, last event %d%s",
            result.outcome,
            result.rows,
            result.quarantined,
            result.opened,
            result.updated,
            result.closed,
            result.last_event_id,
            f" ({result.reason})" if result.reason else "",
        )
        try:
            await self.pipeline.locate_pending()
        except Exception:  # never let locating stop the schedule
            metrics.SCHEDULE_ERRORS.labels("locate").inc()
            log.exception("locating calls failed")
        try:
            await asyncio.to_thread(self._prune_hourly)
        except Exception:  # a corrupt page of the event log: say so (hourly), keep polling
            metrics.SCHEDULE_ERRORS.labels("prune").inc()
            log.exception("pruning old events failed")
        return result

    def _prune_hourly(self) -> None:
        """Drop events older than the retention window, measured back from the newest event (so a
        replay of old recordings keeps its events). Clients resuming from before them get a reset."""
        now = datetime.now(UTC)
        if self._last_prune is not None and now - self._last_prune < timedelta(hours=1):
            return
        self._last_prune = now
        newest = self.pipeline.store.events_after(self.pipeline.store.last_event_id() - 1, limit=1)
        if not newest:
            return
        cutoff_dt = datetime.fromisoformat(newest[0].at.replace("Z", "+00:00")) - self.retention
        cutoff = iso_utc(cutoff_dt)
        removed = self.pipeline.store.prune_events(cutoff)
        if removed:
            log.info("pruned %d events older than %s", removed, cutoff)

    async def run(self, stop: asyncio.Event | None = None, first_delay: float = 0.0) -> None:
        """Poll until ``stop`` is set (or a replay ends), after ``first_delay`` seconds."""
        stop = stop or asyncio.Event()
        if first_delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=first_delay)
        while not stop.is_set():
            started = datetime.now(UTC)
            try:
                await self.poll_once()
            except ReplayExhausted:
                log.info("replay finished")
                self.finished = True
                return
            delay = self.next_delay()
            if self.liveness is not None:
                self.liveness.beat(delay)
            elapsed = (datetime.now(UTC) - started).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(delay - elapsed, 0.0))
