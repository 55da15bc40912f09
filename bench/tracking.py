"""Benchmark: one poll of tracking (parse, group, diff, guard, one SQLite transaction) at several sizes.

Rows are real feed rows (the bundled demo sequence) re-numbered to reach the sizes: a snapshot of
R rows holds R/2 incidents of 2 units each, so R = 10,000 runs against 5,000 open calls. Two polls
are timed, each on a fresh WAL file after a first poll that opens every call:

- ``unchanged``: the same snapshot again; nothing is opened, updated or closed.
- ``churn``: a busy minute: the window of incidents slides by 1% (1% new, 1% gone, which close once
  their absence is confirmed) and 3% of the calls have a unit change, so about 5% of the calls
  change per poll. The recorded real sequence (tests/fixtures/feed_sequence) changes about 13% of
  its calls per 4-minute poll, i.e. 3-4% a minute.

Prints, per size and poll kind, the median and p90 ms per poll (``Pipeline.process``: parse +
group + diff + guard + the transaction + the change record) and rows per second at the median.

Run: .venv/bin/python bench/tracking.py [--rows 500,2000,10000,50000] [--polls 15]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dallas_calls.archive.store import LocalObjectStore
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore

DEMO = Path(__file__).resolve().parents[1] / "src" / "dallas_calls" / "demo" / "raw"
CHURN_SHIFT = 0.01  # fraction of incidents replaced per churn poll
CHURN_UPDATED = 0.03  # fraction of incidents with a unit change per churn poll

Snapshot = list[dict[str, Any]]


def real_rows() -> Snapshot:
    rows: list[dict[str, Any]] = []
    for path in sorted(DEMO.rglob("*.json.gz")):
        rows.extend(json.loads(gzip.decompress(path.read_bytes())))
    return rows


def make_snapshot(template: Snapshot, incidents: range, unit_version: Callable[[int], int]) -> Snapshot:
    """Two rows (units) per incident; the second unit of incident n is renamed when its version moves."""
    rows = []
    for n in incidents:
        base = template[n % len(template)]
        for unit_number in (f"U{n}-0", f"U{n}-v{unit_version(n)}"):
            rows.append({**base, "incident_number": f"B-{n:07d}", "unit_number": unit_number})
    return rows


def unchanged_polls(template: Snapshot, incidents: int) -> Callable[[int], Snapshot]:
    snapshot = make_snapshot(template, range(incidents), lambda n: 0)
    return lambda poll: snapshot


def churn_polls(template: Snapshot, incidents: int) -> Callable[[int], Snapshot]:
    shift = max(1, int(incidents * CHURN_SHIFT))
    step = max(1, round(1 / CHURN_UPDATED))

    def snapshot(poll: int) -> Snapshot:
        start = shift * poll
        # incident n changes a unit on every step-th poll, staggered by n: 1/step of them per poll
        return make_snapshot(template, range(start, start + incidents), lambda n: (poll + n % step) // step)

    return snapshot


def time_polls(
    rows: int, polls: int, next_snapshot: Callable[[int], Snapshot]
) -> tuple[list[float], list[int]]:
    """ms per poll and events per poll for polls 1..polls, after poll 0 opened every call."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.sqlite3")
        pipeline = Pipeline(store, LocalObjectStore(Path(tmp) / "archive"))
        at = datetime(2026, 1, 1, tzinfo=UTC)
        first = pipeline.process(next_snapshot(0), at, "bench", None)
        assert first.opened == rows // 2, first.summary()
        timings, events = [], []
        for poll in range(1, polls + 1):
            snapshot = next_snapshot(poll)
            at += timedelta(minutes=1)
            t0 = time.perf_counter()
            result = pipeline.process(snapshot, at, "bench", None)
            timings.append((time.perf_counter() - t0) * 1000)
            events.append(len(result.events))
            assert result.outcome == "ok" and result.rows == rows, result.summary()
        store.close()
        return timings, events


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.9 + 0.5) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="500,2000,10000,50000", help="comma-separated snapshot sizes")
    parser.add_argument("--polls", type=int, default=15, help="timed polls per size and kind")
    args = parser.parse_args()
    sizes = [int(s) for s in args.rows.split(",") if s.strip()]
    template = real_rows()
    print(
        f"{'rows':>7} {'open':>7} {'poll':<10} {'events':>7} {'median ms':>10} {'p90 ms':>8} {'rows/s':>12}"
    )
    for rows in sizes:
        incidents = rows // 2
        for kind, polls in (("unchanged", unchanged_polls), ("churn", churn_polls)):
            timings, events = time_polls(incidents * 2, args.polls, polls(template, incidents))
            median = statistics.median(timings)
            print(
                f"{incidents * 2:>7} {incidents:>7} {kind:<10} {statistics.median(events):>7.0f} "
                f"{median:>10.1f} {p90(timings):>8.1f} "
                f"{incidents * 2 / (median / 1000):>12,.0f}"
            )


if __name__ == "__main__":
    main()
