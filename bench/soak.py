"""Soak: a compressed day of polls against a hostile feed, with SSE clients watching.

A real `dallas-calls serve` process polls a loopback fake Socrata feed (tests/fakes/socrata.py)
1,440 times (one a minute for a day, compressed to one every 0.1 s). The feed has realistic churn
(about 150 open calls, 3 units each at most; each minute a few calls close, a few open, some change
units or status) built from real feed rows, plus injected faults: 5% failed fetches (HTTP 500), 1%
empty snapshots, 1% snapshots missing half the calls, and hostile rows in 2% of snapshots (a date
in year 9999, a lone surrogate, a 200-character incident number, an integer of 5,000 digits, a
nested object for a street). 50 SSE clients stay connected the whole time (5 of them drop and
resume by id every ~100 polls); /healthz is asked every 50 ms.

Prints: polls by outcome, false closes (a call closed while it was still in the feed: must be 0),
reopened calls (a flap that reached clients: must be 0), event-log gaps (0), SSE clients with a
gap or duplicate (0), quarantined rows, RSS at start and end (growth < 10%), max /healthz latency,
and the server's and this load's CPU seconds.

Run: .venv/bin/python bench/soak.py [--polls 1440] [--interval 0.1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.fakes.socrata import DropHalf, EmptySnapshot, FakeSocrata, Fault, Pass, ServerError  # noqa: E402

from procs import cpu_s, free_port, rss_mib, wait_healthy  # noqa: E402

DEMO = REPO / "src" / "dallas_calls" / "demo" / "raw"
CLIENTS = 50
RESUMING = 5


def template_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(DEMO.rglob("*.json.gz")):
        rows.extend(json.loads(gzip.decompress(path.read_bytes())))
    return rows


HOSTILE: list[dict[str, Any]] = [
    {
        "incident_number": "H-DATE",
        "date": "9999-12-31T00:00:00.000",
        "time": "23:59:59",
        "location": "MAIN ST",
    },
    {
        "incident_number": "H-SURR",
        "location": "ELM \ud800 ST",
        "date": "2026-12-01T00:00:00.000",
        "time": "01:00:00",
    },
    {
        "incident_number": "H" * 200,
        "location": "ELM ST",
        "date": "2026-12-01T00:00:00.000",
        "time": "01:00:00",
    },
    {"incident_number": "H-BIG", "priority": 10**4000, "location": "ELM ST"},
    {"incident_number": "H-NEST", "location": {"street": "ELM"}, "block": [1, 2]},
]


def feed_day(polls: int, seed: int = 1) -> tuple[list[list[dict[str, Any]]], list[set[str]]]:
    """The snapshots of a day and, for each, the incidents truly open in it."""
    rnd = random.Random(seed)
    template = [r for r in template_rows() if r.get("location")]
    alive: dict[str, list[dict[str, Any]]] = {}
    next_id = 0

    def new_call() -> None:
        nonlocal next_id
        base = rnd.choice(template)
        number = f"26-{next_id:07d}"
        next_id += 1
        units = [
            {**base, "incident_number": number, "unit_number": f"U{next_id}-{u}", "status": "Dispatched"}
            for u in range(rnd.randint(1, 3))
        ]
        alive[number] = units

    for _ in range(150):
        new_call()
    snapshots, truth = [], []
    for _ in range(polls):
        for number in rnd.sample(sorted(alive), k=min(len(alive), rnd.randint(0, 6))):
            del alive[number]
        for _ in range(rnd.randint(0, 6)):
            new_call()
        for number in rnd.sample(sorted(alive), k=min(len(alive), 8)):
            units = alive[number]
            units[0] = {**units[0], "status": rnd.choice(("En Route", "At Scene", "Dispatched"))}
        rows = [row for units in alive.values() for row in units]
        if rnd.random() < 0.02:
            rows = rows + HOSTILE
        snapshots.append(rows)
        truth.append(set(alive))
    return snapshots, truth


def faults(polls: int, seed: int = 2) -> list[Fault]:
    rnd = random.Random(seed)
    out: list[Fault] = []
    for _ in range(polls):
        roll = rnd.random()
        out.append(
            ServerError(500)
            if roll < 0.05
            else EmptySnapshot()
            if roll < 0.06
            else DropHalf()
            if roll < 0.07
            else Pass()
        )
    return out


class _Stream(asyncio.Protocol):
    def __init__(self, watcher: Watcher, closed: asyncio.Future[None]) -> None:
        self.watcher, self.closed, self.buffer = watcher, closed, b""
        self.transport: asyncio.BaseTransport | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"id: "):
                self.watcher.ids.append(int(line[4:]))
            elif line.startswith(b"event: reset"):
                self.watcher.resets += 1
            elif line.startswith(b"event: overflow"):  # fell behind: the stream ends, resume by id
                self.watcher.overflows += 1
                if self.transport is not None:
                    self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class Watcher:
    """One SSE client, a bare protocol so the load stays cheap: keeps every id it receives; a
    resuming one closes its connection every 10 s and reconnects with ``Last-Event-ID``."""

    def __init__(self, port: int, resumes: bool) -> None:
        self.port = port
        self.resumes = resumes
        self.ids: list[int] = []
        self.resets = 0
        self.overflows = 0

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            closed: asyncio.Future[None] = loop.create_future()
            try:
                stream = _Stream(self, closed)
                factory = functools.partial(lambda s: s, stream)
                transport, _ = await loop.create_connection(factory, "127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            last = self.ids[-1] if self.ids else 0
            transport.write(f"GET /get-events/?last_event_id={last} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
            waiters = [closed, asyncio.ensure_future(stop.wait())]
            if self.resumes:
                waiters.append(asyncio.ensure_future(asyncio.sleep(10)))
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            transport.close()
            await asyncio.sleep(0.05)


async def probe(url: str, stop: asyncio.Event, worst: list[float]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while not stop.is_set():
            t0 = time.perf_counter()
            await http.get("/healthz")
            worst[0] = max(worst[0], (time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.05)


def serve_feed(polls: int, folder: Path) -> None:
    """The feed, in a process of its own (so the load's clients never slow it): the same day, from
    the same seeds; writes its URL, then how many polls it has served, to ``folder``."""
    snapshots, _ = feed_day(polls)
    feed = FakeSocrata(snapshots, auto_advance=True).start()
    feed.inject(*faults(polls))
    (folder / "feed-url").write_text(feed.url)
    while True:
        (folder / "feed-polls.tmp").write_text(str(feed.polls))
        os.replace(folder / "feed-polls.tmp", folder / "feed-polls")
        time.sleep(0.2)


def feed_polls(folder: Path) -> int:
    try:
        return int((folder / "feed-polls").read_text())
    except (OSError, ValueError):
        return 0


async def run(polls: int, interval: float) -> dict[str, Any]:
    _, truth = feed_day(polls)
    feed_dir = Path(tempfile.mkdtemp())
    feed = subprocess.Popen(
        [sys.executable, __file__, "--feed", str(polls), str(feed_dir)], stderr=subprocess.DEVNULL
    )
    while not (feed_dir / "feed-url").exists():
        await asyncio.sleep(0.1)
    feed_url = (feed_dir / "feed-url").read_text()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DALLAS_CALLS_FEED_MAX_ATTEMPTS": "1", "DALLAS_CALLS_FEED_TIMEOUT_S": "5"}
        env["DALLAS_CALLS_RATE_LIMIT_PER_MIN"] = "0"
        env["DALLAS_CALLS_SSE_MAX_CLIENTS_PER_IP"] = str(CLIENTS + 10)  # every client is 127.0.0.1
        cmd = [sys.executable, "-m", "dallas_calls.cli", "serve", "--port", str(port), "--data-dir", tmp]
        cmd += ["--feed-url", feed_url, "--poll-interval", str(interval), "--no-demo-fallback"]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                await wait_healthy(http)
            stop = asyncio.Event()
            watchers = [Watcher(port, i < RESUMING) for i in range(CLIENTS)]
            worst = [0.0]
            tasks = [asyncio.ensure_future(w.run(stop)) for w in watchers]
            tasks.append(asyncio.ensure_future(probe(url, stop, worst)))
            await asyncio.sleep(2.0)
            cpu0, load0 = cpu_s(server.pid), resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.monotonic()
            # RSS once a tenth of the day has run (after start-up), and at half time: by then the
            # in-memory ring of the newest 10,000 events is full, so growth after it is a leak.
            rss_start = rss_half = 0.0
            while feed_polls(feed_dir) < polls + 1 and time.monotonic() - t0 < polls * interval * 20 + 120:
                if not rss_start and feed_polls(feed_dir) >= polls // 10:
                    rss_start = rss_mib(server.pid)
                if not rss_half and feed_polls(feed_dir) >= polls // 2:
                    rss_half = rss_mib(server.pid)
                await asyncio.sleep(0.5)
            await asyncio.sleep(3.0)  # the last events reach the clients
            rss_end, cpu1 = rss_mib(server.pid), cpu_s(server.pid)
            load1 = resource.getrusage(resource.RUSAGE_SELF)
            stop.set()
            await asyncio.sleep(0.5)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
            feed.terminate()
            feed.wait(timeout=10)
        db = sqlite3.connect(Path(tmp) / "dallas-calls.sqlite3")
        outcomes = Counter(o for (o,) in db.execute("SELECT outcome FROM polls"))
        reasons = Counter(
            (r or "")[:90] for (r,) in db.execute("SELECT reason FROM polls WHERE outcome = 'failed'")
        )
        events = db.execute("SELECT id, type, incident_number, data FROM events ORDER BY id").fetchall()
        quarantined = db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
        db.close()
    ids = [e[0] for e in events]
    still_open = truth[-1]  # in the feed at the end: no close of these is right (none come back)
    closed = [e[2] for e in events if e[1] == "call.closed"]
    false_closes = [n for n in closed if n in still_open]
    reopened = sum(1 for e in events if e[1] == "call.updated" and '"reopened":true' in e[3].replace(" ", ""))
    bad_clients = sum(1 for w in watchers if w.ids != ids[: len(w.ids)])  # each id once, in order
    behind = sum(1 for w in watchers if w.ids[-1:] != ids[-1:])
    return {
        "polls": polls,
        "outcomes": dict(outcomes),
        "failure_reasons": dict(reasons.most_common(4)),
        "events": len(ids),
        "event_log_gaps": sum(1 for a, b in pairwise(ids) if b != a + 1),
        "false_closes": len(false_closes),
        "reopened": reopened,
        "quarantined_rows": quarantined,
        "sse_clients": len(watchers),
        "sse_clients_with_gap_or_duplicate": bad_clients,
        "sse_clients_not_at_the_end": behind,
        "sse_overflows_resumed": sum(w.overflows for w in watchers),
        "rss_at_tenth_mib": round(rss_start, 1),
        "rss_at_half_mib": round(rss_half, 1),
        "rss_end_mib": round(rss_end, 1),
        "rss_growth_pct": round(100 * (rss_end - rss_start) / rss_start, 1) if rss_start else None,
        "rss_growth_second_half_pct": round(100 * (rss_end - rss_half) / rss_half, 1) if rss_half else None,
        "healthz_max_ms": round(worst[0], 1),
        "server_cpu_s": round(cpu1 - cpu0, 1),
        "load_cpu_s": round((load1.ru_utime + load1.ru_stime) - (load0.ru_utime + load0.ru_stime), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--polls", type=int, default=1440)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--feed", nargs=2, metavar=("POLLS", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.feed:
        serve_feed(int(args.feed[0]), Path(args.feed[1]))
        return
    result = asyncio.run(run(args.polls, args.interval))
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        print(f"{key:36} {value}")


if __name__ == "__main__":
    main()
