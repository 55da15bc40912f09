"""`GET /history/events` over a real server and a real SQLite store: a window's events in order,
the calls open at its start, a replay of both that ends where the store is; the part of a window
older than the kept log rebuilt from the call records (and said so); bad windows as 400/422."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dallas_calls.export.replay import reconstructed_events, replay_cut, was_pruned
from dallas_calls.feed.source import ReplaySource
from dallas_calls.model import Call
from tests.api.conftest import call_dict

WINDOW = {"start": "2019-06-18T05:25:00Z", "end": "2019-06-18T07:00:00Z"}
WHOLE = {"start": "2019-06-18T05:00:00Z", "end": "2019-06-18T07:00:00Z"}


def replayed(body: dict[str, Any]) -> set[str]:
    """The calls open once a window's events are played over its starting calls."""
    open_calls = {c["incident_number"] for c in body["initial"]}
    for ev in body["events"]:
        call = ev["data"].get("call")
        if ev["type"] in ("call.opened", "call.updated"):
            open_calls.add(call["incident_number"])
        elif ev["type"] == "call.closed":
            open_calls.discard(call["incident_number"])
    return open_calls


def polled(make_server: Any, replay: ReplaySource, polls: int = 8) -> Any:
    server = make_server()
    for _ in range(polls):
        server.poll(replay)
    return server


def test_a_window_gives_its_logged_events_in_order_and_replays_to_the_store(
    make_server: Any, replay: ReplaySource
) -> None:
    server = polled(make_server, replay)
    logged = server.store.events_after(0, 100_000)
    with httpx.Client(base_url=server.url) as http:
        res = http.get("/history/events", params=WINDOW)
        history = http.get("/history", params={**WINDOW, "limit": 5000}).json()
        whole = http.get("/history/events", params=WHOLE).json()
    # a window from before the first event, nothing pruned: the log covers it all
    assert whole["source"] == "log" and whole["initial"] == [] and whole["note"] is None
    assert [e["id"] for e in whole["events"]] == [e.id for e in logged]
    assert replayed(whole) == set(server.store.open_calls())
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["source"] == "log" and body["note"] is None and body["reconstructed_until"] is None
    assert body["truncated"] is False and body["count"] == len(body["events"])
    want = [e.id for e in logged if WINDOW["start"] <= e.at < WINDOW["end"]]
    assert want, "the window holds events"
    assert [e["id"] for e in body["events"]] == want
    assert all(not e["reconstructed"] for e in body["events"])
    assert body["kept_from"] == logged[0].at
    # the starting calls: first seen before the window, still open at its start
    assert body["initial"], "calls were open at 05:25"
    for call in body["initial"]:
        assert call["first_seen"] < WINDOW["start"]
        assert call["closed_at"] is None or call["closed_at"] >= WINDOW["start"]
    assert replayed(body) == set(server.store.open_calls())
    assert body["window_calls"] == history["count"]
    opened = {e["data"]["call"]["incident_number"] for e in body["events"] if e["type"] == "call.opened"}
    assert opened == {c["incident_number"] for c in history["calls"]}


def test_the_pruned_part_of_a_window_is_rebuilt_from_call_records(
    make_server: Any, replay: ReplaySource
) -> None:
    server = polled(make_server, replay)
    assert server.store.prune_events("2019-06-18T05:33:00Z") > 0
    kept_from = server.store.events_after(0, 1)[0].at
    with httpx.Client(base_url=server.url) as http:
        mixed = http.get("/history/events", params=WHOLE).json()
        before = http.get("/history/events", params={**WHOLE, "end": "2019-06-18T05:30:00Z"}).json()
        early_calls = http.get("/history", params={**WHOLE, "end": "2019-06-18T05:30:00Z"}).json()
    assert mixed["source"] == "mixed"
    assert mixed["reconstructed_until"] == mixed["kept_from"] == kept_from
    assert "field updates not kept" in mixed["note"]
    rebuilt = [e for e in mixed["events"] if e["reconstructed"]]
    logged = [e for e in mixed["events"] if not e["reconstructed"]]
    assert rebuilt and logged
    assert mixed["events"] == [*rebuilt, *logged], "rebuilt events come first (they are older)"
    assert all(e["id"] is None and e["type"] in ("call.opened", "call.closed") for e in rebuilt)
    assert all(e["at"] < kept_from for e in rebuilt) and all(e["at"] >= kept_from for e in logged)
    times = [e["at"] for e in rebuilt]
    assert times == sorted(times)
    assert replayed(mixed) == set(server.store.open_calls()), "the rebuilt replay still ends right"

    assert before["source"] == "reconstructed" and before["reconstructed_until"] == before["end"]
    assert all(e["reconstructed"] for e in before["events"])
    opened = {e["data"]["call"]["incident_number"] for e in before["events"] if e["type"] == "call.opened"}
    assert opened == {c["incident_number"] for c in early_calls["calls"]}


def test_events_are_capped_with_a_truncated_flag(make_server: Any, replay: ReplaySource) -> None:
    server = polled(make_server, replay, polls=4)
    with httpx.Client(base_url=server.url) as http:
        body = http.get("/history/events", params={**WINDOW, "limit": 5}).json()
        full = http.get("/history/events", params=WINDOW).json()
    assert body["count"] == 5 and body["truncated"] is True
    assert body["events"] == full["events"][:5]
    assert full["truncated"] is False and full["count"] > 5


@pytest.mark.parametrize(
    ("params", "status", "word"),
    [
        ({"start": "yesterday", "end": "2019-06-19T00:00:00Z"}, 400, "start"),
        ({"start": "2019-06-18T00:00:00Z"}, 400, "end"),
        ({}, 400, "start"),
        ({"start": "2019-06-19T00:00:00Z", "end": "2019-06-18T00:00:00Z"}, 400, "after"),
        ({"start": "2019-01-01T00:00:00Z", "end": "2019-06-18T00:00:00Z"}, 400, "31 days"),
        ({**WINDOW, "limit": "0"}, 422, ""),
        ({**WINDOW, "limit": "x"}, 422, ""),
        ({**WINDOW, "limit": "20001"}, 422, ""),
    ],
)
def test_bad_windows_are_4xx_json(make_server: Any, params: dict[str, str], status: int, word: str) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url) as http:
        res = http.get("/history/events", params=params)
    assert res.status_code == status, res.text
    assert set(res.json()) >= {"error", "message"} and word in res.json()["message"]


def test_an_empty_log_is_not_called_pruned(make_server: Any) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url) as http:
        body = http.get("/history/events", params=WINDOW).json()
    assert body == {**body, "source": "log", "events": [], "initial": [], "note": None, "window_calls": 0}


def _call(number: str, first_seen: str, closed_at: str | None) -> Call:
    fields = {**call_dict(number), "first_seen": first_seen, "closed_at": closed_at}
    return Call.from_dict({**fields, "last_seen": closed_at or first_seen})


def test_rebuilt_events_keep_time_order_and_the_window() -> None:
    calls = [
        _call("B", "2019-06-18T05:10:00Z", "2019-06-18T05:20:00Z"),
        _call("A", "2019-06-18T04:00:00Z", "2019-06-18T05:10:00Z"),  # open at the start
        _call("C", "2019-06-18T05:20:00Z", "2019-06-18T06:00:00Z"),  # closes after the cut
        _call("B", "2019-06-18T05:10:00Z", "2019-06-18T05:20:00Z"),  # given twice: once
    ]
    events = reconstructed_events(calls, "2019-06-18T05:00:00Z", "2019-06-18T05:30:00Z")
    got = [(e["at"][11:16], e["type"], e["data"]["call"]["incident_number"]) for e in events]
    assert got == [
        ("05:10", "call.opened", "B"),
        ("05:10", "call.closed", "A"),
        ("05:20", "call.opened", "C"),
        ("05:20", "call.closed", "B"),
    ]
    s, e = "2019-06-18T05:00:00Z", "2019-06-18T06:00:00Z"
    assert replay_cut(s, e, "2019-06-18T05:30:00Z", pruned=False) == s
    assert replay_cut(s, e, None, pruned=True) == e
    assert replay_cut(s, e, "2019-06-18T05:30:00Z", pruned=True) == "2019-06-18T05:30:00Z"
    assert replay_cut(s, e, "2019-06-18T04:00:00Z", pruned=True) == s
    assert replay_cut(s, e, "2019-06-18T08:00:00Z", pruned=True) == e
    assert not was_pruned(None, 0) and was_pruned(None, 7)
    assert not was_pruned(1, 9) and was_pruned(5, 9) and not was_pruned(5, 9, skipped=4)
