"""`/geocode?q=` latency through real HTTP on loopback (issue 12: p99 < 20 ms warm).

    python bench/geocode.py                                  # the package's demo snapshots
    python bench/geocode.py --feed ../shared/data/feed       # more real feed snapshots (repeatable)

The server is `dallas-calls api` in a process of its own, on a data folder whose street data is
built by `dallas-calls geodata build` from the constructed TIGER fixture (tests/fixtures/tiger; the
real layers are not on this machine, so the chain's *latency* is measured on a small index).
Queries: every distinct location of the feed rows ("BLOCK LOCATION", or "A / B" cross streets),
as the dashboard's "find an address" sends them. One client, one request at a time (the route
serialises lookups anyway). The rate limiter stays on but is raised
(DALLAS_CALLS_RATE_LIMIT_PER_MIN=10000000) so that it is measured and never refuses.

Reported: cold (first lookup of each query) and warm (``--passes`` more rounds of every query)
p50/p99/max in ms, the status counts, the server's CPU and RSS, and the load average: figures
taken on a busy machine are not the server's own.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import cpu_s, free_port, rss_mib, stop, wait_healthy  # bench/ is no package

REPO = Path(__file__).resolve().parents[1]
TIGER = REPO / "tests" / "fixtures" / "tiger"


def feed_rows(folders: list[Path]) -> list[dict[str, Any]]:
    """Rows of every snapshot (``*.json`` arrays, ``*.json.gz`` as the raw archive keeps them)."""
    rows: list[dict[str, Any]] = []
    if not folders:
        demo = resources.files("dallas_calls.demo").joinpath("raw")
        folders = [Path(str(demo))]
    for folder in folders:
        for path in sorted(folder.rglob("*.json*")):
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            rows += json.loads(raw)
    return rows


def queries(rows: list[dict[str, Any]]) -> list[str]:
    """The distinct locations, as a person would type them."""
    seen: dict[str, None] = {}
    for row in rows:
        location = str(row.get("location") or "").strip()
        block = str(row.get("block") or "").strip()
        if location:
            seen.setdefault(f"{block} {location}".strip() if block else location, None)
    return list(seen)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def figures(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(pct(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }


async def measure(port: int, pid: int, texts: list[str], passes: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        await wait_healthy(http)
        statuses: Counter[int] = Counter()

        async def one(text: str) -> float:
            t0 = time.perf_counter()
            response = await http.get("/geocode", params={"q": text})
            elapsed = (time.perf_counter() - t0) * 1000
            statuses[response.status_code] += 1
            return elapsed

        cpu0 = cpu_s(pid)
        cold = [await one(t) for t in texts]
        cold_cpu = cpu_s(pid) - cpu0
        load = os.getloadavg()
        cpu0 = cpu_s(pid)
        per_query: dict[str, list[float]] = {t: [] for t in texts}
        for _ in range(passes):
            for t in texts:
                per_query[t].append(await one(t))
        warm = [ms for times in per_query.values() for ms in times]
        warm_cpu = cpu_s(pid) - cpu0
    # A query slow every time is the locator's; one slow once is the machine's (or a GC).
    slowest = sorted(per_query.items(), key=lambda item: -statistics.median(item[1]))[:5]
    return {
        "queries": len(texts),
        "cold": figures(cold),
        "warm": {**figures(warm), "requests": len(warm)},
        "statuses": dict(sorted(statuses.items())),
        "slowest_warm_median_ms": {t: round(statistics.median(ms), 2) for t, ms in slowest},
        "server_cpu_ms_per_request": {
            "cold": round(1000 * cold_cpu / len(cold), 2),
            "warm": round(1000 * warm_cpu / len(warm), 2),
        },
        "server_rss_mib": round(rss_mib(pid), 1),
        "loadavg": " ".join(f"{v:.2f}" for v in load),
    }


def in_process(data_dir: str, texts: list[str], passes: int) -> dict[str, float]:
    """The locator alone, as the route calls it, in this process (after one cold round): what of
    the HTTP figure is the locator's, and what is HTTP, the thread hop and the machine's load."""
    from dallas_calls.config import Settings
    from dallas_calls.geocoding.locator import default_locator

    locator = default_locator(Settings(data_dir=Path(data_dir)))
    for text in texts:
        locator.locate(None, text, None, None)
    ms = []
    for _ in range(passes):
        for text in texts:
            t0 = time.perf_counter()
            locator.locate(None, text, None, None)
            ms.append((time.perf_counter() - t0) * 1000)
    return figures(ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feed", type=Path, action="append", default=[], help="a folder of feed snapshots")
    parser.add_argument("--tiger", type=Path, default=TIGER, help="TIGER files for `geodata build --from`")
    parser.add_argument("--passes", type=int, default=5, help="warm rounds over every query")
    args = parser.parse_args()
    texts = queries(feed_rows(args.feed))
    print(f"{len(texts)} distinct locations; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "DALLAS_CALLS_RATE_LIMIT_PER_MIN": "10000000",
            "DALLAS_CALLS_GEODATA_AUTO": "false",
        }
        cli = [sys.executable, "-m", "dallas_calls.cli"]
        build = [*cli, "geodata", "build", "--from", str(args.tiger), "--data-dir", tmp]
        subprocess.run(build, env=env, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        proc = subprocess.Popen([*cli, "api", "--data-dir", tmp, "--port", str(port)], env=env)
        try:
            result = asyncio.run(measure(port, proc.pid, texts, args.passes))
        finally:
            stop(proc)
        result["locate_in_process"] = in_process(tmp, texts, args.passes)
    print(json.dumps(result))
    cold, warm = result["cold"], result["warm"]
    print()
    print(
        "| queries | cold p50 / p99 / max | warm p50 / p99 / max | statuses | server CPU / request (warm) "
        "| locate() alone p50 / p99 | load avg |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {result['queries']} | {cold['p50_ms']} / {cold['p99_ms']} / {cold['max_ms']} ms "
        f"| {warm['p50_ms']} / {warm['p99_ms']} / {warm['max_ms']} ms | {result['statuses']} "
        f"| {result['server_cpu_ms_per_request']['warm']} ms "
        f"| {result['locate_in_process']['p50_ms']} / {result['locate_in_process']['p99_ms']} ms "
        f"| {result['loadavg']} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
