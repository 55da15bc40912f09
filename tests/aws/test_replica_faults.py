"""API replicas on DynamoDB never drift from the store, whatever the publisher, Redis or a replica's
start does. Two replicas (then a third) read the DynamoDB tables on DynamoDB Local and share events
through a real redis-server; clients reach them through a round-robin TCP proxy, as through a load
balancer; the tracker and publisher handlers run the recorded sequence. Faults: the publisher drops
a whole batch (as when it gives up), Redis is killed mid-stream and comes back, and a replica starts
between a tracker commit and the calls-table update. Every replica must match the store within 5 s
and every SSE client must see each id exactly once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from dallas_calls.archive.store import encode_snapshot
from dallas_calls.aws.handlers import track_snapshot
from dallas_calls.aws.publish import handle_publisher
from dallas_calls.config import Settings
from dallas_calls.events.redis_bus import RedisBus
from dallas_calls.pipeline import archive_raw
from dallas_calls.storage.dynamodb import DynamoStore
from tests.api.conftest import SseClient
from tests.aws.conftest import TOKEN, AwsWorld
from tests.conftest import free_port
from tests.events.conftest import RedisServer, redis_server_or_skip
from tests.fakes.events import open_after

pytestmark = pytest.mark.redis

CONVERGE_S = 5.0
Recorded = list[tuple[datetime, list[Any]]]


class Replica:
    """``create_app`` on DynamoDB with a Redis bus, served by uvicorn in a thread of its own."""

    def __init__(self, aws: AwsWorld, redis_url: str, tmp: Path, clock: Any) -> None:
        from dallas_calls.api.app import create_app

        settings = Settings(
            data_dir=tmp, ingest_token=TOKEN, rate_limit_per_min=0, geocode=False, sse_max_clients_per_ip=100
        )
        # the tracker's clock: the recorded 2019 batches are live (their TTL counts from it)
        store = DynamoStore(aws.names, client=aws.ddb, clock=clock)
        self.app = create_app(settings, store, RedisBus(redis_url, reconnect_max_s=0.5))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Replica:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "replica did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.app.state.view.close_streams()
        self.server.should_exit = True
        self.thread.join(timeout=15)


class RoundRobinProxy:
    """A TCP proxy on loopback: each new connection goes to the next backend (a load balancer)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.turn = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()
        server.close()
        # the connections still piping when the proxy stops: cancelled and awaited, not left pending
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = self.ports[self.turn % len(self.ports)]
        self.turn += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def start(self) -> RoundRobinProxy:
        self.thread.start()
        self.ready.wait(10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = redis_server_or_skip(tmp_path)
    yield server
    server.stop()


def _state(url: str) -> tuple[int, set[str]]:
    body = httpx.get(url + "/current-calls/", timeout=10).json()
    return body["last_event_id"], {c["incident_number"] for c in body["current_active_calls"]}


async def test_replicas_converge_on_the_store_after_every_fault(
    aws: AwsWorld, recorded: Recorded, redis_server: RedisServer, tmp_path: Path
) -> None:
    tracker = aws.runtime()
    a = Replica(aws, redis_server.url, tmp_path / "a", tracker.clock).start()
    b = Replica(aws, redis_server.url, tmp_path / "b", tracker.clock).start()
    replicas = [a, b]
    proxy = RoundRobinProxy([a.port, b.port]).start()
    publisher = aws.runtime(api_url=proxy.url)
    store = tracker.store
    clients: list[tuple[SseClient, int]] = []
    readers: list[asyncio.Task[Any]] = []
    try:
        async with httpx.AsyncClient() as http:

            def watch(url: str, after: int) -> None:
                client = SseClient(f"{url}/get-events/?last_event_id={after}")
                clients.append((client, after))
                readers.append(asyncio.create_task(client.collect_until(http, 10**9, timeout=120)))

            for _ in range(4):  # through the proxy: two on each replica
                watch(proxy.url, 0)
            await asyncio.sleep(0.5)

            def run_poll(index: int) -> None:
                at, rows = recorded[index]
                _, key = archive_raw(tracker.archive, encode_snapshot(rows), at)
                if index == 7:  # a replica starts after the commit, before the calls table is updated
                    materialize = store.materialize

                    def late(events: Any) -> Any:
                        third = Replica(aws, redis_server.url, tmp_path / "c", tracker.clock).start()
                        replicas.append(third)
                        return materialize(events)

                    store.materialize = late  # type: ignore[method-assign]
                    try:
                        track_snapshot(tracker, key)
                    finally:
                        store.materialize = materialize  # type: ignore[method-assign]
                else:
                    track_snapshot(tracker, key)
                batch = aws.stream_event()
                if index == 4:
                    return  # the publisher gave up on this batch: it is never posted
                result = handle_publisher(publisher, batch)
                assert result["batchItemFailures"] == []

            for index in range(len(recorded)):
                if index == 6:
                    redis_server.stop()  # mid-stream
                if index == 10:
                    redis_server.start()
                await asyncio.to_thread(run_poll, index)
                if index == 7:
                    third = replicas[2]
                    start_id, _ = await asyncio.to_thread(_state, third.url)
                    watch(third.url, start_id)
                await asyncio.sleep(0.2)

            want_last = store.last_event_id()
            want_open = set(store.open_calls())
            assert want_open == open_after(store.events_after(0, 100_000)), "the store is its log's fold"
            deadline = time.monotonic() + CONVERGE_S
            states: list[tuple[int, set[str]]] = []
            while time.monotonic() < deadline:
                states = [await asyncio.to_thread(_state, r.url) for r in replicas]
                if all(s == (want_last, want_open) for s in states):
                    break
                await asyncio.sleep(0.2)
            assert [s[0] for s in states] == [want_last] * 3, "every replica at the store's last id"
            assert [(sorted(s[1] - want_open), sorted(want_open - s[1])) for s in states] == [([], [])] * 3

            await asyncio.sleep(1.0)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        log = [e.id for e in store.events_after(0, 100_000)]
        for client, after in clients:
            ids = [e.id for e in client.events if e.id is not None]
            assert ids == [i for i in log if i > after], f"{client.url}: each id once, in order"
    finally:
        proxy.stop()
        for replica in replicas:
            replica.stop()
