"""A time window's events, for the dashboard's replay (``GET /history/events``). Pure: the route
reads the store and hands the pieces here.

The event log is pruned after the retention period (``DALLAS_CALLS_EVENT_RETENTION_DAYS``), the
calls are kept. So the part of a window older than the oldest kept event cannot be replayed from
the log; it is rebuilt from the call records instead: a ``call.opened`` at each call's
``first_seen`` and a ``call.closed`` at its ``closed_at``, marked ``reconstructed`` (with no id),
carrying the call as it stands now. What happened in between (status, units, location) is not
kept, and the answer says so rather than pretend: ``source`` is ``log``, ``reconstructed`` or
``mixed``, ``reconstructed_until`` names where the log takes over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dallas_calls.model import Call, Event

Source = Literal["log", "reconstructed", "mixed"]

RECONSTRUCTED_NOTE = "reconstructed from call records: field updates not kept"


def replay_cut(start: str, end: str, kept_from: str | None, pruned: bool) -> str:
    """Where the log takes over in ``[start, end)``: the window start when nothing was ever pruned;
    else the oldest kept event's time clamped to the window, or the window's end when every event
    was pruned."""
    if not pruned:
        return start
    if kept_from is None:
        return end
    return min(max(kept_from, start), end)


def was_pruned(first_id: int | None, last_id: int, skipped: int = 0) -> bool:
    """Whether events were dropped from the log: ids start at 1 and only ever grow, so a first kept
    id above 1 (beyond the ids ``skipped`` on purpose) or no event left after some were given."""
    if first_id is None:
        return last_id > 0
    return first_id - 1 > skipped


def reconstructed_events(calls: Iterable[Call], start: str, cut: str) -> list[dict[str, Any]]:
    """Open and close events in ``[start, cut)`` made from call records, in time order (an open
    before a close at the same time, then by incident number)."""
    made: list[tuple[str, int, str, dict[str, Any]]] = []
    seen: set[str] = set()
    for call in calls:
        if call.incident_number in seen:
            continue
        seen.add(call.incident_number)
        body = call.to_dict()
        if start <= call.first_seen < cut:
            made.append(
                (call.first_seen, 0, call.incident_number, _event("call.opened", call.first_seen, body))
            )
        if call.closed_at is not None and start <= call.closed_at < cut:
            made.append(
                (call.closed_at, 1, call.incident_number, _event("call.closed", call.closed_at, body))
            )
    made.sort(key=lambda item: item[:3])
    return [event for *_, event in made]


def _event(kind: str, at: str, call: dict[str, Any]) -> dict[str, Any]:
    return {"id": None, "type": kind, "at": at, "data": {"call": call}, "reconstructed": True}


def logged_event(event: Event) -> dict[str, Any]:
    return {**event.to_dict(), "reconstructed": False}


@dataclass(frozen=True)
class WindowEvents:
    """The body of ``/history/events`` before it is JSON."""

    start: str
    end: str
    initial: Sequence[Call]
    initial_truncated: bool
    events: list[dict[str, Any]]
    truncated: bool
    source: Source
    reconstructed_until: str | None
    kept_from: str | None
    note: str | None
    window_calls: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "initial": [c.to_dict() for c in self.initial],
            "initial_truncated": self.initial_truncated,
            "count": len(self.events),
            "truncated": self.truncated,
            "events": self.events,
            "source": self.source,
            "reconstructed_until": self.reconstructed_until,
            "kept_from": self.kept_from,
            "note": self.note,
            "window_calls": self.window_calls,
        }


def window_events(
    start: str,
    end: str,
    cut: str,
    initial: Sequence[Call],
    rebuilt_from: Sequence[Call],
    logged: Sequence[Event],
    limit: int,
    kept_from: str | None,
    window_calls: int,
) -> WindowEvents:
    """Assemble the answer: ``initial`` (calls open at ``start``, ``limit + 1`` read to tell a cut),
    events rebuilt from ``rebuilt_from`` (calls first seen in ``[start, cut)``) and ``initial`` for
    ``[start, cut)``, then the ``logged`` events of ``[cut, end)`` (up to ``limit + 1`` read), the
    whole capped at ``limit`` events."""
    rebuilt = reconstructed_events([*initial[:limit], *rebuilt_from], start, cut) if cut > start else []
    events = [*rebuilt, *(logged_event(e) for e in logged)]
    source: Source = "log" if cut <= start else "reconstructed" if cut >= end else "mixed"
    note = {"log": None, "mixed": f"{RECONSTRUCTED_NOTE} before {cut}", "reconstructed": RECONSTRUCTED_NOTE}[
        source
    ]
    return WindowEvents(
        start=start,
        end=end,
        initial=initial[:limit],
        initial_truncated=len(initial) > limit,
        events=events[:limit],
        truncated=len(events) > limit,
        source=source,
        reconstructed_until=cut if source != "log" else None,
        kept_from=kept_from,
        note=note,
        window_calls=window_calls,
    )
