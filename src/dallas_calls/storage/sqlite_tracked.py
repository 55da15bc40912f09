"""The tracker's memory of the open calls in the SQLite store, kept in memory between polls.

Rebuilding it means decoding every open call; keeping it means a poll that changes nothing costs
no decode and no row write. It stays right because the store updates it with each ChangeSet it
commits, and it is rebuilt whenever ``PRAGMA data_version`` shows another connection committed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping

from dallas_calls.model import Call, ChangeSet
from dallas_calls.tracking.state import CallLookup, Fingerprint, fingerprint

# A call's last_seen as read: a call open and in the latest snapshot was seen at that poll (the
# meta value written once per poll); any other call keeps the last_seen stored on its row.
LAST_SEEN = (
    "CASE WHEN closed_at IS NULL AND missed_polls = 0 "
    "THEN coalesce((SELECT value FROM meta WHERE key = 'seen_at'), last_seen) ELSE last_seen END"
)
SEEN_AT_KEY = "seen_at"


class StoredOpenCalls:
    """One poll's :class:`~dallas_calls.tracking.state.OpenCalls`: copies of the index's maps (a
    later commit does not change what a plan was made from) and the store's call lookup."""

    def __init__(
        self, fingerprints: Mapping[str, Fingerprint], misses: Mapping[str, int], lookup: CallLookup
    ) -> None:
        self.fingerprints: Mapping[str, Fingerprint] = dict(fingerprints)
        self.misses: Mapping[str, int] = dict(misses)
        self._lookup = lookup

    def load(self, incidents: Collection[str]) -> Mapping[str, Call]:
        return self._lookup(incidents) if incidents else {}


class OpenCallIndex:
    """Fingerprints and miss counts of every open call, as of one ``data_version``."""

    def __init__(self, fingerprints: dict[str, Fingerprint], misses: dict[str, int], version: int) -> None:
        self.fingerprints = fingerprints
        self.misses = misses
        self.version = version

    @classmethod
    def read(cls, conn: sqlite3.Connection, open_calls: Mapping[str, Call]) -> OpenCallIndex:
        misses = dict(
            conn.execute(
                "SELECT incident_number, missed_polls FROM calls WHERE missed_polls > 0 AND closed_at IS NULL"
            ).fetchall()
        )
        fingerprints = {n: fingerprint(c) for n, c in open_calls.items()}
        return cls(fingerprints, misses, data_version(conn))

    def committed(self, changes: ChangeSet, absent: Mapping[str, int]) -> None:
        """Follow a ChangeSet the store committed; ``absent`` are the misses of the open calls
        missing from its snapshot."""
        for call in changes.opened:
            self.fingerprints[call.incident_number] = fingerprint(call)
        for update in changes.updated:
            self.fingerprints[update.call.incident_number] = fingerprint(update.call)
        for call in changes.closed:
            self.fingerprints.pop(call.incident_number, None)
        self.misses = dict(absent)


def data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits to the file (never for this one's own commits)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
