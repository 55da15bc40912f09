"""RedisBus against a real redis-server: every replica's subscribers see every event, in id order."""

from __future__ import annotations

import asyncio

import pytest

from dallas_calls.events.bus import Subscription
from dallas_calls.events.redis_bus import RedisBus, decode_batch, encode_batch
from dallas_calls.model import Event
from tests.events.conftest import RedisServer

pytestmark = pytest.mark.redis


def _event(event_id: int) -> Event:
    call = {
        "incident_number": f"2019-{event_id}",
        "location": "MAIN ST",
        "location_key": "k",
        "first_seen": "2019-06-18T05:17:00Z",
        "last_seen": "2019-06-18T05:17:00Z",
    }
    return Event(event_id, "call.opened", "2019-06-18T05:17:00Z", {"call": call}, f"2019-{event_id}")


async def _drain(sub: Subscription, count: int, timeout: float = 10) -> list[int]:
    ids: list[int] = []
    async with asyncio.timeout(timeout):
        while len(ids) < count:
            ids.append((await sub.get()).id)
    return ids


def test_batches_round_trip() -> None:
    events = [_event(3), _event(1)]
    decoded = decode_batch(encode_batch(events))
    assert [e.id for e in decoded] == [1, 3]
    assert decoded[0].incident_number == "2019-1"
    with pytest.raises(ValueError):
        decode_batch('{"nothing": 1}')


async def test_every_replica_sees_every_event_in_order(redis_server: RedisServer) -> None:
    a, b = RedisBus(redis_server.url), RedisBus(redis_server.url)
    await a.start()
    await b.start()
    try:
        assert a.connected and b.connected
        subs = [a.subscribe(), a.subscribe(), b.subscribe()]
        for start in range(1, 101, 10):
            await a.publish([_event(i) for i in range(start, start + 10)])
        await b.publish([_event(50)])  # a duplicate id from elsewhere is skipped, not re-sent
        await b.publish([_event(101)])
        for sub in subs:
            assert await _drain(sub, 101) == list(range(1, 102))
        assert a.subscriber_count == 2 and b.subscriber_count == 1
    finally:
        await a.stop()
        await b.stop()
    assert a.subscriber_count == 0


async def test_publish_without_redis_delivers_locally_and_never_raises() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", reconnect_max_s=0.2)
    await bus.start()
    try:
        assert not bus.connected
        sub = bus.subscribe()
        await bus.publish([_event(1), _event(2)])
        assert await _drain(sub, 2) == [1, 2]
        assert bus.publish_errors == 1
    finally:
        await bus.stop()


async def test_the_reader_reconnects_after_redis_restarts(redis_server: RedisServer) -> None:
    bus = RedisBus(redis_server.url, reconnect_max_s=0.2)
    await bus.start()
    try:
        sub = bus.subscribe()
        await bus.publish([_event(1)])
        assert await _drain(sub, 1) == [1]
        redis_server.stop()
        async with asyncio.timeout(10):
            while bus.connected:
                await asyncio.sleep(0.05)
        redis_server.start()
        async with asyncio.timeout(15):
            while not bus.connected:
                await asyncio.sleep(0.05)
        await bus.publish([_event(2)])
        assert await _drain(sub, 1) == [2]
    finally:
        await bus.stop()
