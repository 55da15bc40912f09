"""SSE fan-out: N concurrent /get-events/ clients on one server process, then a burst of events.

    python bench/sse_fanout.py                            # N = 1000, 5000, 10000
    python bench/sse_fanout.py --clients 2000             # one size
    python bench/sse_fanout.py --repeat 3                 # 3 runs per size, a fresh server each
    python bench/sse_fanout.py --server-loop asyncio --server-http h11   # without uvloop/httptools
    python bench/sse_fanout.py --areas --clients 10000    # each client its own circle (issue 12)

The server (create_app + LocalBus + SQLite, as `dallas-calls api` runs it: uvicorn with loop and
http "auto", i.e. uvloop and httptools when installed) is a separate process; it reports the loop
and HTTP protocol it runs. This process is the load, loopback only, kept cheap so that it measures
the server and not itself: each client is a bare asyncio.Protocol (no task, no stream reader) that
counts event frames and bytes as they arrive, on uvloop when installed (--load-loop). After every
client is connected, one POST /events/ delivers a burst of events (realistic call.updated
payloads). Reported: clients connected, % that received the whole burst, p50/p99 latency from the
POST to a client's first and to its last event of the burst, server and load CPU during the
burst, and the server's RSS per connected client. Checked: every client received the same number
of bytes, and every 100th client keeps its bytes, whose ids must be exactly the burst's, in order.
Bounded: every phase has a deadline; the server is stopped at the end.

With ``--areas`` every client asks for its own random circle inside Dallas
(``/get-events/?near=&radius_m=``, see ``bench/fanout_areas.py``) and the burst's points are spread
over the city: a client is complete when it has the events of its circle; every client must get
exactly as many as its circle holds (none more, after a settling second), and every 50th keeps its
bytes, whose ids must be exactly its circle's. The load average is printed with every result (the
machine may be shared: figures taken under load are not the server's own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout_areas  # bench/ is no package
from procs import cpu_s, rss_mib, stop

TOKEN = "bench-token"
MARK = b"\nevent: "  # every event frame (control frames too: the sampled ids would show them)


def raise_nofile() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def serve(port: int, data_dir: str, loop: str, http: str) -> None:
    """The server process: the API as `dallas-calls api` runs it (uvicorn's loop and http "auto"
    unless told otherwise), ingest enabled. Writes the loop and HTTP protocol in use to
    ``data_dir/server-info`` once it serves."""
    import uvicorn

    from dallas_calls.api.app import create_app
    from dallas_calls.api.server import StreamingServer
    from dallas_calls.config import Settings
    from dallas_calls.events.bus import LocalBus
    from dallas_calls.storage.sqlite import SqliteStore

    raise_nofile()
    settings = Settings(
        data_dir=Path(data_dir),
        ingest_token=TOKEN,
        ingest_max_bytes=50_000_000,
        rate_limit_per_min=0,
        sse_max_clients_per_ip=0,  # every client of this bench comes from 127.0.0.1
        geocode=False,
    )
    store = SqliteStore(settings.db_path)
    app = create_app(settings, store, LocalBus())
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        backlog=16384,
        timeout_keep_alive=60,
        loop=loop,
        http=http,
    )
    server = StreamingServer(config, on_exit=app.state.view.close_streams)

    async def report() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        running = type(asyncio.get_running_loop())
        info = f"{running.__module__}.{running.__name__} {config.http_protocol_class.__name__}"
        (Path(data_dir) / "server-info").write_text(info)

    async def main() -> None:
        reporter = asyncio.get_running_loop().create_task(report())
        await server.serve()
        reporter.cancel()

    def run() -> None:  # as uvicorn.run does it, with the loop uvicorn picks
        with (
            contextlib.suppress(KeyboardInterrupt),
            asyncio.Runner(loop_factory=config.get_loop_factory()) as r,
        ):
            r.run(main())

    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # python bench/sse_fanout.py with BENCH_PROFILE=out.prof: profile the server
        import cProfile

        cProfile.runctx("run()", globals(), {"run": run}, profile)
    else:
        run()


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


REQUEST = b"GET /get-events/ HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
SAMPLE_EVERY = 100  # every 100th client keeps its bytes: their ids are checked (order, no gap/dup)
AREA_SAMPLE_EVERY = 50  # with --areas: 200 of 10,000 clients


def request(query: str = "") -> bytes:
    path = f"/get-events/?{query}" if query else "/get-events/"
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n".encode()


class Fleet:
    """What the clients share: how many events make a whole burst and how many clients lack it."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.remaining = 0
        self.done: asyncio.Future[None] | None = None


class Client(asyncio.Protocol):
    """One SSE client as a bare protocol: no task, no stream reader, no parsing. It counts event
    frames (``\nevent: ``) and bytes as they arrive and stamps the first and the last."""

    def __init__(
        self,
        fleet: Fleet,
        ready: asyncio.Future[bool],
        keep: bool,
        req: bytes = REQUEST,
        expected: int | None = None,
    ) -> None:
        self.fleet = fleet
        self.request = req
        self.expected = fleet.expected if expected is None else expected
        self.transport: asyncio.Transport | None = None
        self.head: bytes | None = b""  # None once the response head and the retry frame are in
        self.ready = ready
        self.count = 0
        self.nbytes = 0
        self.first: float | None = None
        self.last: float | None = None
        self.carry = b""
        self.kept: list[bytes] | None = [] if keep else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no asyncio.Transport subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.head is not None:  # the response head, then the retry frame
            self.head += data
            at = self.head.find(b"retry: ")
            end = self.head.find(b"\n\n", at) if at >= 0 else -1
            if end < 0:
                return
            ok = b" 200 " in self.head.split(b"\r\n", 1)[0]
            data, self.head = self.head[end + 2 :], None
            if not self.ready.done():
                self.ready.set_result(ok)
            if not data:
                return
        now = time.perf_counter()
        found = data.count(MARK) + (self.carry + data[: len(MARK) - 1]).count(MARK)
        self.carry = data[-(len(MARK) - 1) :]
        self.nbytes += len(data)
        if self.kept is not None:
            self.kept.append(data)
        if found:
            if self.first is None:
                self.first = now
            before = self.count
            self.count += found
            self.last = now
            fleet = self.fleet
            if before < self.expected <= self.count:
                fleet.remaining -= 1
                if fleet.remaining == 0 and fleet.done is not None and not fleet.done.done():
                    fleet.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(False)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def ids(self) -> list[int]:
        text = b"".join(self.kept or ())
        return [int(line[4:]) for line in text.split(b"\n") if line.startswith(b"id: ")]


async def connect(
    loop: asyncio.AbstractEventLoop,
    fleet: Fleet,
    port: int,
    keep: bool,
    req: bytes = REQUEST,
    expected: int | None = None,
) -> Client | None:
    ready: asyncio.Future[bool] = loop.create_future()
    client: Client | None = None
    try:
        _, client = await asyncio.wait_for(
            loop.create_connection(lambda: Client(fleet, ready, keep, req, expected), "127.0.0.1", port), 20
        )
        if await asyncio.wait_for(ready, 30):
            return client
    except (OSError, TimeoutError):
        pass
    if client is not None:
        client.close()
    return None


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


async def run_size(
    n: int, burst: int, port: int, server_pid: int, start_id: int, publish_size: int = 0, areas: bool = False
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    rss_before = rss_mib(server_pid)
    fleet = Fleet(burst)
    if areas:  # a circle per client, the burst spread over Dallas, what each circle must receive
        events, points = fanout_areas.burst_events(burst, start_id, call_dict)
        ids = [e["id"] for e in events]
        circles = fanout_areas.circles(n)
        wanted = [fanout_areas.expected_ids(c, ids, points) for c in circles]
        requests = [request(c.query()) for c in circles]
        every = AREA_SAMPLE_EVERY
    else:
        events = [
            {
                "id": start_id + i,
                "type": "call.updated",
                "at": "2019-06-18T05:21:00Z",
                "data": {"call": call_dict(i), "changes": {"status": ["En Route", "At Scene"]}},
            }
            for i in range(burst)
        ]
        want = list(range(start_id, start_id + burst))
        wanted = [fanout_areas.Expected(want, frozenset())] * n
        requests = [REQUEST] * n
        every = SAMPLE_EVERY
    t_conn = time.perf_counter()
    clients: list[tuple[Client, fanout_areas.Expected]] = []
    for start in range(0, n, 500):
        batch = range(start, min(n, start + 500))
        found = await asyncio.gather(
            *(connect(loop, fleet, port, i % every == 0, requests[i], len(wanted[i].ids)) for i in batch)
        )
        clients += [(c, wanted[i]) for i, c in zip(batch, found, strict=True) if c is not None]
    connected = len(clients)
    connect_s = time.perf_counter() - t_conn
    await asyncio.sleep(1.0)
    rss_after = rss_mib(server_pid)
    size = publish_size or burst
    bodies = [
        json.dumps({"events": events[i : i + size]}, separators=(",", ":")).encode()
        for i in range(0, burst, size)
    ]
    body = b"".join(bodies)
    fleet.remaining = sum(1 for c, _ in clients if c.expected > 0)
    done: asyncio.Future[None] = loop.create_future()
    fleet.done = done
    if fleet.remaining == 0:
        done.set_result(None)
    load_avg = os.getloadavg()
    server_cpu0, load_cpu0 = cpu_s(server_pid), time.process_time()
    t0 = time.perf_counter()
    status = 200
    for part in bodies:  # one POST per publish, each after the previous answered (as a publisher does)
        status = max(status, await post_events(port, part))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(done), 60)
    burst_s = time.perf_counter() - t0
    server_cpu, load_cpu = cpu_s(server_pid) - server_cpu0, time.process_time() - load_cpu0
    if areas:
        await asyncio.sleep(1.0)  # anything a client should not get has time to arrive
    receiving = [c for c, _ in clients if c.expected > 0]
    complete = [c for c in receiving if c.count >= c.expected]
    last_lat = [c.last - t0 for c in complete if c.last is not None]
    first_lat = [c.first - t0 for c in receiving if c.first is not None]
    # Exactly as many events as each client's circle holds (edge points either way) ...
    exact = sum(1 for c, w in clients if len(w.ids) <= c.count <= len(w.ids) + len(w.maybe))
    # ... and the sampled ones hold exactly the ids they must, in order.
    sampled = [(c, w) for c, w in clients if c.kept is not None]
    ids_ok = sum(1 for c, w in sampled if w.accepts(c.ids()))
    sizes = Counter(c.nbytes for c in complete)
    per_client = [len(w.ids) for _, w in clients]
    for c, _ in clients:
        c.close()
    await asyncio.sleep(2.0)
    return {
        "clients": n,
        "areas": areas,
        "connected": connected,
        "connect_s": round(connect_s, 1),
        "ingest_status": status,
        "complete_pct": round(100 * len(complete) / max(len(receiving), 1), 2),
        "exact_count": f"{exact}/{connected}",
        "ids_in_order": f"{ids_ok}/{len(sampled)}",
        "same_bytes": len(sizes) <= 1,
        "events_per_client_mean": round(statistics.mean(per_client), 1) if per_client else None,
        "clients_with_none": sum(1 for k in per_client if k == 0),
        "edge_points": sum(len(w.maybe) for _, w in clients),  # either answer right (fanout_areas)
        "first_p50_ms": round(1000 * statistics.median(first_lat), 1) if first_lat else None,
        "first_p99_ms": round(1000 * pct(first_lat, 99), 1),
        "last_p50_ms": round(1000 * statistics.median(last_lat), 1) if last_lat else None,
        "last_p99_ms": round(1000 * pct(last_lat, 99), 1),
        "last_max_ms": round(1000 * max(last_lat), 1) if last_lat else None,
        "server_rss_mib": round(rss_after, 1),
        "rss_per_client_kib": round((rss_after - rss_before) * 1024 / max(connected, 1), 1),
        "burst_bytes": len(body),
        "publishes": len(bodies),
        "burst_wall_s": round(burst_s, 2),
        "server_cpu_s": round(server_cpu, 2),
        "load_cpu_s": round(load_cpu, 2),
        "loadavg": " ".join(f"{v:.2f}" for v in load_avg),
    }


def load_loop_factory(name: str) -> Any:
    if name in ("auto", "uvloop"):
        try:
            import uvloop

            return uvloop.new_event_loop
        except ImportError:
            if name == "uvloop":
                raise
    return asyncio.new_event_loop


def run_one(n: int, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """One size on a fresh server process."""
    import socket

    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cmd = [sys.executable, __file__, "--serve", str(port), tmp, args.server_loop, args.server_http]
        proc = subprocess.Popen(cmd, env=env)
        if args.pin:
            os.sched_setaffinity(proc.pid, {0})
        try:
            info = Path(tmp) / "server-info"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not info.exists():
                time.sleep(0.1)
            if not info.exists():
                raise RuntimeError("the server did not start within 30 s")
            time.sleep(0.1)
            server_loop, server_http = info.read_text().split()
            factory = load_loop_factory(args.load_loop)
            with asyncio.Runner(loop_factory=factory) as runner:
                result = runner.run(run_size(n, args.burst, port, proc.pid, 1, args.publish_size, args.areas))
                load = type(runner.get_loop())
            return {
                **result,
                "server_loop": server_loop,
                "server_http": server_http,
                "load_loop": f"{load.__module__}.{load.__name__}",
            }
        finally:
            stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="*", default=[1000, 5000, 10000])
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument(
        "--publish-size",
        type=int,
        default=0,
        help="events per POST /events/ (sent one after another); 0: the whole burst in one POST",
    )
    parser.add_argument(
        "--areas", action="store_true", help="each client its own random circle in Dallas (near=, radius_m=)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (a fresh server each)")
    parser.add_argument(
        "--server-loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="uvicorn --loop"
    )
    parser.add_argument(
        "--server-http", choices=("auto", "h11", "httptools"), default="auto", help="uvicorn --http"
    )
    parser.add_argument(
        "--load-loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="the load's event loop"
    )
    parser.add_argument(
        "--pin", action="store_true", help="pin the server to CPU 0 and the load to CPU 1 (Linux)"
    )
    parser.add_argument("--serve", nargs=4, metavar=("PORT", "DIR", "LOOP", "HTTP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2], args.serve[3])
        return 0
    if args.pin:
        os.sched_setaffinity(0, {1})
    hard = raise_nofile()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"open-files limit {hard}; {os.cpu_count()} cores; load average {load}", flush=True)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    results = []
    for n in args.clients:
        if n + 100 > hard:
            print(f"skipping {n} clients: open-files limit {hard}")
            continue
        for _ in range(args.repeat):
            result = run_one(n, args, env)
            results.append(result)
            print(json.dumps(result), flush=True)
    print()
    print(
        "| clients | server loop / http | connected | complete | ids right (sample), counts right | first event p50 / p99 "
        "| whole burst p50 / p99 | server CPU / load CPU | server RSS | RSS / client | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['clients']}{' (areas)' if r['areas'] else ''} | {r['server_loop'].rsplit('.', 1)[-1]} / {r['server_http']} | {r['connected']} "
            f"| {r['complete_pct']}% | {r['ids_in_order']}, counts {r['exact_count']} | {r['first_p50_ms']} / {r['first_p99_ms']} ms "
            f"| {r['last_p50_ms']} / {r['last_p99_ms']} ms | {r['server_cpu_s']} / {r['load_cpu_s']} s "
            f"| {r['server_rss_mib']} MiB | {r['rss_per_client_kib']} KiB | {r['loadavg']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
