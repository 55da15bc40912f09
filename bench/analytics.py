"""GET /analytics over 30 days of generated history in a real SQLite store.

    python bench/analytics.py [--days 30] [--per-day 1750] [--requests 30]

Generates ``--days`` days of history into a fresh SQLite file through ``SqliteStore.apply`` (one
commit per hour of calls opened and closed in it, with their events and poll records, as the
poller writes them): about ``--per-day`` calls a day with a Dallas daily rhythm (few at 5 am, most
in the evening), divisions, priorities, call types and beats drawn with the frequencies of the real
feed rows in tests/fixtures, and lognormal times on the feed (median ~50 min, longer for priority 4;
the last hours' calls are still open). Then serves it with ``create_app`` in a separate uvicorn
process and times ``GET /analytics?start=&end=&group_by=`` over the whole window through real HTTP
on loopback (sequential requests, each group_by in turn, each window shifted by a second so no
answer is reused; then the same window again, answered from the server's answer cache), and in
this process the two halves of the handler: the store's ``call_facts_between`` and the ``aggregate`` of the facts.
Prints median and p99 milliseconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dallas_calls.analytics import LOCAL, aggregate
from dallas_calls.model import Call, ChangeSet, PollRecord, Unit, iso_utc
from dallas_calls.storage.sqlite import SqliteStore
from procs import cpu_s, free_port

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
# Share of a day's calls in each local hour (0..23): quiet before dawn, busiest in the evening.
HOURLY = [4.0, 3.4, 2.9, 2.4, 2.0, 1.8, 2.2, 3.0, 3.6, 4.0, 4.3, 4.6, 4.8, 4.9, 5.0, 5.2, 5.5, 5.7, 5.8,
          5.7, 5.4, 5.0, 4.6, 4.2]  # fmt: skip
PRIORITIES: list[tuple[int | None, float]] = [(1, 0.09), (2, 0.36), (3, 0.33), (4, 0.20), (None, 0.02)]
MEDIAN_MIN = {1: 35.0, 2: 45.0, 3: 55.0, 4: 80.0, None: 50.0}


def real_mix() -> dict[str, Counter[str]]:
    """Divisions, call types and beats with their frequencies in the recorded feed rows."""
    mix: dict[str, Counter[str]] = {"division": Counter(), "nature_of_call": Counter(), "beat": Counter()}
    files = [*(FIXTURES / "real" / "feed").glob("*.json"), *(FIXTURES / "feed_sequence").rglob("*.json")]
    for path in files:
        rows = json.loads(path.read_text())
        for row in rows if isinstance(rows, list) else []:
            for name, counts in mix.items():
                if row.get(name):
                    counts[str(row[name])] += 1
    return mix


def _pick(rng: random.Random, counts: Counter[str]) -> str:
    keys = list(counts)
    return rng.choices(keys, weights=[counts[k] for k in keys])[0]


def generate(store: SqliteStore, days: int, per_day: int, end: datetime, seed: int = 7) -> int:
    """Write ``days`` days of calls ending at ``end`` (an hour boundary); returns how many."""
    rng = random.Random(seed)
    mix = real_mix()
    start = end - timedelta(days=days)
    weights = [w / sum(HOURLY) for w in HOURLY]
    closing: dict[datetime, list[Call]] = {}
    made = 0
    hour = start
    while hour < end:
        local_hour = hour.astimezone(LOCAL).hour
        count = max(
            0, round(rng.gauss(per_day * weights[local_hour], math.sqrt(per_day * weights[local_hour])))
        )
        opened = []
        for _ in range(count):
            made += 1
            first = hour + timedelta(minutes=4 * rng.randrange(15))  # the poller's 4-minute grid
            priority = rng.choices([p for p, _ in PRIORITIES], weights=[w for _, w in PRIORITIES])[0]
            call = Call(
                incident_number=f"{first:%y}-{made:07d}",
                division=_pick(rng, mix["division"]),
                nature_of_call=_pick(rng, mix["nature_of_call"]),
                priority=priority,
                received_at=(first - timedelta(minutes=rng.randrange(1, 20))).isoformat(),
                block=str(100 * rng.randrange(1, 99)),
                location="MAIN ST",
                beat=_pick(rng, mix["beat"]),
                reporting_area=str(rng.randrange(1000, 5000)),
                status="Dispatched",
                units=(Unit(f"B{rng.randrange(100, 999)}", "At Scene"),),
                location_key=f"{rng.randrange(5000)} MAIN ST|DALLAS",
                first_seen=iso_utc(first),
                last_seen=iso_utc(first),
            )
            opened.append(call)
            minutes = max(4.0, rng.lognormvariate(math.log(MEDIAN_MIN[priority]), 0.8))
            closes = first + timedelta(minutes=4 * math.ceil(minutes / 4))
            if closes < end:
                closed = call.with_changes(closed_at=iso_utc(closes), last_seen=iso_utc(closes))
                closing.setdefault(closes.replace(minute=0), []).append(closed)
        closed_now = tuple(closing.pop(hour, []))
        store.apply(
            ChangeSet(opened=tuple(opened), closed=closed_now),
            PollRecord(iso_utc(hour), "ok", rows=len(opened), source="bench"),
        )
        hour += timedelta(hours=1)
    return made


def serve(port: int, data_dir: str) -> None:
    import uvicorn

    from dallas_calls.api.app import create_app
    from dallas_calls.config import Settings
    from dallas_calls.events.bus import LocalBus

    settings = Settings(data_dir=Path(data_dir), rate_limit_per_min=0)
    app = create_app(settings, SqliteStore(settings.db_path), LocalBus())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def report(label: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(f"{label:<44} median {statistics.median(ms):7.1f} ms   p99 {pct(ms, 0.99):7.1f} ms   (n={len(ms)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=1750)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=args.days)
    with tempfile.TemporaryDirectory() as tmp:
        from dallas_calls.config import Settings

        db_path = Settings(data_dir=Path(tmp)).db_path
        store = SqliteStore(db_path)
        t0 = time.perf_counter()
        made = generate(store, args.days, args.per_day, end)
        print(f"generated {made:,} calls over {args.days} days in {time.perf_counter() - t0:.1f} s "
              f"({os.path.getsize(db_path) / 2**20:.0f} MiB file)")  # fmt: skip
        window = (iso_utc(start), iso_utc(end))
        reads, sums, read_cpu, sum_cpu = [], [], [], []
        for _ in range(args.requests):
            t0, c0 = time.perf_counter(), time.process_time()
            facts = store.call_facts_between(*window)
            t1, c1 = time.perf_counter(), time.process_time()
            aggregate(facts, start, end, "division")
            reads.append(t1 - t0)
            sums.append(time.perf_counter() - t1)
            read_cpu.append(c1 - c0)
            sum_cpu.append(time.process_time() - c1)
        print(f"{len(facts):,} calls in the window")
        report("in process: call_facts_between (wall)", reads)
        report("in process: call_facts_between (CPU)", read_cpu)
        report("in process: aggregate (wall)", sums)
        report("in process: aggregate (CPU)", sum_cpu)
        store.close()

        port = free_port()
        proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), tmp])
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                for _ in range(300):
                    try:
                        if http.get("/healthz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                http.get("/analytics", params={"start": window[0], "end": window[1]})  # warm up
                cpu_before = cpu_s(proc.pid)
                timings: dict[str, list[float]] = {"division": [], "priority": [], "nature": []}
                body: dict[str, object] = {}
                for i in range(args.requests * len(timings)):
                    group_by = list(timings)[i % len(timings)]
                    # each request a window of its own (shifted by i seconds): no answer is reused
                    shifted = (
                        iso_utc(start - timedelta(seconds=i + 1)),
                        iso_utc(end - timedelta(seconds=i + 1)),
                    )
                    t0 = time.perf_counter()
                    response = http.get(
                        "/analytics", params={"start": shifted[0], "end": shifted[1], "group_by": group_by}
                    )
                    timings[group_by].append(time.perf_counter() - t0)
                    response.raise_for_status()
                    body = response.json()
                print(
                    f"/analytics answered count={body['count']:,} median_s={body['median_s']} p90_s={body['p90_s']}"
                )
                served = sum(len(v) for v in timings.values())
                server_cpu_ms = (cpu_s(proc.pid) - cpu_before) * 1000 / served
                report("HTTP GET /analytics (all group_by)", [s for v in timings.values() for s in v])
                print(f"{'server CPU per request (mean)':<44} {server_cpu_ms:7.1f} ms")
                for group_by, seconds in timings.items():
                    report(f"HTTP GET /analytics group_by={group_by}", seconds)
                again = []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    http.get("/analytics", params={"start": window[0], "end": window[1]}).raise_for_status()
                    again.append(time.perf_counter() - t0)
                report("HTTP GET /analytics, the same window again", again)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
