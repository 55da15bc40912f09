"""Benchmark: diff + apply for a 2,000-row snapshot against 1,000 open calls.

Rows are real feed rows (../shared/data/feed, or the bundled demo sequence) re-numbered to reach the
sizes: 1,000 open incidents of 2 units each; the next snapshot keeps 800 of them (100 with a changed
unit), closes 200 and opens 200 new ones, again 2,000 rows. Prints ms per poll (parse + group + diff +
guard + one SQLite transaction), averaged over repeated polls on a real WAL file.

Run: .venv/bin/python bench/tracking.py [--polls 20]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dallas_calls.archive.store import LocalObjectStore
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore

DEMO = Path(__file__).resolve().parents[1] / "src" / "dallas_calls" / "demo" / "raw"


def real_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(DEMO.rglob("*.json.gz")):
        rows.extend(json.loads(gzip.decompress(path.read_bytes())))
    return rows


def make_snapshot(
    template: list[dict[str, Any]], incidents: range, changed: set[int]
) -> list[dict[str, Any]]:
    rows = []
    for n in incidents:
        base = template[n % len(template)]
        for unit in (0, 1):
            unit_number = f"U{n}-{unit}" if not (unit == 1 and n in changed) else f"U{n}-X"
            rows.append({**base, "incident_number": f"B-{n:06d}", "unit_number": unit_number})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=20)
    args = parser.parse_args()
    template = real_rows()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.sqlite3")
        pipeline = Pipeline(store, LocalObjectStore(Path(tmp) / "archive"))
        t = datetime(2026, 1, 1, tzinfo=UTC)
        pipeline.process(make_snapshot(template, range(0, 1000), set()), t, "bench", None)
        assert len(store.open_calls()) == 1000
        timings = []
        for i in range(args.polls):
            start = 200 * (i + 1)
            incidents = range(start, start + 1000)  # 800 kept, 200 new; 200 closed
            changed = set(range(start, start + 1000, 10))
            rows = make_snapshot(template, incidents, changed if i % 2 == 0 else set())
            t += timedelta(minutes=1)
            t0 = time.perf_counter()
            result = pipeline.process(rows, t, "bench", None)
            timings.append((time.perf_counter() - t0) * 1000)
            assert result.rows == 2000 and result.opened == 200 and result.closed == 200, result.summary()
        print(f"rows per snapshot: 2000, open calls before each poll: 1000, polls: {args.polls}")
        print(
            f"diff + apply: median {statistics.median(timings):.1f} ms per poll, "
            f"p90 {sorted(timings)[int(len(timings) * 0.9) - 1]:.1f} ms, max {max(timings):.1f} ms"
        )
        print(f"rate: {2000 / (statistics.median(timings) / 1000):,.0f} rows/s")


if __name__ == "__main__":
    main()
