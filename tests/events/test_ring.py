"""The compact ring of recent events and the one-encoding-per-call wire form behind it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.events.encode import canonical_json, data_json, event_json, event_wire
from dallas_calls.events.filters import Area, EventFacts, StreamFilter
from dallas_calls.events.ring import EventRing, RingEvent, frame
from dallas_calls.model import Call, CallUpdate, ChangeSet, Event, Geo, PollRecord, Unit
from dallas_calls.storage.sqlite import SqliteStore

GEO = {"lat": 32.78, "lon": -96.8, "precision": "address", "source": "t", "in_beat": True}
CALL = {
    "incident_number": "26-0000001",
    "division": "Central",
    "priority": 2,
    "location": "Élm St \u2603",  # non-ASCII text: escaped the same way on every path
    "units": [{"unit_number": "A1", "status": "En Route"}],
    "geo": GEO,
}


@pytest.mark.parametrize(
    "data",
    [
        {"call": CALL},
        {"call": CALL, "changes": {"status": ["Dispatched", "En Route"]}},
        {"call": CALL, "changes": {"closed_at": ["2026-01-01T00:00:00Z", None]}, "reopened": True},
        {"location_key": "100 ELM ST", "geo": GEO, "incident_numbers": ["1", "2"]},
    ],
)
def test_the_wire_form_from_parts_is_the_canonical_json(data: dict[str, Any]) -> None:
    call_text = canonical_json(data["call"]) if "call" in data else None
    text = data_json(data, call_text)
    assert text == canonical_json(data)
    event = Event(41, "call.updated", "2026-01-01T00:00:00Z", data)
    assert event_wire(41, event.type, event.at, text) == canonical_json(event.to_dict())
    with_wire = Event(41, event.type, event.at, data, wire=event_wire(41, event.type, event.at, text))
    assert event_json(with_wire) == event_json(event) and with_wire == event


def test_the_store_encodes_each_call_once_and_every_reader_gets_the_same_text(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    base = Call.from_dict(
        {
            **CALL,
            "location_key": "ELM ST",
            "first_seen": "2026-01-01T00:00:00Z",
            "last_seen": "2026-01-01T00:00:00Z",
        }
    )
    moved = base.with_changes(status="At Scene", units=(Unit("A1", "At Scene"),), geo=Geo.from_dict(GEO))
    poll = PollRecord(started_at="2026-01-01T00:01:00Z", outcome="ok")
    opened = store.apply(ChangeSet(opened=(base,)), poll)
    updated = store.apply(ChangeSet(updated=(CallUpdate(moved, {"status": ("En Route", "At Scene")}),)), poll)
    written = [*opened, *updated]
    assert all(e.wire == canonical_json(e.to_dict()) for e in written)
    read = store.events_after(0)
    assert [e.wire for e in read] == [e.wire for e in written]
    assert [e.to_dict() for e in read] == [e.to_dict() for e in written]
    store.close()
    with sqlite3.connect(tmp_path / "s.sqlite3") as db:  # the row holds the event's call JSON
        (row,) = db.execute("SELECT data FROM calls").fetchone()
    assert row == canonical_json(moved.to_dict()) and f'"data":{{"call":{row},' in str(updated[0].wire)


def _event(event_id: int, size: int = 0, **call: Any) -> Event:
    data = {"call": {"incident_number": str(event_id), "pad": "x" * size, **call}}
    return Event(event_id, "call.opened", "2026-01-01T00:00:00Z", data, str(event_id))


def test_a_ring_entry_keeps_the_frame_and_gives_the_event_back() -> None:
    event = _event(3, division="Central", priority=1, geo=GEO)
    entry = RingEvent.of(event)
    assert entry.frame == frame(event) and entry.to_dict() == event.to_dict()
    assert entry.facts == EventFacts(True, "Central", 1, (32.78, -96.8), None)


def test_the_ring_is_bounded_by_count_and_by_bytes_but_keeps_its_minimum() -> None:
    ring = EventRing(max_events=5, max_bytes=10**9)
    for i in range(1, 9):
        ring.append(RingEvent.of(_event(i)))
    assert [e.id for e in ring.entries()] == [4, 5, 6, 7, 8] and ring.floor == 3
    assert [e.id for e in ring.after(5)] == [6, 7, 8] and [e.id for e in ring.after(0, 2)] == [4, 5]

    size = len(frame(_event(30, 1000)))  # ids 21-30 all frame to this size
    ring = EventRing(max_events=100, max_bytes=10 * size, min_events=3)
    for i in range(1, 31):
        ring.append(RingEvent.of(_event(i, 1000)))
    assert len(ring) == 10 and ring.bytes <= 10 * size and ring.floor == 20
    assert ring.bytes == sum(len(e.frame) for e in ring.entries())
    ring.append(RingEvent.of(_event(31, 100_000)))  # one huge event: the minimum still holds
    assert [e.id for e in ring.entries()] == [29, 30, 31] and ring.last_id() == 31
    ring.clear(floor=50)
    assert len(ring) == 0 and ring.last_id() == 50 and ring.after(0) == []


class _Known:
    def __init__(self, calls: dict[str, bool]) -> None:
        self.calls = calls

    def call_matches(self, incident_number: str, flt: StreamFilter) -> bool | None:
        return self.calls.get(incident_number)


def test_filters_judge_the_facts_kept_beside_the_frame() -> None:
    area = StreamFilter(area=Area(32.78, -96.8, 500.0))
    inside, outside = GEO, {**GEO, "lat": 33.5}
    moved_out = Event(
        1, "call.updated", "t", {"call": {**CALL, "geo": outside}, "changes": {"geo": [inside, outside]}}
    )
    far = Event(2, "call.opened", "t", {"call": {**CALL, "geo": outside}})
    located = Event(3, "location.resolved", "t", {"geo": inside, "incident_numbers": ["a", "b"]})
    known = _Known({"a": False})
    assert area.matches(EventFacts.of(moved_out), known)  # its old point was inside: it must go
    assert not area.matches(EventFacts.of(far), known)
    assert not area.matches(EventFacts.of(located), known)  # the only call it names is filtered out
    assert area.matches(EventFacts.of(located), _Known({}))  # unknown calls: the client decides
    central = StreamFilter.parse("central", "2")
    assert central.matches(EventFacts.of(far), known)
    assert not StreamFilter.parse("north", None).matches(EventFacts.of(far), known)
    assert RingEvent.of(located).to_dict()["data"]["incident_numbers"] == ["a", "b"]
