"""Two `dallas-calls api` processes on one real redis-server: a client on either replica sees every
event, whichever replica received it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import TOKEN, SseClient, event_dict, start_api
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
            await asyncio.sleep(1.0)  # the streams are open
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
