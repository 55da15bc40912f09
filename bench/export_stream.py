"""A CSV export of 100,000 history rows streams without holding them (issue 12).

    python bench/export_stream.py                  # 100,000 calls over 30 days
    python bench/export_stream.py --calls 20000    # smaller

Generates a real SQLite store through the store's own write path (``SqliteStore.apply``, one poll
per batch: calls opened, and closed three polls later, as the tracker commits them), then:

- ``GET /history?start=&end=&format=csv`` over the whole window (30 days: /history caps a window
  at 31) from `dallas-calls api` in a process of its own, on loopback. The server's RSS is
  sampled every 10 ms during the export: its peak growth over the RSS before (after a small
  warm-up export) is set against the CSV's size. Holding the rows would grow it by at least the
  CSV's size (ratio >= 1); paging keeps it near a page's worth.
- ``dallas-calls export --format csv --output FILE`` (the CLI): peak RSS of the whole window
  against a one-hour window's, the same way.

Both check the row count (and that each incident appears once) and report rows/s. The load
average is printed with every figure: timings on a busy machine are not the code's own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dallas_calls.model import Call, ChangeSet, Geo, PollRecord, Unit, iso_utc
from dallas_calls.storage.sqlite import SqliteStore
from procs import free_port, rss_mib, stop, wait_healthy  # bench/ is no package

REPO = Path(__file__).resolve().parents[1]
START = datetime(2019, 6, 1, tzinfo=UTC)
DAYS = 30
PER_POLL = 100
CLOSE_AFTER = 3  # polls
STREETS = (
    "FOREST LN",
    "GREENVILLE AVE",
    "ROSS AVE",
    "MAIN ST",
    "COMMERCE ST",
    "MOCKINGBIRD LN",
    "KIEST BLVD",
)
NATURES = (
    "07 - MINOR ACCIDENT",
    "6X - MAJOR DIST (VIOLENCE)",
    "09V - UUMV",
    "40 - OTHER",
    "12B - BUSINESS ALARM",
)


def make_call(n: int, seen: str, rnd: random.Random) -> Call:
    street, block = rnd.choice(STREETS), str(rnd.randrange(100, 12000, 100))
    units = tuple(
        sorted(Unit(f"{rnd.choice('ABCDEF')}{rnd.randrange(100, 999)}", "At Scene") for _ in range(2))
    )
    return Call(
        incident_number=f"19-{n:07d}",
        division=rnd.choice(("CENTRAL", "NORTHEAST", "SOUTHWEST")),
        nature_of_call=rnd.choice(NATURES),
        priority=rnd.randrange(1, 5),
        received_at=seen,
        block=block,
        location=street,
        beat=str(rnd.randrange(111, 758)),
        reporting_area=str(rnd.randrange(1000, 9999)),
        status="At Scene",
        units=units,
        location_key=f"{block} {street}|DALLAS",
        first_seen=seen,
        last_seen=seen,
        geo=Geo(
            round(32.6 + rnd.random() * 0.4, 6), round(-97 + rnd.random() * 0.4, 6), "address", "local", True
        ),
    )


def generate(db: Path, calls: int) -> float:
    """``calls`` calls over ``DAYS`` days, ``PER_POLL`` per poll; returns the seconds it took."""
    t0 = time.perf_counter()
    rnd = random.Random(12)
    store = SqliteStore(db)
    polls = -(-calls // PER_POLL)
    step = timedelta(days=DAYS) / polls
    opened: list[list[Call]] = []
    made = 0
    for p in range(polls + CLOSE_AFTER):
        at = iso_utc(START + step * p)
        fresh = [make_call(made + i, at, rnd) for i in range(min(PER_POLL, calls - made))]
        made += len(fresh)
        opened.append(fresh)
        due = opened[p - CLOSE_AFTER] if p >= CLOSE_AFTER else []
        closed = tuple(_closed(c, at) for c in due)
        store.apply(ChangeSet(opened=tuple(fresh), closed=closed), PollRecord(at, "ok", rows=len(fresh)))
    store.close()
    return time.perf_counter() - t0


def _closed(call: Call, at: str) -> Call:
    fields = call.to_dict()
    fields.update(last_seen=at, closed_at=at)
    return Call.from_dict(fields)


class PeakRss:
    """The peak RSS of a process, sampled every 10 ms in a thread while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        with contextlib.suppress(OSError):  # it has ended
            self.peak = max(self.peak, rss_mib(self.pid))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


class RowCount:
    """Data rows and distinct incident numbers of CSV lines fed as they come (the header first)."""

    def __init__(self) -> None:
        self.at = -1
        self.rows = 0
        self.numbers: set[str] = set()

    def feed(self, lines: Iterable[str]) -> None:
        for row in csv.reader(lines):
            if self.at < 0:
                self.at = row.index("incident_number")
            else:
                self.rows += 1
                self.numbers.add(row[self.at])

    def ok(self, calls: int) -> bool:
        return self.rows == len(self.numbers) == calls


async def over_http(data_dir: str, calls: int, env: dict[str, str]) -> dict[str, Any]:
    port = free_port()
    cli = [sys.executable, "-m", "dallas_calls.cli"]
    proc = subprocess.Popen([*cli, "api", "--data-dir", data_dir, "--port", str(port)], env=env)
    start, end = iso_utc(START), iso_utc(START + timedelta(days=DAYS + 1))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            await wait_healthy(http)
            warm = await http.get(
                "/history",
                params={"start": start, "end": iso_utc(START + timedelta(hours=1)), "format": "csv"},
            )
            assert warm.status_code == 200, warm.text
            await asyncio.sleep(0.5)
            before = rss_mib(proc.pid)
            load = os.getloadavg()
            nbytes = 0
            counted = RowCount()
            t0 = time.perf_counter()
            with PeakRss(proc.pid) as peak:
                params = {"start": start, "end": end, "format": "csv"}
                async with http.stream("GET", "/history", params=params) as response:
                    assert response.status_code == 200, await response.aread()
                    pending = ""
                    async for text in response.aiter_text():
                        nbytes += len(text.encode())
                        pending += text
                        *done, pending = pending.split("\r\n")
                        counted.feed(done)
                    counted.feed([pending] if pending else [])
            wall = time.perf_counter() - t0
            capped = await http.get(
                "/history",
                params={"start": start, "end": iso_utc(START + timedelta(days=32)), "format": "csv"},
            )
    finally:
        stop(proc)
    growth = peak.peak - before
    return {
        "path": "GET /history?format=csv",
        "rows": counted.rows,
        "rows_ok": counted.ok(calls),
        "csv_mib": round(nbytes / 2**20, 1),
        "rss_before_mib": round(before, 1),
        "rss_peak_growth_mib": round(growth, 1),
        "growth_per_csv": round(growth / (nbytes / 2**20), 3),
        "rows_per_s": round(counted.rows / wall),
        "wall_s": round(wall, 2),
        "window_32_days": capped.status_code,
        "loadavg": " ".join(f"{v:.2f}" for v in load),
    }


def cli_export(data_dir: str, end: datetime, out: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(peak RSS MiB, wall s, stderr) of one `dallas-calls export` to a file. The RSS is sampled
    (a child's ru_maxrss would count this process's own memory, copied at fork)."""
    cmd = [sys.executable, "-m", "dallas_calls.cli", "export", "--data-dir", data_dir]
    cmd += ["--start", iso_utc(START), "--end", iso_utc(end), "--format", "csv", "--output", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    with PeakRss(proc.pid) as peak:
        _, err = proc.communicate()
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, err
    return peak.peak, wall, err.strip()


def over_cli(data_dir: str, calls: int, env: dict[str, str]) -> dict[str, Any]:
    out = Path(data_dir) / "export.csv"
    small_rss, _, _ = cli_export(data_dir, START + timedelta(hours=1), out, env)
    load = os.getloadavg()
    full_rss, wall, said = cli_export(data_dir, START + timedelta(days=DAYS + 1), out, env)
    counted = RowCount()
    with out.open(newline="") as f:
        counted.feed(f)
    size = out.stat().st_size / 2**20
    growth = full_rss - small_rss
    return {
        "path": "dallas-calls export --format csv",
        "rows": counted.rows,
        "rows_ok": counted.ok(calls),
        "csv_mib": round(size, 1),
        "rss_before_mib": round(small_rss, 1),
        "rss_peak_growth_mib": round(growth, 1),
        "growth_per_csv": round(growth / size, 3),
        "rows_per_s": round(counted.rows / wall),
        "wall_s": round(wall, 2),
        "said": said,
        "loadavg": " ".join(f"{v:.2f}" for v in load),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "DALLAS_CALLS_GEODATA_AUTO": "false",
        "DALLAS_CALLS_GEOCODE": "false",
    }
    with tempfile.TemporaryDirectory() as tmp:
        from dallas_calls.config import Settings

        db = Settings(data_dir=Path(tmp)).db_path
        db.parent.mkdir(parents=True, exist_ok=True)
        took = generate(db, args.calls)
        print(
            f"generated {args.calls} calls over {DAYS} days in {took:.1f} s ({db.stat().st_size / 2**20:.0f} MiB)"
        )
        results = [asyncio.run(over_http(tmp, args.calls, env)), over_cli(tmp, args.calls, env)]
    for r in results:
        print(json.dumps(r))
    print()
    print("| path | rows (checked) | CSV | RSS before | peak RSS growth | growth / CSV | rows/s | load avg |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| `{r['path']}` | {r['rows']} ({'ok' if r['rows_ok'] else 'WRONG'}) | {r['csv_mib']} MiB "
            f"| {r['rss_before_mib']} MiB | {r['rss_peak_growth_mib']} MiB | {r['growth_per_csv']} "
            f"| {r['rows_per_s']} | {r['loadavg']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
