"""Benchmark: does a huge poll block the API? `/healthz` latency while `serve` takes 50,000-row polls.

A real `dallas-calls serve` process polls a loopback fake Socrata feed (tests/fakes/socrata.py) that
serves 50,000-row snapshots built from real feed rows (25,000 incidents x 2 units, re-numbered).
Phases, each one or two polls:
- open: the first snapshot (25,000 calls opened);
- unchanged: the same snapshot again;
- churn: half the incidents replaced (12,500 closed and 12,500 opened; the suspicious-poll guard
  holds the closes once, the second poll confirms them).
Meanwhile this process (the load, a separate process) asks `/healthz` every 10 ms on one keep-alive
connection and records each latency under the phase it fell in. Prints p50 / p99 / max per phase and
the CPU seconds of the server and of the load, so a reader can tell which side was the bottleneck.
Targets (issue 10): p99 < 100 ms, max < 250 ms.

Run: .venv/bin/python bench/poll_blocking.py [--rows 50000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.fakes.socrata import FakeSocrata  # noqa: E402  (a real loopback server, shared with the tests)

from procs import cpu_s, free_port, wait_healthy  # noqa: E402

DEMO = REPO / "src" / "dallas_calls" / "demo" / "raw"


def template_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(DEMO.rglob("*.json.gz")):
        rows.extend(json.loads(gzip.decompress(path.read_bytes())))
    return rows


def snapshot(template: list[dict[str, Any]], incidents: range) -> list[dict[str, Any]]:
    return [
        {**template[n % len(template)], "incident_number": f"P-{n:06d}", "unit_number": f"U{n}-{unit}"}
        for n in incidents
        for unit in (0, 1)
    ]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def probe(url: str, phase: list[str], samples: dict[str, list[float]], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while not stop.is_set():
            t0 = time.perf_counter()
            response = await http.get("/healthz")
            elapsed = (time.perf_counter() - t0) * 1000
            assert response.status_code == 200, response.text
            samples.setdefault(phase[0], []).append(elapsed)
            await asyncio.sleep(0.01)


async def last_good(http: httpx.AsyncClient) -> tuple[Any, int]:
    body = (await http.get("/readyz")).json()
    return body.get("last_good_poll_at"), int(body.get("last_event_id") or 0)


async def run(rows: int) -> dict[str, Any]:
    incidents = rows // 2
    template = template_rows()
    first = snapshot(template, range(incidents))
    churned = snapshot(template, range(incidents // 2, incidents + incidents // 2))
    feed = FakeSocrata([first, first, churned], auto_advance=False).start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DALLAS_CALLS_FEED_TIMEOUT_S": "60"}  # pages of 1,000 rows, the default
        cmd = [sys.executable, "-m", "dallas_calls.cli", "serve", "--port", str(port), "--data-dir", tmp]
        cmd += ["--feed-url", feed.url, "--poll-interval", "3", "--no-demo-fallback"]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples: dict[str, list[float]] = {}
        phase = ["start-up"]
        stop = asyncio.Event()
        try:
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                await wait_healthy(http)
                prober = asyncio.ensure_future(probe(url, phase, samples, stop))
                cpu0, load0 = cpu_s(server.pid), resource.getrusage(resource.RUSAGE_SELF)
                seen = await last_good(http)
                for name, polls, advance in (("open", 1, False), ("unchanged", 1, True), ("churn", 2, True)):
                    phase[0] = name
                    if advance:
                        feed.advance()
                    for _ in range(polls):
                        deadline = time.monotonic() + 300
                        while (now := await last_good(http)) == seen or now[0] == seen[0]:
                            if time.monotonic() > deadline:
                                raise TimeoutError(f"no poll finished in phase {name}")
                            await asyncio.sleep(0.05)
                        seen = now
                phase[0] = "after"
                await asyncio.sleep(0.5)
                stop.set()
                await prober
                load1 = resource.getrusage(resource.RUSAGE_SELF)
                result: dict[str, Any] = {
                    "rows": rows,
                    "server_cpu_s": round(cpu_s(server.pid) - cpu0, 2),
                    "load_cpu_s": round(
                        (load1.ru_utime + load1.ru_stime) - (load0.ru_utime + load0.ru_stime), 2
                    ),
                    "open_calls": len((await http.get("/current-calls/")).json()["current_active_calls"]),
                    "phases": {},
                }
        finally:
            server.terminate()
            server.wait(timeout=30)
            feed.stop()
    for name in ("open", "unchanged", "churn"):
        values = samples.get(name, [])
        if values:
            result["phases"][name] = {
                "samples": len(values),
                "p50_ms": round(statistics.median(values), 1),
                "p99_ms": round(pct(values, 0.99), 1),
                "max_ms": round(max(values), 1),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.rows))
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{result['rows']:,}-row polls; open calls at the end: {result['open_calls']:,}")
    print(f"server CPU {result['server_cpu_s']} s, load CPU {result['load_cpu_s']} s")
    print("| phase | /healthz samples | p50 | p99 | max |")
    print("|---|---|---|---|---|")
    for name, p in result["phases"].items():
        print(f"| {name} | {p['samples']} | {p['p50_ms']} ms | {p['p99_ms']} ms | {p['max_ms']} ms |")


if __name__ == "__main__":
    main()
