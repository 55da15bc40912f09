"""The best local sources without a manual step: ``serve`` fetches and builds missing or stale geodata.

Why in the background: the city's layers and TIGER are hundreds of megabytes; start-up and polling
must never wait for them. :class:`GeodataUpdater` runs in a task of its own (``run()``), does the
blocking work in a thread, and exposes what it is doing as a small status object for the
dashboard (``{"state": "downloading", "source": "city address points", "percent": 42}``). When new
sources became usable it calls ``on_sources_changed`` so the runtime can rebuild its locator and
give approximate cached answers another try.

On the terminal: one line per step and per tenth of a download, never a flood. Offline (the first
source's host cannot be reached) it says so once and carries on with what ships; it looks again,
silently, every ``RECHECK_S``. ``DALLAS_CALLS_GEODATA_AUTO=false`` turns all of it off.

The download, verification and manifest are :class:`~dallas_calls.geodata.fetch.Fetcher`'s, the
builds :mod:`~dallas_calls.geodata.city_build`'s and :mod:`~dallas_calls.geodata.tiger`'s: this
module only decides what is due and reports progress.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from dallas_calls.geodata.city_build import build_city_geodata, newest_input, outdated_outputs
from dallas_calls.geodata.fetch import Fetcher, FetchError, FetchResult, geodata_dir
from dallas_calls.geodata.freshness import SourceStatus, source_states
from dallas_calls.geodata.sources import Source, all_sources
from dallas_calls.geodata.tiger import STREETS_DB, build_street_index, find_tiger_files

log = logging.getLogger(__name__)

RECHECK_S = 6 * 3600.0  # how often a running server looks again for stale or missing data
PROBE_TIMEOUT_S = 10.0

SourcesChanged = Callable[[], Awaitable[None] | None]


def label(source: Source) -> str:
    """ "city-address-points" -> "city address points" (what the dashboard shows)."""
    return source.name.replace("-", " ")


class _Stopped(Exception):
    """Raised inside a download when the updater's task was cancelled."""


class _StatusProgress:
    """The fetcher's :class:`~dallas_calls.geodata.fetch.Progress`, feeding the updater's status and
    logging one line at each tenth of a download."""

    def __init__(self, updater: GeodataUpdater) -> None:
        self.updater = updater
        self.total: int | None = None
        self.decile = -1
        self.label = ""

    def start(self, name: str, total: int | None, resumed_from: int, unit: str = "bytes") -> None:
        self.total, self.decile = total, -1
        self.label = name.replace("-", " ")
        self.updater._set("downloading", self.label, 0 if total else None)
        self.advance(resumed_from)

    def advance(self, done: int) -> None:
        if self.updater._stop.is_set():
            raise _Stopped  # the server is shutting down: leave the .part for next time
        if not self.total:
            return
        percent = min(100, int(100 * done / self.total))
        self.updater._set("downloading", self.label, percent)
        if percent // 10 > self.decile:
            self.decile = percent // 10
            log.info("geodata: downloading %s %d%%", self.label, self.decile * 10)

    def finish(self, name: str, message: str) -> None:
        log.info("geodata: %s: %s", name.replace("-", " "), message)


class GeodataUpdater:
    """Fetch and build what is missing or stale, in the background; see the module docstring.

    ``on_sources_changed``: called (and awaited, when it returns an awaitable) on the event loop
    after a build made new sources usable. ``sources``, ``client``: for tests (a loopback server).
    """

    def __init__(
        self,
        settings: Any,
        on_sources_changed: SourcesChanged | None = None,
        *,
        sources: Sequence[Source] | None = None,
        client: httpx.Client | None = None,
        backoff_s: float = 2.0,
        recheck_s: float = RECHECK_S,
    ) -> None:
        self.settings = settings
        self.on_sources_changed = on_sources_changed
        self.sources = list(sources if sources is not None else all_sources(settings))
        self.folder = geodata_dir(settings.data_dir)
        self.client = client
        self.backoff_s = backoff_s
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {"state": "idle", "source": None, "percent": None}
        self._said_offline = False
        self._stop = threading.Event()
        self._build_failed: dict[str, float | None] = {}  # output -> its newest input when it failed

    # -- status -----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """``{"state", "source", "percent", "updated_at", "failed"?}``; state is one of idle, disabled,
        checking, downloading, building, ready, offline, failed."""
        with self._lock:
            return dict(self._status)

    def _set(self, state: str, source: str | None = None, percent: int | None = None, **extra: Any) -> None:
        with self._lock:
            self._status = {
                "state": state,
                "source": source,
                "percent": percent,
                "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                **extra,
            }

    # -- running ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled: update now, then look again every ``recheck_s``."""
        if not self.settings.geodata_auto:
            self._set("disabled")
            log.info("geodata: automatic download is off (DALLAS_CALLS_GEODATA_AUTO=false)")
            return
        while True:
            await self.update_once()
            await asyncio.sleep(self.recheck_s)

    async def update_once(self) -> bool:
        """One pass; True when new sources were built (and the callback was called)."""
        if not self.settings.geodata_auto:
            self._set("disabled")
            return False
        try:
            changed = await asyncio.to_thread(self._update_blocking)
        except asyncio.CancelledError:
            self._stop.set()  # the thread stops at its next chunk or page
            raise
        except _Stopped:
            return False
        except Exception as exc:  # never let the background task take the server down
            log.exception("geodata: update failed")
            self._set("failed", detail=str(exc))
            return False
        if changed and self.on_sources_changed is not None:
            outcome = self.on_sources_changed()
            if inspect.isawaitable(outcome):
                await outcome
        return changed

    def _update_blocking(self) -> bool:
        self._set("checking")
        states = source_states(self.folder, self.sources, self.settings.geodata_max_age_days)
        # The city's layers first: they are the best sources, and much smaller than TIGER.
        due = sorted(
            (s for s in states if s.state != "present" and s.source.url is not None),
            key=lambda s: s.source.group == "tiger",
        )
        results: list[FetchResult] = []
        failed: list[str] = []
        if due and self._reachable(due[0].source):
            self._fetch(due, len(states), results, failed)
        downloaded = [r for r in results if r.outcome == "downloaded"]
        built = self._build(downloaded) if downloaded or self._unbuilt() else False
        if due and not results and not failed and not built:
            return False  # offline: the status says so
        extra: dict[str, Any] = {"failed": failed} if failed else {}
        self._set("ready" if built or not failed else "failed", **extra)
        return built

    def _unbuilt(self) -> bool:
        """Inputs on disk that no index reflects yet (an interrupted build, files fetched by hand),
        leaving out outputs whose build already failed on the same inputs in this process."""
        city = [
            o
            for o in outdated_outputs(self.folder)
            if self._build_failed.get(o) != newest_input(self.folder, o)
        ]
        tiger = bool(find_tiger_files(self.folder).counties) and not (self.folder / STREETS_DB).is_file()
        return bool(city) or (tiger and "tiger" not in self._build_failed)

    def _fetch(
        self, due: list[SourceStatus], known: int, results: list[FetchResult], failed: list[str]
    ) -> None:
        self._said_offline = False
        log.info(
            "geodata: %d of %d sources to fetch: %s", len(due), known, ", ".join(label(s.source) for s in due)
        )
        with Fetcher(
            self.folder, client=self.client, progress=_StatusProgress(self), backoff_s=self.backoff_s
        ) as fetcher:
            for status in due:
                try:
                    results.append(fetcher.fetch(status.source, force=status.state == "stale"))
                except FetchError as exc:
                    fetcher.manifest.record_failure(status.source, str(exc))
                    fetcher.manifest.save()
                    failed.append(label(status.source))
                    log.warning("geodata: %s not fetched: %s", label(status.source), exc)

    def _reachable(self, source: Source) -> bool:
        """One quick request to the first due source: no answer at all means offline (said once)."""
        assert source.url is not None
        try:
            if self.client is not None:
                self.client.get(source.url, timeout=PROBE_TIMEOUT_S)
            else:
                httpx.get(source.url, timeout=PROBE_TIMEOUT_S, follow_redirects=True)
        except httpx.TransportError as exc:
            self._set("offline", detail=f"{type(exc).__name__}")
            if not self._said_offline:
                log.warning(
                    "geodata: offline (%s unreachable: %s); locating calls with the shipped data",
                    source.url.split("/")[2],
                    type(exc).__name__,
                )
                self._said_offline = True
            return False
        return True

    def _build(self, downloaded: list[FetchResult]) -> bool:
        """Build the city's outputs and, when TIGER came in or has no index yet, the street index;
        True when anything was built."""
        self._set("building", "city data")
        log.info("geodata: building the local indexes")
        report = build_city_geodata(self.folder, log=lambda m: log.info("geodata: %s", m))
        for output in report.failed:
            self._build_failed[output] = newest_input(self.folder, output)
        built = bool(report.built)
        tiger_new = any(r.source.group == "tiger" for r in downloaded)
        if find_tiger_files(self.folder).counties and (tiger_new or not (self.folder / STREETS_DB).is_file()):
            self._set("building", "street index")
            try:
                build_street_index(
                    self.folder, self.folder / STREETS_DB, log=lambda m: log.info("geodata: %s", m)
                )
                built = True
            except (FileNotFoundError, ValueError) as exc:
                self._build_failed["tiger"] = None
                log.warning("geodata: street index not built: %s", exc)
        return built
