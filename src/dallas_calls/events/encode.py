"""Turn a ChangeSet into events. Pure: the store gives them ids when it appends them."""

from __future__ import annotations

import json
from typing import Any

from dallas_calls.model import ChangeSet, Event, Geo, NewEvent


def changeset_events(changes: ChangeSet, at: str) -> list[NewEvent]:
    """call.opened, then call.updated, then call.closed, each in incident order.

    A reopened call (closed earlier, back in the feed) is a ``call.updated`` with ``"reopened":
    true`` and ``closed_at: [old, null]`` among its changes, not a second ``call.opened``: it is the
    same incident, its record and first_seen continue, and every client that applies
    ``call.updated`` as "put this call on the map" is already right."""
    events: list[NewEvent] = []
    for call in changes.opened:
        events.append(NewEvent("call.opened", at, {"call": call.to_dict()}, call.incident_number))
    for update in changes.updated:
        delta = {name: [old, new] for name, (old, new) in update.changes.items()}
        data: dict[str, Any] = {"call": update.call.to_dict(), "changes": delta}
        if update.reopened:
            data["reopened"] = True
        events.append(NewEvent("call.updated", at, data, update.call.incident_number))
    for call in changes.closed:
        events.append(NewEvent("call.closed", at, {"call": call.to_dict()}, call.incident_number))
    return events


def location_event(location_key: str, geo: Geo, incident_numbers: list[str], at: str) -> NewEvent:
    data = {"location_key": location_key, "geo": geo.to_dict(), "incident_numbers": sorted(incident_numbers)}
    return NewEvent("location.resolved", at, data, location_key=location_key)


def canonical_json(value: Any) -> str:
    """The one JSON form of stored and streamed data: compact, keys sorted."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def data_json(data: dict[str, Any], call_json: str | None = None) -> str:
    """``canonical_json(data)``, reusing ``call_json`` (the canonical JSON of ``data["call"]``) when
    the caller has it already: a call's JSON is then made once for its row and its event. "call"
    sorts before the other keys of a call event's data ("changes", "reopened")."""
    if call_json is None or "call" not in data or any(key < "call" for key in data):
        return canonical_json(data)
    rest = canonical_json({key: value for key, value in data.items() if key != "call"})
    return '{"call":' + call_json + ("}" if rest == "{}" else "," + rest[1:])


def event_wire(event_id: int, event_type: str, at: str, data_text: str) -> str:
    """The wire form of an event from its parts, ``data_text`` being ``canonical_json`` of its data:
    the same text as ``canonical_json(event.to_dict())`` (keys at, data, id, type, in that order)."""
    return f'{{"at":{json.dumps(at)},"data":{data_text},"id":{event_id},"type":{json.dumps(event_type)}}}'


def event_json(event: Event) -> str:
    """The wire form of an event (SSE data line, change archive line, ingest body item): the one the
    store made when it wrote the event, else encoded now."""
    if event.wire is not None:
        return event.wire
    return canonical_json(event.to_dict())


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an Event from its wire form, recovering the incident / location it concerns."""
    payload = data["data"]
    call = payload.get("call") if isinstance(payload, dict) else None
    return Event(
        id=int(data["id"]),
        type=str(data["type"]),
        at=str(data["at"]),
        data=payload,
        incident_number=call.get("incident_number") if isinstance(call, dict) else None,
        location_key=payload.get("location_key") if isinstance(payload, dict) else None,
    )
