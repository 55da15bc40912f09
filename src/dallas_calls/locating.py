"""Locating calls on one machine: the geocode cache's lifetimes, the answer for one location key,
and the pass that locates the open calls' keys with no fresh cached answer.

Apart from the poll (:mod:`dallas_calls.pipeline`) because it runs on its own pace, after polls, so
a slow geocoder never delays one; the AWS locator Lambda (:mod:`dallas_calls.aws.handlers`) uses
:func:`resolve_location` and :class:`Resolution` from here too, so both runtimes locate a key alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from dallas_calls import metrics
from dallas_calls.events.encode import location_event
from dallas_calls.model import Call, Event, Geo, NewEvent, iso_utc
from dallas_calls.storage.sqlite import SqliteStore

log = logging.getLogger(__name__)

POSITIVE_TTL = timedelta(days=30)
NEGATIVE_TTL = timedelta(hours=6)
BEAT_TTL = timedelta(days=1)  # beat-precision results are retried sooner: better data may appear


class CallLocator(Protocol):
    """Anything that places a call: the geocoding chain, or a stand-in in tests."""

    def locate(
        self,
        block: str | None,
        location: str,
        beat: str | None,
        division: str | None,
        reporting_area: str | None = None,
    ) -> Geo: ...


class Placeable(Protocol):
    """What locating needs of a call (a stored Call or a snapshot's SnapshotCall)."""

    @property
    def incident_number(self) -> str: ...
    @property
    def block(self) -> str | None: ...
    @property
    def location(self) -> str: ...
    @property
    def beat(self) -> str | None: ...
    @property
    def division(self) -> str | None: ...
    @property
    def reporting_area(self) -> str | None: ...


def location_ttl(geo: Geo) -> timedelta:
    """How long a geocode stays cached: misses briefly, area and beat centres a day, real points a
    month."""
    if geo.lat is None:
        return NEGATIVE_TTL
    return BEAT_TTL if geo.precision in ("reporting_area", "beat") else POSITIVE_TTL


@dataclass(frozen=True, slots=True)
class Resolution:
    """The answer for one location key: what to cache, until when, and the event (if located)."""

    location_key: str
    geo: Geo
    expires_at: str
    event: NewEvent | None


def resolve_location(
    locator: CallLocator, location_key: str, calls: Sequence[Placeable], now_dt: datetime
) -> Resolution:
    """Locate one key from its calls (the lowest incident number's text is asked). Raises whatever
    the locator raises: the caller decides whether one failed key stops the others."""
    sample = min(calls, key=lambda c: c.incident_number)
    now = iso_utc(now_dt)
    t0 = time.perf_counter()
    geo = locator.locate(sample.block, sample.location, sample.beat, sample.division, sample.reporting_area)
    metrics.GEOCODE_LATENCY.observe(time.perf_counter() - t0)
    located = geo.lat is not None
    metrics.GEOCODE_LOOKUPS.labels("hit" if located else "miss").inc()
    event = location_event(location_key, geo, [c.incident_number for c in calls], now) if located else None
    return Resolution(location_key, geo, iso_utc(now_dt + location_ttl(geo)), event)


def locate_pending_keys(
    store: SqliteStore, locator: CallLocator, now_dt: datetime, limit: int
) -> list[Event]:
    """Locate up to ``limit`` location keys of open calls that have no fresh cached answer, cache
    the answers and log the located ones' ``location.resolved`` events (one transaction, see
    :meth:`~dallas_calls.storage.sqlite.SqliteStore.record_locations`). Returns the stored events."""
    now = iso_utc(now_dt)
    keys = store.location_keys_needing_geocode(now)[:limit]
    if not keys:
        return []
    open_calls = store.open_calls()
    by_key: dict[str, list[Call]] = {}
    for call in open_calls.values():
        by_key.setdefault(call.location_key, []).append(call)
    answers: list[Resolution] = []
    for key in keys:
        calls = by_key.get(key)
        if not calls:
            continue
        try:
            answers.append(resolve_location(locator, key, calls, now_dt))
        except Exception as exc:  # a broken provider must not stop the others' keys
            log.warning("locating %r failed: %s", key, exc)
            metrics.GEOCODE_LOOKUPS.labels("error").inc()
    return store.record_locations(answers, resolved_at=now)
