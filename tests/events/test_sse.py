"""SSE framing and the server-side filters."""

from __future__ import annotations

import json

import pytest

from dallas_calls.events.filters import StreamFilter
from dallas_calls.events.sse import control_frame, frame, retry_frame
from dallas_calls.model import Event


def test_frame_carries_id_type_and_the_event_json() -> None:
    event = Event(7, "call.closed", "2019-06-18T05:17:00Z", {"call": {"incident_number": "1"}})
    lines = frame(event).decode().split("\n")
    assert lines[0] == "id: 7" and lines[1] == "event: call.closed"
    assert json.loads(lines[2].removeprefix("data: ")) == event.to_dict()
    assert frame(event).endswith(b"\n\n")
    assert retry_frame(2500) == b"retry: 2500\n\n"
    assert control_frame("reset", {"last_event_id": 3}).startswith(b"event: reset\n")


def test_filters_parse_and_match() -> None:
    flt = StreamFilter.parse("central, NorthEast", "1,unknown")
    assert flt.divisions == frozenset({"CENTRAL", "NORTHEAST"})
    assert flt.priorities == frozenset({1, None})
    assert flt.matches_call("Central", 1) and flt.matches_call("NORTHEAST", None)
    assert not flt.matches_call("CENTRAL", 2) and not flt.matches_call(None, 1)
    assert StreamFilter.parse(None, None).empty and StreamFilter.parse("", "").empty
    with pytest.raises(ValueError, match="priority"):
        StreamFilter.parse(None, "high")
