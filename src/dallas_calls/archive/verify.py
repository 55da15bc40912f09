"""The change archive must equal the event log.

Events are committed to the store first and written to ``changes/`` after, so a crash (kill -9, a
full disk) between the two leaves committed events without a change record. ``verify_changes``
finds them (and repairs them: each missing event is merged into the record of its own time, the
same key the poll would have written), and reports what it cannot repair: ids missing from the
event log itself, change records that cannot be read. It also lists raw snapshots that were fetched
but never processed (a crash between archiving and applying): nothing is lost by those, since the
next poll diffs a newer snapshot, but they are reported so an operator knows.

``backfill_changes`` is the cheap form run at every start: only events after the last id checked
(kept in the store's meta table), only the day folders they fall in.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Protocol

from dallas_calls.archive.keys import CHANGES_PREFIX, RAW_PREFIX, changes_key, key_time
from dallas_calls.archive.store import ObjectStore, decode_changes
from dallas_calls.model import Event, PollRecord

log = logging.getLogger(__name__)

CHECKED_META = "changes_checked_through"
PAGE = 5000


class LogStore(Protocol):
    def events_after(self, after_id: int, limit: int = 1000) -> list[Event]: ...

    def recent_polls(self, limit: int = 20) -> list[PollRecord]: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


@dataclass
class ChangesReport:
    checked_events: int = 0
    first_id: int | None = None
    last_id: int | None = None
    missing: list[int] = field(default_factory=list)  # committed events with no change record
    repaired: int = 0
    log_gaps: list[tuple[int, int]] = field(default_factory=list)  # id ranges absent from the log
    unreadable: list[str] = field(default_factory=list)  # change records that cannot be decoded
    unprocessed_raw: list[str] = field(default_factory=list)  # raw snapshots with no poll record

    @property
    def unrepaired(self) -> int:
        return len(self.missing) - self.repaired

    @property
    def ok(self) -> bool:
        """No gap left that this check could not repair."""
        return self.unrepaired == 0 and not self.log_gaps and not self.unreadable

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_events": self.checked_events,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "missing": len(self.missing),
            "missing_ids": self.missing[:100],
            "repaired": self.repaired,
            "log_gaps": [list(g) for g in self.log_gaps],
            "unreadable": self.unreadable,
            "unprocessed_raw": self.unprocessed_raw,
        }


def _events(store: LogStore, after_id: int) -> Iterator[Event]:
    while True:
        page = store.events_after(after_id, PAGE)
        if not page:
            return
        yield from page
        after_id = page[-1].id


def _parse(at: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _day_prefixes(prefix: str, start: datetime, end: datetime) -> list[str]:
    day, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    out = []
    while day <= last:
        out.append(f"{prefix}{day:%Y/%m/%d}/")
        day += timedelta(days=1)
    return out


def _archived_ids(archive: ObjectStore, keys: list[str], report: ChangesReport) -> set[int]:
    found: set[int] = set()
    for key in keys:
        try:
            found.update(int(item["id"]) for item in decode_changes(archive.get(key)))
        except Exception as exc:
            log.warning("change record %s cannot be read: %s", key, exc)
            report.unreadable.append(key)
    return found


def verify_changes(
    store: LogStore, archive: ObjectStore, repair: bool = False, after_id: int = 0, with_raw: bool = True
) -> ChangesReport:
    """Compare the event log (ids above ``after_id``) with the change records; ``repair`` writes
    the missing ones."""
    from dallas_calls.pipeline import write_change_record

    report = ChangesReport()
    events = list(_events(store, after_id))
    if events:
        report.first_id, report.last_id = events[0].id, events[-1].id
        report.checked_events = len(events)
        jumps = set(getattr(store, "event_id_jumps", list)())
        for before, after in pairwise(events):
            gap = (before.id + 1, after.id - 1)
            if after.id != before.id + 1 and not any(a <= gap[0] and gap[1] <= b for a, b in jumps):
                report.log_gaps.append(gap)
        times = [t for t in (_parse(e.at) for e in events) if t is not None]
        keys: list[str] = []
        if times:
            for prefix in _day_prefixes(CHANGES_PREFIX, min(times), max(times)):
                keys.extend(archive.list(prefix))
        archived = _archived_ids(archive, keys, report)
        missing = [e for e in events if e.id not in archived]
        report.missing = [e.id for e in missing]
        if repair and missing:
            by_time: dict[datetime, list[Event]] = defaultdict(list)
            for event in missing:
                at = _parse(event.at)
                if at is not None:
                    by_time[at].append(event)
            unreadable = set(report.unreadable)
            for at, group in sorted(by_time.items()):
                if changes_key(at) in unreadable:
                    continue  # never overwrite a record we could not read: a person should look
                write_change_record(archive, group, at)
                report.repaired += len(group)
    if with_raw:
        processed = {p.snapshot_key for p in store.recent_polls(10**9) if p.snapshot_key}
        report.unprocessed_raw = [
            k for k in archive.list(RAW_PREFIX) if key_time(k) is not None and k not in processed
        ]
    return report


def backfill_changes(store: LogStore, archive: ObjectStore) -> ChangesReport:
    """At start: write the change records of committed events that a crash kept from the archive
    (only events after the last id checked), and remember how far the archive is now complete."""
    checked = int(store.get_meta(CHECKED_META) or 0)
    report = verify_changes(store, archive, repair=True, after_id=checked, with_raw=False)
    if report.repaired:
        log.warning(
            "change archive: wrote %d committed events that were missing (ids %d..%d)",
            report.repaired,
            report.missing[0],
            report.missing[-1],
        )
    if report.ok and report.last_id is not None:
        store.set_meta(CHECKED_META, str(report.last_id))
    elif not report.ok:
        log.error("change archive: gaps it cannot repair: %s", report.to_dict())
    return report
