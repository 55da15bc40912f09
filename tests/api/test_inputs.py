"""Bad input gets a 4xx, never a 500; ids and times the dashboard cannot hold are refused at the door.

Each case is one that gave a 500 (or bricked the dashboards) before: Unicode digits in an event id,
time bounds that overflow when converted to UTC, an event dated year 1, an ingested id of 10^18.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dallas_calls.model import MAX_EVENT_ID
from tests.api.conftest import TOKEN, SseClient, call_dict, event_dict

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    "query",
    [
        "last_event_id=²",
        "last_event_id=%D9%A3",
        f"last_event_id={MAX_EVENT_ID + 1}",
        "last_event_id=1e5",
        "priority=²",
    ],
)
def test_event_stream_parameters_are_ascii_numbers_in_range(make_server: Any, query: str) -> None:
    server = make_server()
    response = httpx.get(f"{server.url}/get-events/?{query}", timeout=5)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request"


@pytest.mark.parametrize("value", ["²".encode(), "١٢".encode(), str(10**18).encode()])
def test_the_last_event_id_header_is_ascii_digits_in_range(make_server: Any, value: bytes) -> None:
    server = make_server()
    response = httpx.get(server.url + "/get-events/", headers={"Last-Event-ID": value}, timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "bad_request"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+14:00", "0001-01-02T00:00:00Z"),
        ("9999-12-30T00:00:00Z", "9999-12-31T23:59:59-12:00"),
        ("0001-01-01T00:00:00Z", "0001-01-05T00:00:00Z"),
        ("1899-12-31T00:00:00Z", "1900-01-02T00:00:00Z"),
    ],
)
def test_history_bounds_outside_the_supported_range_are_a_400(make_server: Any, start: str, end: str) -> None:
    server = make_server()
    response = httpx.get(server.url + "/history", params={"start": start, "end": end})
    assert response.status_code == 400, response.text
    assert "1900" in response.json()["message"]


def test_ingested_ids_must_fit_a_browser_number(make_server: Any) -> None:
    server = make_server(ingest_token=TOKEN)
    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        for bad in (10**18, MAX_EVENT_ID + 1, 0, -1):
            refused = http.post("/events/", json={"events": [event_dict(bad)]})
            assert refused.status_code == 422, bad
            assert refused.json()["errors"]
        assert http.post("/events/", json={"events": [event_dict(5)]}).json()["accepted"] == 1
        # the dashboards keep working: a later event still arrives
        assert (
            http.post("/events/", json={"events": [event_dict(6, number="2019-2")]}).json()["accepted"] == 1
        )
        assert http.get("/current-calls/").json()["last_event_id"] == 6
        assert http.post("/events/", json={"events": [event_dict(MAX_EVENT_ID, number="2019-3")]}).json() == {
            "accepted": 1,
            "duplicates": 0,
            "last_event_id": MAX_EVENT_ID,
        }


async def test_an_event_dated_outside_the_range_is_refused_and_an_odd_call_date_cannot_break_stats(
    make_server: Any,
) -> None:
    server = make_server(ingest_token=TOKEN)
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH) as http:
        year_one = {**event_dict(1), "at": "0001-01-01T00:00:00+14:00"}
        assert (await http.post("/events/", json={"events": [year_one]})).status_code == 422
        odd = {
            **call_dict("2019-9"),
            "received_at": "0001-01-01T00:00:00+14:00",
            "first_seen": "9999-12-31T23:59:59-12:00",
            "last_seen": "0001-01-01T00:00:00Z",
        }
        event = {"id": 1, "type": "call.opened", "at": "2019-06-18T05:17:00Z", "data": {"call": odd}}
        assert (await http.post("/events/", json={"events": [event]})).json()["accepted"] == 1
        stats = await http.get("/stats")
        assert stats.status_code == 200 and stats.json()["open_calls"] == 1
        assert (await http.get("/calls/2019-9")).status_code == 200
        client = SseClient(server.url + "/get-events/?last_event_id=0")
        await client.collect_until(http, 1)
        assert client.ids == [1]


def test_ingested_calls_are_validated_against_the_documented_call(make_server: Any) -> None:
    server = make_server(ingest_token=TOKEN)
    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        wrong = {**call_dict("2019-3"), "priority": "high", "units": "B100"}
        event = {"id": 1, "type": "call.opened", "at": "2019-06-18T05:17:00Z", "data": {"call": wrong}}
        refused = http.post("/events/", json={"events": [event]})
        assert refused.status_code == 422 and "priority" in refused.text
        geo = {"lat": 500, "lon": 0}
        located = {
            "id": 1,
            "type": "location.resolved",
            "at": "2019-06-18T05:17:00Z",
            "data": {"location_key": "k", "geo": geo},
        }
        assert http.post("/events/", json={"events": [located]}).status_code == 422
