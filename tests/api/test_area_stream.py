"""`/get-events/?near=lat,lon&radius_m=` and `?bbox=`: a client watching an area receives exactly
the events that concern it, over a real SSE connection."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

import httpx
import pytest

from dallas_calls.events.filters import Area, StreamFilter
from tests.api.conftest import TOKEN, SseClient, call_dict

CENTRE = (32.7767, -96.7970)  # downtown Dallas


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine, independent of the filter's own flat-earth distance."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _geo(lat: float, lon: float) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "precision": "address", "source": "test", "in_beat": True}


def _events() -> list[dict[str, Any]]:
    """Calls opened around downtown (some inside 1 km, most outside), one moved out by an update,
    one located into the area after it opened, one closed inside."""
    rnd = random.Random(7)
    events: list[dict[str, Any]] = []
    for i in range(60):
        call = call_dict(f"A-{i}")
        call["geo"] = _geo(CENTRE[0] + rnd.uniform(-0.03, 0.03), CENTRE[1] + rnd.uniform(-0.03, 0.03))
        events.append({"id": len(events) + 1, "type": "call.opened", "data": {"call": call}})
    inside = dict(events[0]["data"]["call"], geo=_geo(*CENTRE))
    events.append({"id": len(events) + 1, "type": "call.updated", "data": {"call": inside, "changes": {}}})
    moved = dict(inside, geo=_geo(CENTRE[0] + 0.05, CENTRE[1]))
    events.append(
        {
            "id": len(events) + 1,
            "type": "call.updated",
            "data": {"call": moved, "changes": {"geo": [inside["geo"], moved["geo"]]}},
        }
    )
    late = call_dict("LATE-1")  # opened with no point: outside every area
    events.append({"id": len(events) + 1, "type": "call.opened", "data": {"call": late}})
    events.append(
        {
            "id": len(events) + 1,
            "type": "location.resolved",
            "data": {
                "location_key": late["location_key"],
                "geo": _geo(CENTRE[0] + 0.001, CENTRE[1]),
                "incident_numbers": ["LATE-1"],
            },
        }
    )
    closing = dict(events[0]["data"]["call"], geo=_geo(*CENTRE), incident_number="A-CLOSE")
    events.append({"id": len(events) + 1, "type": "call.opened", "data": {"call": closing}})
    events.append({"id": len(events) + 1, "type": "call.closed", "data": {"call": closing}})
    for event in events:
        event["at"] = "2019-06-18T05:17:00Z"
    return events


def _concerns(event: dict[str, Any], inside: Any) -> bool:
    data = event["data"]
    if "call" in data:
        old = (data.get("changes") or {}).get("geo")
        return inside(data["call"]["geo"]) or bool(old and inside(old[0]))
    return inside(data["geo"])


def _point_in(geo: Any, test: Any) -> bool:
    return bool(geo) and test((geo["lat"], geo["lon"]))


async def test_an_area_stream_carries_exactly_the_events_of_its_area(make_server: Any) -> None:
    server = make_server(ingest_token=TOKEN)
    events = _events()
    circle = lambda geo: _point_in(geo, lambda p: _metres(p, CENTRE) <= 1000)  # noqa: E731
    box = lambda geo: _point_in(geo, lambda p: 32.77 <= p[0] <= 32.79 and -96.81 <= p[1] <= -96.79)  # noqa: E731
    async with httpx.AsyncClient() as http:
        near = SseClient(
            server.url + f"/get-events/?last_event_id=0&near={CENTRE[0]},{CENTRE[1]}&radius_m=1000"
        )
        boxed = SseClient(server.url + "/get-events/?last_event_id=0&bbox=32.77,-96.81,32.79,-96.79")
        everything = SseClient(server.url + "/get-events/?last_event_id=0")
        readers = [
            asyncio.create_task(c.collect_until(http, 10**9, timeout=4)) for c in (near, boxed, everything)
        ]
        await asyncio.sleep(0.5)
        posted = await http.post(
            server.url + "/events/", json={"events": events}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert posted.status_code == 200 and posted.json()["accepted"] == len(events)
        await asyncio.gather(*readers, return_exceptions=True)
    assert [e.id for e in everything.events] == [e["id"] for e in events]
    for client, inside in ((near, circle), (boxed, box)):
        want = [e["id"] for e in events if _concerns(e, inside)]
        assert [e.id for e in client.events] == want
        assert 3 < len(want) < len(events)
    got = {e.id: e for e in near.events}
    assert events[-3]["id"] in got, "a call located into the area reaches it then"
    assert events[-4]["id"] not in got, "a call with no point is outside every area"
    assert events[-5]["id"] in got, "the update that moves a call out is sent, so the client drops it"


@pytest.mark.parametrize(
    "query",
    [
        "near=32.7,-96.8,5",
        "near=abc,def",
        "near=95,-96.8",
        "near=32.7,-96.8&radius_m=0",
        "near=32.7,-96.8&radius_m=99999999",
        "radius_m=100",
        "bbox=32.8,-96.8,32.7,-96.7",
        "bbox=1,2,3",
        "near=32.7,-96.8&bbox=32.7,-96.8,32.8,-96.7",
        "near=nan,1",
    ],
)
async def test_a_bad_area_is_a_400_with_a_message(make_server: Any, query: str) -> None:
    server = make_server()
    async with httpx.AsyncClient() as http:
        response = await http.get(server.url + "/get-events/?" + query)
    assert response.status_code == 400 and response.json()["message"]


def test_the_filter_parses_and_measures() -> None:
    area = Area.parse("32.7767,-96.797", "500", None)
    assert area is not None and area.contains(_geo(32.7767, -96.797))
    assert not area.contains(_geo(32.7767 + 0.006, -96.797))  # ~660 m north
    assert not area.contains(None) and not area.contains({"lat": None, "lon": None})
    assert StreamFilter.parse(None, None).empty and not StreamFilter.parse(None, None, bbox="1,2,3,4").empty
