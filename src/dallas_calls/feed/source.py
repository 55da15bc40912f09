"""Snapshot sources: where a poll gets its rows. The live Socrata feed, or a recorded folder."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dallas_calls.archive.keys import key_time
from dallas_calls.archive.store import decode_snapshot, encode_pages, encode_snapshot

if TYPE_CHECKING:
    from dallas_calls.feed.client import FeedPage


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one poll read. ``archived`` is the raw archive's object for it: the response bodies
    exactly as received (or the recorded file exactly as it was), so archiving it cannot fail on
    content and replaying it gives back the same ``rows``."""

    rows: list[Any]
    fetched_at: datetime  # aware, UTC
    source: str
    archived: bytes


class SnapshotSource(Protocol):
    name: str

    async def next_snapshot(self) -> Snapshot:
        """The next snapshot; raises an exception with a clear message when none can be had."""
        ...

    async def aclose(self) -> None: ...


class PageFetcher(Protocol):
    name: str

    async def fetch_pages(self) -> list[FeedPage]: ...

    async def aclose(self) -> None: ...


class LiveSource:
    """A live feed (the Socrata client): each snapshot is stamped with the time it was read."""

    def __init__(self, feed: PageFetcher, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.feed = feed
        self.clock = clock
        self.name = feed.name

    async def next_snapshot(self) -> Snapshot:
        pages = await self.feed.fetch_pages()
        at = self.clock()
        rows = [row for page in pages for row in page.rows]
        # gzip of a 50,000-row snapshot takes a while: in a worker thread, not on the event loop
        archived = await asyncio.to_thread(encode_pages, [page.body for page in pages])
        return Snapshot(rows, at, self.name, archived)

    async def aclose(self) -> None:
        await self.feed.aclose()


class ReplayExhausted(Exception):
    """A replay folder has no snapshot left (and is not looping)."""


_NAME_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})Z")


def snapshot_time(path: Path | str) -> datetime | None:
    """Capture time from an archive-layout path (raw/2019/06/18/051700Z.json.gz) or from a file
    named like 2019-06-18T05-17-00Z.json (the shared data's naming)."""
    text = Path(path).as_posix()
    found = key_time(text)
    if found is not None:
        return found
    match = _NAME_TIME.search(Path(path).name)
    if match:
        y, mo, d, h, mi, s = (int(g) for g in match.groups())
        return datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    return None


def list_snapshots(folder: Path) -> list[tuple[datetime, Path]]:
    """Every .json / .json.gz file under ``folder`` with a capture time, in time order."""
    if not folder.is_dir():
        raise FileNotFoundError(f"replay folder not found: {folder}")
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and (path.name.endswith(".json") or path.name.endswith(".json.gz")):
            at = snapshot_time(path.relative_to(folder))
            if at is not None:
                found.append((at, path))
    if not found:
        raise FileNotFoundError(f"no snapshots (*.json or *.json.gz with a time in the name) in {folder}")
    return sorted(found)


def rebase_rows(rows: list[Any], shift: timedelta) -> list[Any]:
    """Move each row's date/time by ``shift`` (demo only: recorded calls look current). A row whose
    date/time cannot be read or moved is left as it is, for the schema to judge."""
    from dallas_calls.feed.schema import CHICAGO, RowError
    from dallas_calls.feed.schema import received_at as parse_received

    moved = []
    for row in rows:
        if isinstance(row, dict) and row.get("date") and row.get("time"):
            try:
                stamp = parse_received(row["date"], row["time"])
                if stamp is not None:
                    new = (datetime.fromisoformat(stamp) + shift).astimezone(CHICAGO)
                    row = {
                        **row,
                        "date": new.strftime("%Y-%m-%dT00:00:00.000"),
                        "time": new.strftime("%H:%M:%S"),
                    }
            except (RowError, OverflowError):
                pass
        moved.append(row)
    return moved


class ReplaySource:
    """Recorded snapshots from a folder, in time order.

    With ``rebase`` the recording is moved to the present (the offline demo): poll times are the
    wall clock, and every row's received time shifts by one fixed amount that puts the recording's
    last capture at the moment the replay starts, so no call is ever received "in the future" however
    fast the replay runs, and an unchanged call keeps the same received time from one snapshot to
    the next. Without it, the recorded
    capture times are the poll times, so a replay rebuilds exactly the history that was recorded.
    """

    def __init__(
        self,
        folder: Path,
        loop: bool = False,
        rebase: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.folder = folder
        self.snapshots = list_snapshots(folder)
        self.loop = loop
        self.rebase = rebase
        self.clock = clock
        self.position = 0
        self.name = f"replay:{folder}"
        self._shift: timedelta | None = None

    def gap_after(self, index: int) -> float | None:
        """Recorded seconds between snapshot ``index`` and the next, for pacing a replay."""
        if index + 1 >= len(self.snapshots):
            return None
        return (self.snapshots[index + 1][0] - self.snapshots[index][0]).total_seconds()

    async def next_snapshot(self) -> Snapshot:
        if self.position >= len(self.snapshots):
            if not self.loop:
                raise ReplayExhausted(
                    f"replay of {self.folder} is finished ({len(self.snapshots)} snapshots)"
                )
            self.position = 0
            self._shift = None
        at, path = self.snapshots[self.position]
        self.position += 1
        recorded = path.read_bytes()
        rows = decode_snapshot(recorded)
        if not isinstance(rows, list):
            raise ValueError(f"{path} does not hold a JSON array")
        if not self.rebase:
            archived = recorded if recorded[:2] == b"\x1f\x8b" else encode_pages([recorded])
            return Snapshot(rows, at, self.name, archived)
        now = self.clock()
        if self._shift is None:
            self._shift = now - self.snapshots[-1][0]
        moved = rebase_rows(rows, self._shift)
        return Snapshot(moved, now, self.name, encode_snapshot(moved))

    async def aclose(self) -> None:
        return None
