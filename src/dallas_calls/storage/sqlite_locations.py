"""The geocode cache of the SQLite store (table ``locations``), and the locator's commit.

A located answer and its ``location.resolved`` event are written in one transaction
(:meth:`SqliteLocations.record_locations`), so a crash never leaves a cached answer that no event
announces. Apart from the calls because the cache is keyed by location, not by incident: the calls'
reads join it (:meth:`SqliteLocations._geo_for`) but never write it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from dallas_calls.events.encode import canonical_json
from dallas_calls.model import Event, Geo
from dallas_calls.storage.port import Resolved
from dallas_calls.storage.sqlite_log import SqliteLog


class SqliteLocations(SqliteLog):
    """Reads and writes of the ``locations`` table."""

    def _geo_for(self, keys: Iterable[str]) -> dict[str, Geo]:
        wanted = sorted(set(keys))
        found: dict[str, Geo] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT location_key, geo FROM locations WHERE location_key IN ({marks})", chunk
            )
            for key, geo in rows:
                parsed = Geo.from_dict(json.loads(geo))
                if parsed.lat is not None:
                    found[key] = parsed
        return found

    def get_location(self, location_key: str, now: str) -> Geo | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT geo FROM locations WHERE location_key = ? AND expires_at > ?", (location_key, now)
            ).fetchone()
        return Geo.from_dict(json.loads(row[0])) if row else None

    def record_locations(self, resolutions: Sequence[Resolved], resolved_at: str) -> list[Event]:
        """Cache the answers and append the events of the located ones in one transaction: a crash
        never leaves a cached answer whose ``location.resolved`` was not logged (it would never
        be announced: the cache says the key needs no more work)."""
        with self._transaction() as conn:
            for found in resolutions:
                self._put_location(conn, found.location_key, found.geo, found.expires_at, resolved_at)
            return self._append(conn, [f.event for f in resolutions if f.event is not None])

    def put_location(self, location_key: str, geo: Geo, expires_at: str, resolved_at: str = "") -> None:
        with self._transaction() as conn:
            self._put_location(conn, location_key, geo, expires_at, resolved_at)

    @staticmethod
    def _put_location(
        conn: sqlite3.Connection, location_key: str, geo: Geo, expires_at: str, resolved_at: str
    ) -> None:
        conn.execute(
            "INSERT INTO locations (location_key, geo, precision, resolved_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (location_key) DO UPDATE SET geo = excluded.geo, "
            "precision = excluded.precision, resolved_at = excluded.resolved_at, "
            "expires_at = excluded.expires_at",
            (
                location_key,
                canonical_json(geo.to_dict()),
                geo.precision,
                resolved_at or expires_at,
                expires_at,
            ),
        )

    def expire_locations(self, precisions: Sequence[str]) -> int:
        """Make cached geocodes of these precisions stale, so they are located again."""
        marks = ",".join("?" * len(precisions))
        with self._transaction() as conn:
            return conn.execute(
                f"UPDATE locations SET expires_at = '' WHERE precision IN ({marks})", tuple(precisions)
            ).rowcount

    def location_keys_needing_geocode(self, now: str) -> list[str]:
        """Keys of open calls with no fresh cached geocode."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT c.location_key FROM calls c LEFT JOIN locations l "
                "ON l.location_key = c.location_key AND l.expires_at > ? "
                "WHERE c.closed_at IS NULL AND l.location_key IS NULL ORDER BY c.location_key",
                (now,),
            ).fetchall()
        return [r[0] for r in rows]
