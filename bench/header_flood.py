"""Memory of the server under a request-header flood: N connections each send one header of S MB.

    python bench/header_flood.py [--connections 4] [--megabytes 100] [--stock]

The server is the API (create_app over an empty SQLite store) in its own process on loopback,
served as `dallas-calls serve`/`api` serve it (api/server.py: the head-limited httptools protocol),
or with `--stock` as plain `uvicorn.run` would (httptools, no limit on the head). Each connection
sends a request line and one header of S MB, as fast as loopback takes it, then reads the answer.
Printed: the server's RSS before, its peak while the flood lasts (sampled every 20 ms from /proc),
what each connection got back, and the bytes each managed to send before the server hung up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

from procs import free_port, rss_mib

SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from dallas_calls.api.app import create_app
    from dallas_calls.api.server import server_options
    from dallas_calls.config import Settings
    from dallas_calls.events.bus import LocalBus
    from dallas_calls.storage.sqlite import SqliteStore
    data, port, stock = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "stock"
    settings = Settings(data_dir=data, port=port, geocode=False, rate_limit_per_min=0, log_level="warning")
    app = create_app(settings, SqliteStore(settings.db_path), LocalBus())
    if stock:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", http="httptools")
    else:
        uvicorn.run(app, **server_options(settings))
    """
)


async def flood(port: int, megabytes: int) -> tuple[str, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: ")
    chunk = b"a" * (1 << 20)
    sent = 0
    try:
        for _ in range(megabytes):
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
        writer.write(b"\r\n\r\n")
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    try:
        status = (await asyncio.wait_for(reader.readline(), 60)).decode().strip() or "(closed)"
    except (ConnectionError, OSError, TimeoutError):
        status = "(connection reset)"
    writer.close()
    return status, sent


async def sample_peak(pid: int, stop: asyncio.Event) -> float:
    peak = 0.0
    while not stop.is_set():
        peak = max(peak, rss_mib(pid))
        await asyncio.sleep(0.02)
    return max(peak, rss_mib(pid))


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, data, str(port), "stock" if args.stock else "limited"],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("server did not start") from None
                    await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            before = rss_mib(proc.pid)
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_peak(proc.pid, stop))
            started = time.perf_counter()
            results = await asyncio.gather(*(flood(port, args.megabytes) for _ in range(args.connections)))
            elapsed = time.perf_counter() - started
            stop.set()
            peak = await sampler
            print(f"server: {'stock uvicorn (httptools)' if args.stock else 'dallas-calls (head limited)'}")
            print(f"{args.connections} connections × {args.megabytes} MB header, {elapsed:.1f} s")
            print(f"RSS before {before:.0f} MB, peak {peak:.0f} MB, after {rss_mib(proc.pid):.0f} MB")
            for status, sent in results:
                print(f"  answer {status!r}, sent {sent / (1 << 20):.1f} MB before it")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--stock", action="store_true", help="plain uvicorn.run with httptools")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
