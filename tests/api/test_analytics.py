"""``GET /analytics`` over a real server and a real SQLite store filled by the real pipeline from the
14 recorded snapshots: its numbers agree with the calls ``/history`` gives for the same window,
counted here independently (``statistics``, ``Counter``, ``zoneinfo``); bad input is a 400."""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from dallas_calls.feed.source import ReplaySource
from tests.api.conftest import wait_for

DAY = {"start": "2019-06-18T00:00:00Z", "end": "2019-06-19T00:00:00Z"}
DALLAS = ZoneInfo("America/Chicago")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(call: dict[str, Any]) -> float:
    return (_at(call["closed_at"]) - _at(call["first_seen"])).total_seconds()


@pytest.fixture
def served(make_server: Any, replay: ReplaySource) -> Any:
    server = make_server()
    for _ in range(14):
        server.poll(replay)
    return server


def test_analytics_agree_with_the_calls_of_the_window(served: Any) -> None:
    with httpx.Client(base_url=served.url) as http:
        calls = http.get("/history", params={**DAY, "limit": 5000}).json()["calls"]
        body = http.get("/analytics", params={**DAY, "group_by": "division"}).json()
        by_nature = http.get("/analytics", params={**DAY, "group_by": "nature"}).json()
        by_priority = http.get("/analytics", params={**DAY, "group_by": "priority"}).json()
    closed = [c for c in calls if c["closed_at"]]
    assert len(calls) > 30 and closed, "the recorded sequence opens and closes calls"
    assert body["count"] == len(calls) == by_nature["count"] == by_priority["count"]
    assert body["open"] == len(calls) - len(closed) and body["closed"] == len(closed)
    assert body["median_s"] == round(statistics.median(_seconds(c) for c in closed), 1)

    divisions = Counter(c["division"] or "unknown" for c in calls)
    assert {g["key"]: g["count"] for g in body["groups"]} == divisions
    for group in body["groups"]:
        mine = sorted(_seconds(c) for c in closed if (c["division"] or "unknown") == group["key"])
        assert group["closed"] == len(mine)
        assert group["median_s"] == (round(statistics.median(mine), 1) if mine else None)
    natures = Counter(c["nature_of_call"] or "unknown" for c in calls)
    assert {g["key"]: g["count"] for g in by_nature["groups"]} == natures
    priorities = Counter(str(c["priority"]) if c["priority"] is not None else "unknown" for c in calls)
    assert {g["key"]: g["count"] for g in by_priority["groups"]} == priorities

    hours = Counter(_at(c["first_seen"]).astimezone(DALLAS).hour for c in calls)
    assert {h["hour"]: h["count"] for h in body["per_hour_of_day"] if h["count"]} == hours
    days = Counter(_at(c["first_seen"]).astimezone(DALLAS).date().isoformat() for c in calls)
    assert {d["day"]: d["count"] for d in body["per_day"] if d["count"]} == days
    assert [d["day"] for d in body["per_day"]] == ["2019-06-17", "2019-06-18"]  # Dallas dates
    beats = Counter(c["beat"] for c in calls if c["beat"])
    top = sorted(beats.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(b["beat"], b["count"]) for b in body["busiest_beats"]] == top
    assert body["time_zone"] == "America/Chicago" and body["group_by"] == "division"


def test_the_default_window_is_the_last_seven_days(served: Any) -> None:
    with httpx.Client(base_url=served.url) as http:
        body = http.get("/analytics").json()
        only_end = http.get("/analytics", params={"end": DAY["end"]}).json()
    start, end = _at(body["start"]), _at(body["end"])
    assert end - start == timedelta(days=7)
    assert abs((datetime.now(UTC) - end).total_seconds()) < 60
    assert body["count"] == 0 and len(body["per_day"]) in (7, 8)  # the recordings are from 2019
    assert only_end["start"] == "2019-06-12T00:00:00Z" and only_end["count"] > 30


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "2019-13-01T00:00:00Z"}, "end"),
        ({"start": "2019-06-19T00:00:00Z", "end": "2019-06-18T00:00:00Z"}, "after"),
        ({"start": "2019-01-01T00:00:00Z", "end": "2019-06-18T00:00:00Z"}, "31 days"),
        ({**DAY, "group_by": "status"}, "group_by"),
        ({**DAY, "group_by": "x" * 500}, "group_by"),
    ],
)
def test_bad_input_is_a_400_with_the_error_body(served: Any, params: dict[str, str], word: str) -> None:
    with httpx.Client(base_url=served.url) as http:
        bad = http.get("/analytics", params=params)
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"] == "bad_request" and word in bad.json()["message"]


def test_an_answer_is_reused_until_a_new_event_arrives(
    make_server: Any, replay: ReplaySource, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server()
    for _ in range(5):
        server.poll(replay)
    reads: list[tuple[str, str]] = []
    read = server.store.call_facts_between

    def counted(start: str, end: str) -> Any:
        reads.append((start, end))
        return read(start, end)

    monkeypatch.setattr(server.store, "call_facts_between", counted)
    with httpx.Client(base_url=server.url) as http:
        first = http.get("/analytics", params=DAY)
        again = http.get("/analytics", params=DAY)
        assert first.content == again.content and len(reads) == 1
        assert http.get("/analytics", params={**DAY, "group_by": "nature"}).status_code == 200
        assert len(reads) == 2  # another grouping is another answer
        before = server.view.last_event_id
        assert server.poll(replay).events  # the next snapshot changes calls
        assert asyncio.run(wait_for(lambda: server.view.last_event_id == server.store.last_event_id()))
        assert server.view.last_event_id > before
        after = http.get("/analytics", params=DAY)
        assert len(reads) == 3  # a new event: computed again
        assert after.json() != first.json()
