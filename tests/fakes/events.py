"""Folding an event log, for tests that compare a view or a store with the log it came from."""

from __future__ import annotations

from collections.abc import Iterable

from dallas_calls.model import Event


def open_after(events: Iterable[Event], last_id: int | None = None) -> set[str]:
    """The incidents open once the events (up to ``last_id``, if given) are applied in order."""
    open_calls: set[str] = set()
    for event in events:
        if (last_id is not None and event.id > last_id) or event.incident_number is None:
            continue
        if event.type in ("call.opened", "call.updated"):
            open_calls.add(event.incident_number)
        elif event.type == "call.closed":
            open_calls.discard(event.incident_number)
    return open_calls
