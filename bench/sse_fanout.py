"""SSE fan-out: N concurrent /get-events/ clients on one server process, then a burst of events.

    python bench/sse_fanout.py                  # N = 1000, 5000, 10000
    python bench/sse_fanout.py --clients 2000   # one size

The server (create_app + LocalBus + SQLite, as `dallas-calls api` runs it) is a separate process;
this process is the load: raw asyncio sockets, one per client, loopback only. After every client is
connected, one POST /events/ delivers a burst of events (realistic call.updated payloads). Reported:
clients connected, % that received the whole burst, p50/p99 latency from the POST to a client's
first and to its last event of the burst, and the server's RSS per connected client. Bounded: every
phase has a deadline; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOKEN = "bench-token"
MARK = b"\nevent: call."


def raise_nofile() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def serve(port: int, data_dir: str) -> None:
    """The server process: the API as `dallas-calls api` runs it, ingest enabled."""
    import uvicorn

    from dallas_calls.api.app import create_app
    from dallas_calls.config import Settings
    from dallas_calls.events.bus import LocalBus
    from dallas_calls.storage.sqlite import SqliteStore

    raise_nofile()
    settings = Settings(
        data_dir=Path(data_dir),
        ingest_token=TOKEN,
        ingest_max_bytes=50_000_000,
        rate_limit_per_min=0,
        geocode=False,
    )
    store = SqliteStore(settings.db_path)
    app = create_app(settings, store, LocalBus())
    run = lambda: uvicorn.run(  # noqa: E731
        app, host="127.0.0.1", port=port, log_level="warning", backlog=16384, timeout_keep_alive=60
    )
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # python bench/sse_fanout.py with BENCH_PROFILE=out.prof: profile the server
        import cProfile

        cProfile.runctx("run()", globals(), {"run": run}, profile)
    else:
        run()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


DIVISIONS = ("CENTRAL", "NORTHEAST", "NORTHWEST", "NORTH CENTRAL", "SOUTHEAST", "SOUTHWEST", "SOUTH CENTRAL")
NATURES = (
    "07 - MINOR ACCIDENT",
    "6X - MAJOR DIST (VIOLENCE)",
    "09V - UUMV",
    "40 - OTHER",
    "12B - BUSINESS ALARM",
    "58 - ROUTINE INVESTIGATION",
    "11R - BURG OF RES",
    "DAEF-DIST ARMED ENCOUNTER",
)
STREETS = (
    "FOREST LN",
    "GREENVILLE AVE",
    "ROSS AVE",
    "MAIN ST",
    "COMMERCE ST",
    "MOCKINGBIRD LN",
    "HARRY HINES BLVD",
    "LBJ FWY",
    "BUCKNER BLVD",
    "LEDBETTER DR",
    "KIEST BLVD",
    "WESTMORELAND RD",
    "SKILLMAN ST",
)


def call_dict(n: int) -> dict[str, Any]:
    """A call as the API serves it, varied like the real feed (so gzip ratios are realistic)."""
    rnd = random.Random(n)
    street = rnd.choice(STREETS)
    block = str(rnd.randrange(100, 12000, 100))
    units = [
        {
            "unit_number": f"{rnd.choice('ABCDEFG')}{rnd.randrange(100, 999)}",
            "status": rnd.choice(("At Scene", "En Route", "Dispatched")),
        }
        for _ in range(rnd.randrange(1, 4))
    ]
    return {
        "incident_number": f"19-{100000 + n * 37:07d}",
        "division": rnd.choice(DIVISIONS),
        "nature_of_call": rnd.choice(NATURES),
        "priority": rnd.randrange(1, 5),
        "received_at": f"2019-06-18T00:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}-05:00",
        "block": block,
        "location": street,
        "beat": str(rnd.randrange(111, 758)),
        "reporting_area": str(rnd.randrange(1000, 9999)),
        "status": units[0]["status"],
        "units": sorted(units, key=lambda u: u["unit_number"]),
        "location_key": f"{block} {street}|DALLAS",
        "first_seen": "2019-06-18T05:17:00Z",
        "last_seen": "2019-06-18T05:21:00Z",
        "closed_at": None,
        "geo": {
            "lat": round(32.6 + rnd.random() * 0.4, 6),
            "lon": round(-97.0 + rnd.random() * 0.4, 6),
            "precision": rnd.choice(("address", "intersection", "street", "beat")),
            "source": "local",
            "in_beat": True,
            "candidates_considered": rnd.randrange(1, 6),
        },
    }


class Client:
    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.reader: asyncio.StreamReader | None = None
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None

    async def connect(self, port: int) -> bool:
        try:
            self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 20)
            self.writer.write(
                b"GET /get-events/ HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
            )
            head = await asyncio.wait_for(self.reader.readuntil(b"retry: "), 30)
            return b" 200 " in head.split(b"\r\n", 1)[0]
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return False

    async def read(self, expected: int) -> None:
        assert self.reader is not None
        carry = b""
        while self.count < expected:
            data = await self.reader.read(262144)
            if not data:
                return
            now = time.perf_counter()
            found = data.count(MARK) + (carry + data[: len(MARK) - 1]).count(MARK)
            if found:
                if self.first is None:
                    self.first = now
                self.count += found
                self.last = now
            carry = data[-(len(MARK) - 1) :]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def post_events(port: int, body: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /events/ HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    status = await reader.readline()
    await reader.read()
    writer.close()
    return int(status.split()[1])


async def run_size(n: int, burst: int, port: int, server_pid: int, start_id: int) -> dict[str, Any]:
    rss_before = rss_kib(server_pid)
    clients = [Client() for _ in range(n)]
    t_conn = time.perf_counter()
    connected = 0
    for start in range(0, n, 500):
        results = await asyncio.gather(*(c.connect(port) for c in clients[start : start + 500]))
        connected += sum(results)
    connect_s = time.perf_counter() - t_conn
    await asyncio.sleep(1.0)
    rss_after = rss_kib(server_pid)
    live = [c for c in clients if c.writer is not None and c.reader is not None]
    events = [
        {
            "id": start_id + i,
            "type": "call.updated",
            "at": "2019-06-18T05:21:00Z",
            "data": {"call": call_dict(i), "changes": {"status": ["En Route", "At Scene"]}},
        }
        for i in range(burst)
    ]
    body = json.dumps({"events": events}, separators=(",", ":")).encode()
    readers = [asyncio.create_task(c.read(burst)) for c in live]
    server_cpu0, load_cpu0 = cpu_s(server_pid), time.process_time()
    t0 = time.perf_counter()
    status = await post_events(port, body)
    _, pending = await asyncio.wait(readers, timeout=60)
    burst_s = time.perf_counter() - t0
    server_cpu, load_cpu = cpu_s(server_pid) - server_cpu0, time.process_time() - load_cpu0
    for task in pending:
        task.cancel()
    complete = [c for c in live if c.count >= burst]
    last_lat = [c.last - t0 for c in complete if c.last is not None]
    first_lat = [c.first - t0 for c in live if c.first is not None]
    for c in clients:
        c.close()
    await asyncio.sleep(2.0)
    return {
        "clients": n,
        "connected": connected,
        "connect_s": round(connect_s, 1),
        "ingest_status": status,
        "complete_pct": round(100 * len(complete) / n, 2),
        "first_p50_ms": round(1000 * statistics.median(first_lat), 1) if first_lat else None,
        "first_p99_ms": round(1000 * pct(first_lat, 99), 1),
        "last_p50_ms": round(1000 * statistics.median(last_lat), 1) if last_lat else None,
        "last_p99_ms": round(1000 * pct(last_lat, 99), 1),
        "server_rss_mib": round(rss_after / 1024, 1),
        "rss_per_client_kib": round((rss_after - rss_before) / max(connected, 1), 1),
        "burst_bytes": len(body),
        "burst_wall_s": round(burst_s, 2),
        "server_cpu_s": round(server_cpu, 2),
        "load_cpu_s": round(load_cpu, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="*", default=[1000, 5000, 10000])
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument(
        "--pin", action="store_true", help="pin the server to CPU 0 and the load to CPU 1 (Linux)"
    )
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0
    if args.pin:
        os.sched_setaffinity(0, {1})
    hard = raise_nofile()
    print(f"open-files limit {hard}; {os.cpu_count()} cores", flush=True)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    results = []
    for n in args.clients:
        if n + 100 > hard:
            print(f"skipping {n} clients: open-files limit {hard}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            import socket

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), tmp], env=env)
            if args.pin:
                os.sched_setaffinity(proc.pid, {0})
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    try:
                        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                            break
                    except OSError:
                        time.sleep(0.1)
                result = asyncio.run(run_size(n, args.burst, port, proc.pid, 1))
                results.append(result)
                print(json.dumps(result), flush=True)
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    print()
    print(
        "| clients | connected | complete | first event p50 / p99 | whole burst p50 / p99 | server RSS | RSS / client |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['clients']} | {r['connected']} | {r['complete_pct']}% | {r['first_p50_ms']} / {r['first_p99_ms']} ms "
            f"| {r['last_p50_ms']} / {r['last_p99_ms']} ms | {r['server_rss_mib']} MiB | {r['rss_per_client_kib']} KiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
