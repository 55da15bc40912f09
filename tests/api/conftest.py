"""A real uvicorn server on a loopback port, in a thread with its own event loop, serving
``create_app`` over a real SQLite store, a real archive folder and a real bus; and a streaming SSE
client built on httpx."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from dallas_calls.api.server import server_options
from dallas_calls.archive.store import LocalObjectStore
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus, LocalBus
from dallas_calls.feed.source import ReplaySource
from dallas_calls.pipeline import Pipeline, PollResult
from dallas_calls.storage.sqlite import SqliteStore
from tests.conftest import free_port

T = TypeVar("T")

TOKEN = "s3cret-token"


def call_dict(number: str, division: str = "NORTHEAST", priority: int | None = 2) -> dict[str, Any]:
    """A call as the publisher sends it (for POST /events/)."""
    return {
        "incident_number": number,
        "division": division,
        "nature_of_call": "07 - MINOR ACCIDENT",
        "priority": priority,
        "received_at": "2019-06-18T00:10:00-05:00",
        "block": "100",
        "location": "MAIN ST",
        "beat": "111",
        "reporting_area": "1000",
        "status": "At Scene",
        "units": [{"unit_number": "B100", "status": "At Scene"}],
        "location_key": "100 MAIN ST|DALLAS",
        "first_seen": "2019-06-18T05:17:00Z",
        "last_seen": "2019-06-18T05:17:00Z",
        "closed_at": None,
        "geo": None,
    }


def event_dict(event_id: int, kind: str = "call.opened", number: str = "2019-1") -> dict[str, Any]:
    return {"id": event_id, "type": kind, "at": "2019-06-18T05:17:00Z", "data": {"call": call_dict(number)}}


class ApiServer:
    def __init__(
        self,
        data_dir: Path,
        settings: Settings,
        bus: EventBus | None = None,
        background: Callable[[], Coroutine[Any, Any, None]] | None = None,
        readiness: Any = None,
    ) -> None:
        from dallas_calls.api.app import create_app

        self.settings = settings
        self.store = SqliteStore(data_dir / "calls.sqlite3")
        self.archive = LocalObjectStore(data_dir / "archive")
        self.bus: EventBus = bus or LocalBus()
        self.pipeline = Pipeline(self.store, self.archive, bus=self.bus)
        self.app = create_app(settings, self.store, self.bus, background=background, readiness=readiness)
        self.view = self.app.state.view
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(2048)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        options = {**server_options(settings), "log_level": "warning"}
        config = uvicorn.Config(self.app, lifespan="on", timeout_graceful_shutdown=2, **options)
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))
        pending = asyncio.all_tasks(self.loop)  # e.g. sse-starlette's shutdown watcher
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def start(self) -> ApiServer:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            threading.Event().wait(0.025)
        raise RuntimeError("server did not start")

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the server's loop (the bus and view live there) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def acall(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def poll(self, source: ReplaySource) -> PollResult:
        return self.call(self.pipeline.poll(source))

    async def apoll(self, source: ReplaySource) -> PollResult:
        return await self.acall(self.pipeline.poll(source))

    def task_count(self) -> int:
        async def count() -> int:
            return len(asyncio.all_tasks())

        return self.call(count())

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.store.close()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ApiServer]]:
    servers: list[ApiServer] = []

    def make(
        bus: EventBus | None = None, background: Any = None, readiness: Any = None, **overrides: Any
    ) -> ApiServer:
        options: dict[str, Any] = {
            "data_dir": tmp_path / f"data{len(servers)}",
            "geocode": False,
            "rate_limit_per_min": 0,
            **overrides,
        }
        settings = Settings(**options)
        server = ApiServer(settings.data_dir, settings, bus=bus, background=background, readiness=readiness)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def replay(feed_sequence: Path) -> ReplaySource:
    """The 14 recorded snapshots, with their recorded capture times as poll times."""
    return ReplaySource(feed_sequence)


@dataclass
class SseEvent:
    id: int | None
    event: str
    data: Any
    raw: str = ""


@dataclass
class SseClient:
    """One EventSource-like client: parses the stream and keeps everything it received."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    events: list[SseEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None

    async def stream(self, client: httpx.AsyncClient) -> AsyncIterator[SseEvent]:
        async with client.stream("GET", self.url, headers=self.headers, timeout=None) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line == "":
                    if "data" in fields or "event" in fields:
                        event = SseEvent(
                            int(fields["id"]) if fields.get("id") else None,
                            fields.get("event", "message"),
                            json.loads(fields["data"]) if "data" in fields else None,
                            fields.get("data", ""),
                        )
                        self.events.append(event)
                        yield event
                    fields = {}
                elif line.startswith(":"):
                    self.comments.append(line)
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "retry":
                        self.retry = int(value)
                    else:
                        fields[name] = value

    async def collect_until(
        self, client: httpx.AsyncClient, last_id: int, timeout: float = 20, stop_on: tuple[str, ...] = ()
    ) -> list[SseEvent]:
        """Read until an event with id >= last_id arrives (or a stop_on event type)."""

        async def run() -> None:
            async for event in self.stream(client):
                if event.event in stop_on:
                    return
                if event.id is not None and event.id >= last_id:
                    return

        await asyncio.wait_for(run(), timeout)
        return self.events

    @property
    def ids(self) -> list[int]:
        return [e.id for e in self.events if e.id is not None and "." in e.event]


async def wait_for(predicate: Callable[[], bool], timeout: float = 10, step: float = 0.02) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


def start_api(
    data_dir: Path, bus: str = "local", env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`dallas-calls api` as a process on a loopback port (ingest enabled): once ready, (process, URL).
    ``data_dir`` may be a poller's own (the replica then reads the poller's store)."""
    port = free_port()
    env = {**os.environ, "DALLAS_CALLS_INGEST_TOKEN": TOKEN, "DALLAS_CALLS_GEOCODE": "false", **(env or {})}
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "api.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dallas_calls.cli",
            "api",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--bus",
            bus,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((data_dir / "api.log").read_text()[-2000:])
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("api did not become ready: " + (data_dir / "api.log").read_text()[-2000:])
