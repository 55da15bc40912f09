"""Many area clients of one view: each gets exactly its area's events, and the slice they share is
indexed once for all of them (the cost of an area client is what its area holds, not the slice)."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.api import view as view_module
from dallas_calls.api.view import CurrentCallsView
from dallas_calls.events.bus import LocalBus
from dallas_calls.events.filters import AreaIndex, StreamFilter
from dallas_calls.events.sse import client_stream
from dallas_calls.model import Event
from dallas_calls.storage.sqlite import SqliteStore

DALLAS = (32.7767, -96.7970)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _geo(point: tuple[float, float]) -> dict[str, Any]:
    return {"lat": point[0], "lon": point[1], "precision": "address", "source": "test", "in_beat": True}


def _burst(rnd: random.Random) -> tuple[list[Event], list[list[tuple[float, float]]]]:
    """Calls updated at a point, every fourth moved from another point."""
    events, points = [], []
    for i in range(120):
        here = (DALLAS[0] + rnd.uniform(-0.15, 0.15), DALLAS[1] + rnd.uniform(-0.15, 0.15))
        call = {"incident_number": f"B-{i}", "division": "CENTRAL", "priority": 2, "geo": _geo(here)}
        changes: dict[str, Any] = {"status": ["En Route", "At Scene"]}
        pts = [here]
        if i % 4 == 3:
            old = (DALLAS[0] + rnd.uniform(-0.15, 0.15), DALLAS[1] + rnd.uniform(-0.15, 0.15))
            changes = {"geo": [_geo(old), _geo(here)]}
            pts.append(old)
        events.append(
            Event(i + 1, "call.updated", "2019-06-18T05:21:00Z", {"call": call, "changes": changes})
        )
        points.append(pts)
    return events, points


def _ids(data: bytes) -> list[int]:
    return [int(line[4:]) for line in data.decode().split("\n") if line.startswith("id: ")]


async def _read_ids(stream: AsyncIterator[bytes], want: int) -> list[int]:
    got: list[int] = []
    while len(got) < want:
        got += _ids(await asyncio.wait_for(anext(stream), 5))
    return got


async def test_area_clients_at_one_cursor_share_one_index_and_get_exactly_their_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []

    class CountedIndex(AreaIndex):
        def __init__(self, events: Sequence[Event]) -> None:
            built.append(len(events))
            super().__init__(events)

    monkeypatch.setattr(view_module, "AreaIndex", CountedIndex)
    rnd = random.Random(21)
    events, points = _burst(rnd)
    view = CurrentCallsView(SqliteStore(tmp_path / "s.sqlite3"))
    view.load()
    bus = LocalBus()
    await bus.start()
    view.attach(bus)
    # Each circle is centred on one of the burst's points, so every client has something to get.
    circles = [(rnd.choice(points)[0], rnd.uniform(500, 5000)) for _ in range(40)]
    streams = [
        client_stream(view, None, StreamFilter.parse(None, None, near=f"{c[0]},{c[1]}", radius_m=str(r)))
        for c, r in circles
    ]
    try:
        wants = [
            [e.id for e, pts in zip(events, points, strict=True) if any(_metres(c, p) <= r for p in pts)]
            for c, r in circles
        ]
        for stream in streams:
            assert (await anext(stream)).startswith(b"retry: ")
        readers = [asyncio.create_task(_read_ids(s, len(w))) for s, w in zip(streams, wants, strict=True)]
        await asyncio.sleep(0.1)  # every stream waits for newer events, as a connected client does
        await bus.publish(events)
        got = await asyncio.gather(*readers)
        assert all(wants) and got == wants
    finally:
        for stream in streams:
            await stream.aclose()  # type: ignore[attr-defined]
        await view.detach()
        await bus.stop()
    assert built == [len(events)], "one index for the slice, shared by the 40 clients"
