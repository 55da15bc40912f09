"""Benchmark: location lookup latency per key, warm cache vs the local chain with the street index.

Keys: every distinct location of the real feed snapshots (tests/fixtures/real/feed, copied from the shared data set). The street index is
built from the constructed TIGER fixture (tests/fixtures/tiger), so its *latency* is measured on a
small file; `street_index` lookups on a 180,000-segment synthetic grid were measured at ~0.15 ms
(address, intersection) when the index was written. Targets (issue 4): warm cache < 1 ms, local
index < 5 ms per key.

Run: .venv/bin/python bench/geocode_latency.py
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from dallas_calls.cli import main as cli_main
from dallas_calls.config import Settings
from dallas_calls.geocoding.keys import location_key
from dallas_calls.geocoding.locator import default_locator
from dallas_calls.storage.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[1]
# The feed snapshots the tests carry (a copy of the shared data set's feed/ folder).
FEED = REPO / "tests" / "fixtures" / "real" / "feed"
FIXTURE = REPO / "tests" / "fixtures" / "tiger"


def main() -> None:
    places: dict[str, tuple[str | None, str, str | None, str | None, str | None]] = {}
    for path in sorted(FEED.glob("*.json")):
        for row in json.loads(path.read_text()):
            key = location_key(row.get("block"), row["location"])
            places.setdefault(
                key,
                (
                    row.get("block"),
                    row["location"],
                    row.get("beat"),
                    row.get("division"),
                    row.get("reporting_area"),
                ),
            )
    with tempfile.TemporaryDirectory() as tmp:
        assert cli_main(["geodata", "build", "--from", str(FIXTURE), "--data-dir", tmp]) == 0
        locator = default_locator(Settings(data_dir=Path(tmp)))
        store = SqliteStore(Path(tmp) / "cache.sqlite3")
        chain_ms, cache_ms = [], []
        for key, (block, location, beat, division, area) in places.items():
            t0 = time.perf_counter()
            geo = locator.locate(block, location, beat, division, area)
            chain_ms.append((time.perf_counter() - t0) * 1000)
            store.put_location(key, geo, "2100-01-01T00:00:00Z")
        for _ in range(5):
            for key in places:
                t0 = time.perf_counter()
                assert store.get_location(key, "2026-01-01T00:00:00Z") is not None
                cache_ms.append((time.perf_counter() - t0) * 1000)
    print(f"keys: {len(places)}")
    print(
        f"local chain (street index + address points + choose): median {statistics.median(chain_ms):.3f} ms, "
        f"p99 {sorted(chain_ms)[int(len(chain_ms) * 0.99)]:.3f} ms per key"
    )
    print(
        f"warm cache (SQLite): median {statistics.median(cache_ms):.3f} ms, "
        f"p99 {sorted(cache_ms)[int(len(cache_ms) * 0.99)]:.3f} ms per key"
    )


if __name__ == "__main__":
    main()
