"""The one-machine runtime: wires the stages to SQLite, the archive and the event bus, and runs the
poll schedule. Everything that chooses an adapter lives here (and in cli.py), nowhere else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from dallas_calls.archive.store import ObjectStore, open_object_store
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus, LocalBus
from dallas_calls.feed.client import FeedConfig, SocrataFeed
from dallas_calls.feed.source import LiveSource, ReplayExhausted, ReplaySource, SnapshotSource
from dallas_calls.pipeline import CallLocator, Pipeline, PollResult
from dallas_calls.storage.sqlite import SqliteStore

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
    settings: Settings
    store: SqliteStore
    archive: ObjectStore
    bus: EventBus
    pipeline: Pipeline


APPROXIMATE_PRECISIONS = ("beat", "none")


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


def build_components(settings: Settings, bus: EventBus | None = None) -> Components:
    store = SqliteStore(settings.db_path)
    archive = open_object_store(settings.archive_location, endpoint_url=settings.s3_endpoint_url)
    bus = bus or build_bus(settings)
    locator = build_locator(settings)
    refresh_approximate_locations(store, locator)
    pipeline = Pipeline(
        store,
        archive,
        bus=bus,
        locator=locator,
        min_open=settings.guard_min_open,
        max_drop_fraction=settings.guard_max_drop,
        close_after=settings.close_after_polls,
    )
    return Components(settings, store, archive, bus, pipeline)


def demo_settings(settings: Settings) -> Settings:
    """The offline demo writes to its own fresh folder so it never mixes with real history."""
    demo_dir = settings.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    return settings.model_copy(update={"data_dir": demo_dir, "archive_uri": None})


class Scheduler:
    """Polls on a fixed interval (live feed) or at the recorded pace divided by ``speed`` (replay).

    Each poll runs to completion before the next is scheduled; a failed poll is recorded and the
    schedule goes on. Locating runs after each poll in the same task: the local index answers in
    milliseconds, and online providers are rate limited inside the locator.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        source: SnapshotSource,
        interval_s: float,
        speed: float | None = None,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self.pipeline = pipeline
        self.retention = retention
        self._last_prune: datetime | None = None
        self.source = source
        self.interval_s = interval_s
        self.speed = speed
        self.last_result: PollResult | None = None
        self.finished = False

    def _delay(self) -> float:
        if isinstance(self.source, ReplaySource) and self.speed:
            gap = self.source.gap_after(self.source.position - 1)
            if gap is not None:
                return max(gap / self.speed, 0.05)
        return self.interval_s

    async def poll_once(self) -> PollResult:
        result = await self.pipeline.poll(self.source)
        self.last_result = result
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
            log.exception("locating calls failed")
        self._prune_hourly()
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
        cutoff = cutoff_dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        removed = self.pipeline.store.prune_events(cutoff)
        if removed:
            log.info("pruned %d events older than %s", removed, cutoff)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            started = datetime.now(UTC)
            try:
                await self.poll_once()
            except ReplayExhausted:
                log.info("replay finished")
                self.finished = True
                return
            elapsed = (datetime.now(UTC) - started).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(self._delay() - elapsed, 0.0))
