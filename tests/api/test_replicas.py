"""Two `dallas-calls api` processes on one real redis-server: a client on either replica sees every
event, whichever replica received it."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import TOKEN, SseClient, event_dict, start_api, wait_for
from tests.events.conftest import RedisServer, redis_server_or_skip

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = redis_server_or_skip(tmp_path)
    yield server
    server.stop()


async def test_two_api_processes_on_one_redis_both_see_every_event(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    procs = []
    try:
        for name in ("a", "b"):
            procs.append(start_api(tmp_path / name, redis_server.url))
        (_, url_a), (_, url_b) = procs
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient() as http:
            clients = [SseClient(url + "/get-events/") for url in (url_a, url_a, url_b, url_b)]
            readers = [asyncio.create_task(c.collect_until(http, 106, timeout=30)) for c in clients]
            # A stream without an id starts after the newest event when it opens: post only once
            # each has its first frame (the retry hint, sent once its cursor is set).
            assert await wait_for(lambda: all(c.retry is not None for c in clients), timeout=15)
            first = await http.post(
                url_a + "/events/",
                json={"events": [event_dict(i, number=f"2019-{i}") for i in range(100, 104)]},
                headers=auth,
            )
            assert first.status_code == 200, first.text
            second = await http.post(
                url_b + "/events/",
                json={"events": [event_dict(i, number=f"2019-{i}") for i in range(104, 107)]},
                headers=auth,
            )
            assert second.status_code == 200, second.text
            await asyncio.gather(*readers)
            for client in clients:
                assert client.ids == list(range(100, 107))
            for url in (url_a, url_b):
                current = (await http.get(url + "/current-calls/")).json()
                assert current["last_event_id"] == 106
                assert len(current["current_active_calls"]) == 7
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(timeout=15)


def _last_id(url: str) -> int:
    return int(httpx.get(url + "/current-calls/", timeout=5).json()["last_event_id"])


async def test_redis_killed_mid_stream_both_replicas_converge_and_clients_see_each_id_once(
    tmp_path: Path, redis_server: RedisServer, feed_sequence: Path
) -> None:
    """A poller (`serve --bus redis`) and an API replica (`api --bus redis`, same store): Redis dies
    while polls commit, then comes back. Both views read what the bus lost from the store and
    converge within 5 s; every SSE client, on either, sees each id exactly once, in order."""
    from dallas_calls.archive.store import decode_snapshot
    from dallas_calls.feed.source import list_snapshots
    from dallas_calls.storage.sqlite import SqliteStore
    from tests.conftest import LiveServer

    snapshots = [decode_snapshot(p.read_bytes()) for _, p in list_snapshots(feed_sequence)]
    poller = LiveServer(
        tmp_path / "data", snapshots, mode_args=("--no-demo-fallback", "--bus", redis_server.url)
    )
    poller.start()
    replica: subprocess.Popen[bytes] | None = None
    try:
        replica, replica_url = start_api(poller.data_dir, redis_server.url)
        start = _last_id(poller.url)
        clients = [
            SseClient(f"{u}/get-events/?last_event_id={start}")
            for u in (poller.url, poller.url, replica_url, replica_url)
        ]
        async with httpx.AsyncClient() as http:
            readers = [asyncio.create_task(c.collect_until(http, 10**9, timeout=60)) for c in clients]
            poller.advance()
            await asyncio.sleep(1.0)
            redis_server.stop()  # mid-stream
            for _ in range(3):
                poller.advance()
                await asyncio.sleep(0.7)
            redis_server.start()
            poller.advance()
            store = SqliteStore(poller.data_dir / "dallas-calls.sqlite3")
            deadline = time.monotonic() + 5 + 3
            while time.monotonic() < deadline:
                target = store.last_event_id()
                if _last_id(poller.url) == target and _last_id(replica_url) == target:
                    break
                await asyncio.sleep(0.2)
            target = store.last_event_id()
            assert _last_id(poller.url) == target and _last_id(replica_url) == target, "converged"
            assert target > start + 10
            await asyncio.sleep(1.0)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            want = [e.id for e in store.events_after(start, 100_000)]
            for client in clients:
                ids = [e.id for e in client.events if e.id is not None]
                assert ids == want, f"{client.url}: {len(ids)} ids, want {len(want)}"
            for url in (poller.url, replica_url):
                shown = {
                    c["incident_number"]
                    for c in (await http.get(url + "/current-calls/")).json()["current_active_calls"]
                }
                assert shown == set(store.open_calls())
            store.close()
    finally:
        if replica is not None and replica.poll() is None:
            replica.terminate()
            replica.wait(timeout=15)
        poller.close()
