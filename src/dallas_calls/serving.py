"""`dallas-calls serve`: which data the server shows (live, a replay, the demo) and the switches.

- **live**: poll the feed on its schedule, into ``DATA_DIR`` (locked for this process).
- **replay** (``--replay DIR``): play a recording once into ``DATA_DIR`` at its recorded pace
  divided by ``--speed``, then hold its last snapshot.
- **demo** (``--demo``): play the bundled recording, times shifted to the present, into a throwaway
  store of its own (a locked slot under ``DATA_DIR/demo/``). Each loop is a fresh run in a fresh
  store: connected clients get a ``reset``, so no call is shown closed and re-opened because the
  recording started again, and calls per hour match the recording.
- **auto** (plain ``serve``): live if the feed answers at start-up; otherwise the demo, while the
  feed is probed on the poll schedule with backoff. When it answers, the server switches to the live
  store (never mixed with demo rows), clients get a ``reset``, and the dashboard's banner goes away.

Event ids keep growing across every switch (each new store starts above the last id served), and
each store has an id of its own that resuming clients name, so no client ever applies one store's
events on top of another's calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from dallas_calls.archive.verify import backfill_changes
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus
from dallas_calls.feed.source import ReplaySource, Snapshot, SnapshotSource
from dallas_calls.geodata.updater import GeodataUpdater
from dallas_calls.instances import DataDirLock, claim_data_dir, claim_demo_dir
from dallas_calls.liveness import Liveness
from dallas_calls.mode import ModeState, Recording, RunMode
from dallas_calls.runtime import (
    Components,
    Scheduler,
    build_components,
    build_locator,
    demo_snapshots,
    feed_source,
    refresh_approximate_locations,
)
from dallas_calls.storage.sqlite import SqliteStore

log = logging.getLogger(__name__)

Kind = Literal["live", "replay", "demo", "auto"]
# Replaces the store the API serves: (new store, the reason given to clients in their reset).
StoreSwitch = Callable[[SqliteStore, str], Awaitable[None]]

DEMO_SPEED = 60.0
PROBE_BACKOFF_INTERVALS = 5  # probes back off from one poll interval to at most five


class OnceSource:
    """A snapshot already fetched (the probe's answer), served to one poll."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot: Snapshot | None = snapshot
        self.name = snapshot.source

    async def next_snapshot(self) -> Snapshot:
        if self.snapshot is None:
            raise RuntimeError("this snapshot was already used")
        snapshot, self.snapshot = self.snapshot, None
        return snapshot

    async def aclose(self) -> None:
        return None


def recording_of(source: ReplaySource, name: str, speed: float | None, demo: bool) -> Recording:
    return Recording(
        name=name,
        captured_from=source.snapshots[0][0],
        captured_to=source.snapshots[-1][0],
        snapshots=len(source.snapshots),
        speed=speed,
        shifted=demo,
        loops=demo,
    )


@dataclass
class _Demo:
    """The demo's slot (locked for this process) and the run playing in it."""

    folder: Path
    lock: DataDirLock
    recording_dir: Path
    run: int = 0


class ServeController:
    """Owns what `serve` serves: the components of the current store and the schedule feeding it.

    ``prepare()`` (before the app starts) decides the first store; the app's background task runs
    ``run()``; ``bind()`` gives it the app's store switch for demo loops and the switch to live.
    """

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        kind: Kind,
        replay_dir: Path | None = None,
        speed: float | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.kind = kind
        self.replay_dir = replay_dir
        self.speed = speed
        self.mode = ModeState()
        self.liveness = Liveness(attempt_budget_s=settings.feed_timeout_s * settings.feed_max_attempts)
        self.parts: Components | None = None
        self.scheduler: Scheduler | None = None
        self._live_lock: DataDirLock | None = None
        self._live_parts: Components | None = None
        self._demo: _Demo | None = None
        self._switch: StoreSwitch | None = None
        self.fallback_reason: str | None = None
        # Live kinds fetch and build the city's geodata in the background; status() for the page.
        self.geodata = GeodataUpdater(settings, self._relocate) if kind in ("live", "auto") else None
        self._geodata_task: asyncio.Task[None] | None = None

    # -- start-up (no event loop running yet) ---------------------------------------------------

    def prepare(self) -> SqliteStore:
        """Lock the data directory this instance writes, open the first store, and (for ``auto``)
        try the live feed once. Raises InstanceBusy when another process holds the directory."""
        if self.kind == "demo":
            self._start_demo(self.replay_dir or demo_snapshots())
        elif self.kind == "replay":
            assert self.replay_dir is not None
            self._live_lock = claim_data_dir(self.settings.data_dir, "serve --replay")
            self.parts = build_components(self.settings, self.bus)
            source = ReplaySource(self.replay_dir)
            self.mode.set(RunMode("replay", recording_of(source, self.replay_dir.name, self.speed, False)))
            self.scheduler = self._scheduler(self.parts, source, self.speed)
        else:
            self._live_lock = claim_data_dir(self.settings.data_dir, "serve")
            self.parts = self._live_parts = build_components(self.settings, self.bus)
            reason = None if self.kind == "live" else asyncio.run(self._first_poll(self.parts))
            if reason is None:
                self.mode.set(RunMode("live"))
                self.scheduler = self._scheduler(self.parts, feed_source(self.settings), None)
            else:
                self.fallback_reason = reason
                self._live_parts.pipeline.bus = None  # probes must not reach the demo's clients
                self._start_demo(demo_snapshots())
        assert self.parts is not None
        return self.parts.store

    async def _first_poll(self, parts: Components) -> str | None:
        """One real poll of the live feed with few retries; None when it worked, else the reason."""
        source = feed_source(self.settings, max_attempts=2)
        try:
            result = await parts.pipeline.poll(source)
        finally:
            await source.aclose()
        return None if result.outcome != "failed" else (result.reason or "the feed did not answer")

    def _scheduler(self, parts: Components, source: SnapshotSource, speed: float | None) -> Scheduler:
        return Scheduler(
            parts.pipeline,
            source,
            self.settings.poll_interval_s,
            speed=speed,
            retention=timedelta(days=self.settings.event_retention_days),
            liveness=self.liveness,
        )

    def _start_demo(self, recording_dir: Path) -> None:
        folder, lock = claim_demo_dir(self.settings.data_dir)
        self._demo = _Demo(folder, lock, recording_dir)
        self.speed = self.speed or DEMO_SPEED
        self.parts, self.scheduler = self._new_demo_run(
            floor=self.parts.store.last_event_id() if self.parts else 0
        )

    def _new_demo_run(self, floor: int) -> tuple[Components, Scheduler]:
        """A fresh store for one play of the recording, its ids above ``floor``."""
        demo = self._demo
        assert demo is not None
        demo.run += 1
        settings = self.settings.model_copy(
            update={"data_dir": demo.folder / f"run-{demo.run}", "archive_uri": None}
        )
        parts = build_components(settings, self.bus)
        parts.store.raise_event_ids_above(floor + 1 if floor else 0)
        source = ReplaySource(demo.recording_dir, rebase=True)
        name = "the bundled demo" if demo.recording_dir == demo_snapshots() else demo.recording_dir.name
        self.mode.set(
            RunMode(
                "demo",
                recording_of(source, name, self.speed, True),
                fallback_reason=self.fallback_reason,
                run=demo.run,
            )
        )
        return parts, self._scheduler(parts, source, self.speed)

    # -- running (the app's background task) -----------------------------------------------------

    def bind(self, switch: StoreSwitch) -> None:
        self._switch = switch

    async def run(self) -> None:
        assert self.scheduler is not None
        if self.geodata is not None:  # never awaited here: start-up and polling do not wait for it
            self._geodata_task = asyncio.get_running_loop().create_task(self.geodata.run(), name="geodata")
        if self._live_parts is not None or self.kind == "replay":
            await self._backfill(self._live_parts or self.parts)
        if self.kind == "demo":
            await self._demo_loops()
        elif self.kind == "auto" and self._demo is not None:
            await self._demo_until_live()
        else:
            await self.scheduler.run()  # a replay returns when it is done: its last snapshot holds
        if self.kind == "replay":
            self.liveness.finish("the replay played to its end; its last snapshot holds")
            log.info("replay finished: holding its last snapshot")

    async def _demo_loops(self) -> None:
        """Play the recording, then start it again in a fresh store (clients get a reset)."""
        first_delay = 0.0
        while True:
            assert self.scheduler is not None and self.parts is not None
            await self.scheduler.run(first_delay=first_delay)  # returns a gap after the last snapshot
            old = self.parts
            parts, scheduler = self._new_demo_run(floor=old.store.last_event_id())
            # The new run's first snapshot is in its store before clients are sent there, so a
            # page that reloads on the reset never finds it empty; its events reach no one twice.
            parts.pipeline.bus = None
            try:
                await scheduler.poll_once()
            finally:
                parts.pipeline.bus = self.bus
            self.parts, self.scheduler = parts, scheduler
            await self._switch_to(parts.store, "the recording starts again")
            self._discard(old)
            first_delay = scheduler.next_delay()

    async def _demo_until_live(self) -> None:
        demo_task = asyncio.get_running_loop().create_task(self._demo_loops(), name="demo")
        try:
            snapshot = await self._probe_until_answered()
        finally:
            demo_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo_task
        live = self._live_parts
        assert live is not None and self.parts is not None
        demo_parts = self.parts
        # Live ids start above every id the demo gave, before the first live poll writes any.
        live.store.raise_event_ids_above(demo_parts.store.last_event_id() + 1)
        result = await live.pipeline.poll(OnceSource(snapshot))
        live.pipeline.bus = self.bus
        self.parts = live
        self.fallback_reason = None
        self.mode.set(RunMode("live"))
        await self._switch_to(live.store, "the live feed is back: live data replaces the demo")
        self._discard(demo_parts)
        if self._demo is not None:
            self._demo.lock.release()
            self._demo = None
        log.info(
            "the live feed answered (%s, %d rows): switched from the demo to live data",
            result.outcome,
            result.rows,
        )
        self.scheduler = self._scheduler(live, feed_source(self.settings), None)
        await self.scheduler.run()

    async def _probe_until_answered(self) -> Snapshot:
        """Read the live feed on the poll schedule, backing off to a few intervals while it fails;
        one log line when probing starts, none per failed probe."""
        interval = self.settings.poll_interval_s
        cap = interval * PROBE_BACKOFF_INTERVALS
        log.warning(
            "serving the offline demo: the feed at %s cannot be read (%s); probing it every %g s "
            "(backing off to %g s) and switching to live data when it answers "
            "(--no-demo-fallback serves live data only)",
            self.settings.feed_url,
            self.fallback_reason,
            interval,
            cap,
        )
        source = feed_source(self.settings, max_attempts=1)
        delay = interval
        try:
            while True:
                await asyncio.sleep(delay)
                try:
                    return await source.next_snapshot()
                except Exception as exc:
                    log.debug("feed probe failed: %s", exc)
                    delay = min(delay * 2, cap)
        finally:
            await source.aclose()

    @staticmethod
    async def _backfill(parts: Components | None) -> None:
        """Committed events a crash kept from the change archive are written before polling."""
        if parts is None:
            return
        try:
            await asyncio.to_thread(backfill_changes, parts.pipeline.store, parts.archive)
        except Exception:
            log.exception("could not check the change archive against the event log")

    async def _relocate(self) -> None:
        """New geodata was built: the live pipeline gets a locator that uses it, and answers cached
        as approximate are expired so the next poll locates them again."""
        parts = self._live_parts
        if parts is not None:
            parts.pipeline.locator = await asyncio.to_thread(build_locator, self.settings)
            await asyncio.to_thread(
                refresh_approximate_locations, parts.pipeline.store, parts.pipeline.locator
            )

    async def _switch_to(self, store: SqliteStore, reason: str) -> None:
        if self._switch is not None:
            await self._switch(store, reason)

    def _discard(self, parts: Components) -> None:
        """Close a finished demo run's store and delete its files (they are this slot's own)."""
        parts.close()
        if self._demo is not None and parts.settings.data_dir.parent == self._demo.folder:
            shutil.rmtree(parts.settings.data_dir, ignore_errors=True)

    def close(self) -> None:
        if self.parts is not None:
            self.parts.close()
        if self._live_parts is not None and self._live_parts is not self.parts:
            self._live_parts.close()
        for lock in (self._live_lock, self._demo.lock if self._demo else None):
            if lock is not None:
                lock.release()
