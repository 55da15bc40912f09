"""/get-events/ over a real server and real streaming clients: fan-out, resume, handoff, overflow,
resource release."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from dallas_calls import metrics
from dallas_calls.feed.source import ReplayExhausted, ReplaySource
from dallas_calls.model import Call, Event
from tests.api.conftest import ApiServer, SseClient, wait_for


def _sse_clients_gauge() -> float:
    value = metrics.SSE_CLIENTS._value.get()
    return float(value)


async def _connected(server: ApiServer, count: int) -> None:
    """Wait until ``count`` streams are open."""
    assert await wait_for(lambda: server.view.clients >= count), server.view.clients


async def test_every_client_receives_every_event_in_the_same_order(
    make_server: Any, replay: ReplaySource
) -> None:
    server = make_server()
    clients = [SseClient(server.url + "/get-events/") for _ in range(3)]
    async with httpx.AsyncClient() as http:
        readers = [asyncio.create_task(c.collect_until(http, 10**9, timeout=30)) for c in clients]
        await _connected(server, 3)
        for _ in range(6):
            await server.apoll(replay)
        last = server.store.last_event_id()
        assert last > 50
        await wait_for(lambda: all(c.ids and c.ids[-1] == last for c in clients), timeout=20)
        for task in readers:
            task.cancel()
    expected = [e.id for e in server.store.events_after(0, limit=100_000)]
    for client in clients:
        assert client.ids == expected  # each event reached every client, not one of them
        assert client.retry is not None and client.retry > 0
    payloads = [[(e.event, e.raw) for e in c.events] for c in clients]
    assert payloads[0] == payloads[1] == payloads[2]
    first = clients[0].events[0]
    assert set(first.data) == {"id", "type", "at", "data"} and first.data["type"] == first.event


async def test_resume_by_id_after_disconnect_mid_stream(make_server: Any, replay: ReplaySource) -> None:
    server = make_server()
    async with httpx.AsyncClient() as http:
        first = SseClient(server.url + "/get-events/?last_event_id=0")
        reader = asyncio.create_task(first.collect_until(http, 10**9))
        await _connected(server, 1)
        for _ in range(3):
            await server.apoll(replay)
        mid = server.store.last_event_id()
        await wait_for(lambda: bool(first.ids) and first.ids[-1] >= mid // 2)
        reader.cancel()  # disconnect in the middle of the stream
        with pytest.raises(asyncio.CancelledError):
            await reader
        seen = first.ids
        assert len(seen) > 0
        for _ in range(3):
            await server.apoll(replay)
        last = server.store.last_event_id()
        # the browser's EventSource resends the header; the header wins over the stale query id
        second = SseClient(
            server.url + "/get-events/?last_event_id=0", headers={"Last-Event-ID": str(seen[-1])}
        )
        await second.collect_until(http, last)
    assert seen + second.ids == list(range(1, last + 1))  # no gap, no duplicate


async def test_snapshot_then_stream_handoff_has_no_gap_under_concurrent_polls(
    make_server: Any, replay: ReplaySource
) -> None:
    server = make_server()
    server.poll(replay)

    async def poll_all() -> None:
        while True:
            try:
                await server.pipeline.poll(replay)
            except ReplayExhausted:
                return
            await asyncio.sleep(0.05)  # a poll takes ~1 ms now: spread them over the handoffs

    poller = asyncio.run_coroutine_threadsafe(poll_all(), server.loop)
    handoffs: list[tuple[int, dict[str, Any], SseClient, asyncio.Task[Any]]] = []
    async with httpx.AsyncClient() as http:
        while not poller.done() and len(handoffs) < 12:
            snapshot = (await http.get(server.url + "/current-calls/")).json()
            calls = {c["incident_number"]: c for c in snapshot["current_active_calls"]}
            client = SseClient(server.url + f"/get-events/?last_event_id={snapshot['last_event_id']}")
            reader = asyncio.create_task(client.collect_until(http, 10**9, timeout=60))
            handoffs.append((snapshot["last_event_id"], calls, client, reader))
            await asyncio.sleep(0.05)
        poller.result(timeout=60)
        final = server.store.last_event_id()
        for start, _, client, reader in handoffs:

            def caught_up(c: SseClient = client, s: int = start) -> bool:
                return bool((c.ids[-1] if c.ids else s) == final)

            done = await wait_for(caught_up, timeout=20)
            assert done, (start, final, client.ids[-3:])
            reader.cancel()
    starts = {h[0] for h in handoffs}
    assert len(starts) >= 3, "the handoffs should land at different points of the polling"
    expected_open = {n: c.to_dict() for n, c in server.store.open_calls().items()}
    checked = 0
    for start, calls, client, _ in handoffs:
        assert client.ids == list(range(start + 1, final + 1)), (start, client.ids[:5])
        for event in client.events:
            if "." not in event.event:
                continue
            call = event.data["data"].get("call")
            if event.event in ("call.opened", "call.updated"):
                calls[call["incident_number"]] = call
            elif event.event == "call.closed":
                calls.pop(call["incident_number"], None)
        assert set(calls) == set(expected_open)
        for number, call in calls.items():
            assert Call.from_dict(call).units == Call.from_dict(expected_open[number]).units
        checked += 1
    assert checked >= 2


def _big_event(event_id: int, size: int) -> Event:
    call = {
        "incident_number": f"BIG-{event_id}",
        "division": "CENTRAL",
        "nature_of_call": "X" * size,
        "priority": 2,
        "received_at": None,
        "block": None,
        "location": "MAIN ST",
        "beat": None,
        "reporting_area": None,
        "status": None,
        "units": [],
        "location_key": "MAIN ST|DALLAS",
        "first_seen": "2019-06-18T05:17:00Z",
        "last_seen": "2019-06-18T05:17:00Z",
    }
    return Event(
        event_id, "call.updated", "2019-06-18T05:17:00Z", {"call": call, "changes": {}}, f"BIG-{event_id}"
    )


async def test_slow_client_is_dropped_with_overflow_while_a_fast_one_keeps_receiving(
    make_server: Any,
) -> None:
    # 400 events of 64 KiB: a ring large enough to hold them all, so only the queue size decides
    # (the byte bound of the ring has a test of its own)
    server = make_server(sse_queue_size=5, sse_ring_max_bytes=64 * 1024 * 1024)
    dropped_before = metrics.SSE_DROPPED._value.get()
    total = 400
    async with httpx.AsyncClient() as http:
        fast = SseClient(server.url + "/get-events/")
        fast_task = asyncio.create_task(fast.collect_until(http, total, timeout=60))
        slow_lines: list[str] = []
        async with http.stream("GET", server.url + "/get-events/", timeout=None) as slow:
            lines = slow.aiter_lines()
            slow_lines.append(await lines.__anext__())  # connected; now it stops reading
            await _connected(server, 2)
            for start in range(1, total + 1, 4):  # 64 KiB events: fills the socket buffers
                batch = [_big_event(i, 64 * 1024) for i in range(start, start + 4)]
                await server.acall(server.bus.publish(batch))
                await asyncio.sleep(0.005)
            await fast_task
            assert fast.ids == list(range(1, total + 1))  # never held back by the slow client
            async for line in lines:  # the slow one reads again: what was buffered, then overflow
                slow_lines.append(line)
        assert "event: overflow" in slow_lines
        received = [int(line[4:]) for line in slow_lines if line.startswith("id: ")]
        assert received and received[-1] < total
        assert received == list(range(1, len(received) + 1))
        # it resumes by id with nothing lost
        again = SseClient(server.url + "/get-events/", headers={"Last-Event-ID": str(received[-1])})
        await again.collect_until(http, total)
        assert again.ids == list(range(received[-1] + 1, total + 1))
    assert metrics.SSE_DROPPED._value.get() >= dropped_before + 1
    assert await wait_for(lambda: server.view.clients == 0)
    assert server.bus.subscriber_count == 1  # the view's own subscription, nothing else


async def test_a_thousand_connect_disconnect_cycles_leave_nothing_behind(make_server: Any) -> None:
    # 50 at once from one address: the per-IP cap is exactly that, so a cap slot not given back by
    # a closed stream would turn a later cycle into a 429.
    server = make_server(sse_max_clients_per_ip=50)
    baseline_subs = server.bus.subscriber_count  # the view's subscription
    baseline_gauge = _sse_clients_gauge()
    baseline_tasks = server.task_count()

    async def cycle(http: httpx.AsyncClient) -> None:
        async with http.stream("GET", server.url + "/get-events/") as response:
            assert response.status_code == 200
            async for _ in response.aiter_bytes():
                break  # the retry hint arrived; hang up

    limits = httpx.Limits(max_connections=50, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=10) as http:
        for _ in range(20):
            await asyncio.gather(*(cycle(http) for _ in range(50)))
    assert await wait_for(lambda: server.bus.subscriber_count == baseline_subs, timeout=15), (
        server.bus.subscriber_count
    )
    assert await wait_for(lambda: _sse_clients_gauge() == baseline_gauge, timeout=15)
    await asyncio.sleep(0.3)
    assert server.task_count() <= baseline_tasks + 2


async def test_a_resume_older_than_the_byte_bounded_ring_is_served_from_the_store(
    make_server: Any, replay: ReplaySource
) -> None:
    server = make_server(sse_queue_size=5, sse_ring_max_bytes=20_000)
    for _ in range(6):
        await server.apoll(replay)
    last = server.store.last_event_id()
    ring = server.view.ring
    assert ring.bytes <= 20_000 and len(ring) >= 10 and server.view.ring_floor >= 10  # bounded by bytes
    async with httpx.AsyncClient() as http:
        old = SseClient(server.url + "/get-events/", headers={"Last-Event-ID": "1"})
        await old.collect_until(http, last)
        assert old.ids == list(range(2, last + 1))  # the store's part, then the ring's: no gap, no dup
        assert "reset" not in {e.event for e in old.events}


async def test_an_id_older_than_the_log_gets_a_reset(make_server: Any, replay: ReplaySource) -> None:
    server = make_server()
    server.view.ring_size = 5  # the in-memory ring covers only the newest events
    for _ in range(3):
        server.poll(replay)
    last = server.store.last_event_id()
    server.store.prune_events("2019-06-18T05:24:00Z")  # drop the first two polls' events
    assert server.store.first_event_id() is not None and server.store.first_event_id() > 2
    async with httpx.AsyncClient() as http:
        client = SseClient(server.url + "/get-events/", headers={"Last-Event-ID": "1"})
        await client.collect_until(http, 10**9, stop_on=("reset",))
        assert client.events[-1].event == "reset"
        assert client.events[-1].data["last_event_id"] == last
        # an id this server never gave (a different database) also resets
        ahead = SseClient(server.url + f"/get-events/?last_event_id={last + 1000}")
        await ahead.collect_until(http, 10**9, stop_on=("reset",))
        assert ahead.events[-1].event == "reset"


async def test_division_and_priority_filters_apply_server_side(
    make_server: Any, replay: ReplaySource
) -> None:
    server = make_server()
    async with httpx.AsyncClient() as http:
        central = SseClient(server.url + "/get-events/?last_event_id=0&division=central&priority=1,2")
        everything = SseClient(server.url + "/get-events/?last_event_id=0")
        for _ in range(4):
            server.poll(replay)
        last = server.store.last_event_id()
        await everything.collect_until(http, last)
        tasks = asyncio.create_task(central.collect_until(http, last, timeout=3))
        with pytest.raises(TimeoutError):
            await tasks  # the filtered stream need not carry the last id
    calls = [e.data["data"]["call"] for e in central.events if e.event.startswith("call.")]
    assert calls, "the recorded sequence has central priority 1-2 calls"
    assert all(c["division"].upper() == "CENTRAL" and c["priority"] in (1, 2) for c in calls)
    expected = [
        e.id
        for e in everything.events
        if e.event.startswith("call.")
        and (e.data["data"]["call"]["division"] or "").upper() == "CENTRAL"
        and e.data["data"]["call"]["priority"] in (1, 2)
    ]
    assert [e.id for e in central.events if e.event.startswith("call.")] == expected
    async with httpx.AsyncClient() as http:
        bad = await http.get(server.url + "/get-events/?priority=urgent")
        assert bad.status_code == 400 and "priority" in bad.json()["message"]
        bad_id = await http.get(server.url + "/get-events/", headers={"Last-Event-ID": "abc"})
        assert bad_id.status_code == 400


async def test_heartbeat_comment_is_sent(make_server: Any) -> None:
    server = make_server(sse_heartbeat_s=0.2)
    client = SseClient(server.url + "/get-events/")
    async with httpx.AsyncClient() as http:
        with pytest.raises(TimeoutError):
            await client.collect_until(http, 10**9, timeout=0.7)
    assert any("heartbeat" in c for c in client.comments)
    assert json.dumps(client.comments)
