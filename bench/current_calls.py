"""GET /current-calls/ throughput and latency with 1,000 open calls, with and without ETag.

    python bench/current_calls.py [--seconds 5] [--connections 32]

The server (create_app + LocalBus + SQLite, one uvicorn process) is a separate process, seeded
with 1,000 open calls through POST /events/. This process is the load: raw asyncio keep-alive
connections on loopback, each sending one request at a time (Accept-Encoding: gzip, as browsers
do). Reported: requests/s and p50/p99 latency, for full responses and for If-None-Match → 304.
Bounded by --seconds per mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import stop
from sse_fanout import TOKEN, call_dict, pct, post_events, raise_nofile


def serve(port: int, data_dir: str) -> None:
    import uvicorn

    from dallas_calls.api.app import create_app
    from dallas_calls.config import Settings
    from dallas_calls.events.bus import LocalBus
    from dallas_calls.storage.sqlite import SqliteStore

    settings = Settings(
        data_dir=Path(data_dir), ingest_token=TOKEN, ingest_max_bytes=50_000_000, rate_limit_per_min=0
    )
    app = create_app(settings, SqliteStore(settings.db_path), LocalBus())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=4096)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    return status, headers


async def worker(
    port: int, etag: str | None, until: float, latencies: list[float], statuses: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /current-calls/ HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: gzip\r\n"
    if etag:
        request += f"If-None-Match: {etag}\r\n".encode()
    request += b"\r\n"
    while time.perf_counter() < until:
        t0 = time.perf_counter()
        writer.write(request)
        status, _ = await read_response(reader)
        latencies.append(time.perf_counter() - t0)
        statuses.append(status)
    writer.close()


async def measure(port: int, etag: str | None, seconds: float, connections: int) -> dict[str, object]:
    latencies: list[float] = []
    statuses: list[int] = []
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(*(worker(port, etag, until, latencies, statuses) for _ in range(connections)))
    elapsed = time.perf_counter() - start
    return {
        "mode": "If-None-Match (304)" if etag else "full body (gzip)",
        "requests": len(latencies),
        "req_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * pct(latencies, 99), 2),
        "statuses": sorted(set(statuses)),
    }


async def run(port: int, seconds: float, connections: int) -> list[dict[str, object]]:
    events = [
        {"id": i + 1, "type": "call.opened", "at": "2019-06-18T05:17:00Z", "data": {"call": call_dict(i)}}
        for i in range(1000)
    ]
    assert await post_events(port, json.dumps({"events": events}).encode()) == 200
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /current-calls/ HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: gzip\r\n\r\n")
    status, headers = await read_response(reader)
    writer.close()
    assert status == 200
    print(f"body: 1000 calls, {headers['content-length']} bytes gzipped, ETag {headers['etag']}", flush=True)
    results = []
    for etag in (None, headers["etag"]):
        results.append(await measure(port, etag, seconds, connections))
        print(json.dumps(results[-1]), flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0
    raise_nofile()
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), tmp], env=env)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.1)
            results = asyncio.run(run(port, args.seconds, args.connections))
        finally:
            stop(proc)
    print()
    print("| mode | req/s | p50 | p99 |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['mode']} | {r['req_per_s']} | {r['p50_ms']} ms | {r['p99_ms']} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
