"""Resume storm: K clients resume the event stream from id 1 while another client loads the calls.

    python bench/resume_storm.py [--events 50000] [--clients 10] [--uncapped]

The server (create_app over a SQLite store holding --events real-sized call.updated events, served
as `dallas-calls api` serves it) is its own process on loopback. First the latency of
GET /current-calls/ alone (30 requests); then K clients open /get-events/?last_event_id=1 at once
and read as fast as they can, while the probe repeats GET /current-calls/ every 100 ms. With the
default DALLAS_CALLS_SSE_MAX_BACKLOG (5,000) each resuming client gets a `reset`; with --uncapped
(a backlog cap above the log) each is replayed the whole log, as before the cap. A client
reconnects from id 1 as soon as it has its reset (or, uncapped, when the replay is done). Printed: the
probe's p50 and max latency alone and during the storm, and what the resuming clients received.
Bounded: the storm phase lasts --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from header_flood import free_port

SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from dallas_calls.api.app import create_app
    from dallas_calls.api.server import server_options
    from dallas_calls.config import Settings
    from dallas_calls.events.bus import LocalBus
    from dallas_calls.model import NewEvent
    from dallas_calls.storage.sqlite import SqliteStore
    sys.path.insert(0, sys.argv[5])
    from sse_fanout import call_dict
    data, port, events, backlog = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    settings = Settings(
        data_dir=data, port=port, geocode=False, rate_limit_per_min=0, log_level="warning",
        sse_max_backlog=backlog, sse_max_clients_per_ip=0,
    )
    store = SqliteStore(settings.db_path)
    for start in range(0, events, 1000):
        batch = [
            NewEvent("call.updated", "2019-06-18T05:17:00Z", {"call": call_dict(i % 500)}, str(i % 500))
            for i in range(start, min(start + 1000, events))
        ]
        store.append_events(batch)
    app = create_app(settings, store, LocalBus())
    uvicorn.run(app, **server_options(settings))
    """
)


async def probe(http: httpx.AsyncClient, url: str) -> float:
    started = time.perf_counter()
    response = await http.get(url + "/current-calls/", headers={"Accept-Encoding": "gzip"})
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def resume(url: str, deadline: float, log_size: int) -> tuple[int, int, int, int]:
    """One client resuming from id 1 again and again until the deadline: (connects, resets,
    event frames, bytes) received. A replay counts as done a few events short of the log (a frame
    split between two reads is not counted)."""
    connects = resets = frames = size = 0
    async with httpx.AsyncClient(timeout=None) as http:
        while time.monotonic() < deadline:
            connects += 1
            replayed = 0
            async with http.stream("GET", url + "/get-events/?last_event_id=1") as response:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    replayed += chunk.count(b"\nevent: call.")
                    if b"event: reset" in chunk:
                        resets += 1
                        break
                    if replayed >= log_size - 10 or time.monotonic() > deadline:
                        break
            frames += replayed
    return connects, resets, frames, size


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    backlog = 10**15 if args.uncapped else 5000
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as data:
        command = [sys.executable, "-c", SERVER, data, str(port), str(args.events), str(backlog), bench_dir]
        proc = subprocess.Popen(command)
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                for _ in range(600):
                    try:
                        if (await http.get(url + "/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                alone = [await probe(http, url) for _ in range(30)]
                deadline = time.monotonic() + args.seconds
                storm = [asyncio.create_task(resume(url, deadline, args.events)) for _ in range(args.clients)]
                during: list[float] = []
                while time.monotonic() < deadline:
                    during.append(await probe(http, url))
                    await asyncio.sleep(0.1)
                results = await asyncio.gather(*storm)
            print(
                f"{args.events} events in the log, {args.clients} clients resume from id 1, cap {backlog:,}"
            )
            print(
                f"GET /current-calls/ alone:  p50 {statistics.median(alone):.1f} ms, max {max(alone):.1f} ms"
            )
            if during:
                print(
                    f"GET /current-calls/ during: p50 {statistics.median(during):.1f} ms, "
                    f"max {max(during):.1f} ms ({len(during)} requests)"
                )
            connects, resets, frames, size = (sum(r[i] for r in results) for i in range(4))
            print(
                f"resuming clients: {connects} connects, {resets} resets, {frames} events replayed, "
                f"{size / 1e6:.1f} MB in {args.seconds:g} s"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--uncapped", action="store_true", help="replay the whole log (no backlog cap)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
