"""`dallas-calls serve` killed with SIGKILL between polls and started again: the event log continues
with no duplicate and no gap, no call is opened twice, and a client resuming by id misses nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx

from dallas_calls.storage.sqlite import SqliteStore
from tests.conftest import LiveServer, archive_verify
from tests.fakes.events import open_after


def _wait_for_event_id(server: LiveServer, minimum: int, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(server.url + "/current-calls/", timeout=5).json()
        if body["last_event_id"] >= minimum:
            return body
        time.sleep(0.1)
    raise AssertionError(f"no event id >= {minimum} within {timeout}s")


def _read_events(server: LiveServer, after: int, until: int) -> list[dict[str, Any]]:
    """Stream /get-events/ from ``after`` until event ``until`` arrives."""
    import json

    events: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{server.url}/get-events/?last_event_id={after}", timeout=20) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if "id" in event:
                    events.append(event)
                    if event["id"] >= until:
                        break
    return events


def test_sigkill_between_polls_then_restart_continues_the_log(live_server: LiveServer) -> None:
    first = _wait_for_event_id(live_server, 1)
    seen_before = first["last_event_id"]
    live_server.kill()

    live_server.advance()
    live_server.start()
    after = _wait_for_event_id(live_server, seen_before + 1)
    resumed = _read_events(live_server, seen_before, after["last_event_id"])
    assert [e["id"] for e in resumed] == list(range(seen_before + 1, after["last_event_id"] + 1))
    live_server.stop()

    store = SqliteStore(live_server.data_dir / "dallas-calls.sqlite3")
    events = store.events_after(0, limit=10_000)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    opened = [e.incident_number for e in events if e.type == "call.opened"]
    assert len(opened) == len(set(opened))  # nobody opened twice across the crash
    # the view at id N is the log's state at N (the server may have polled again before it stopped)
    assert open_after(events, after["last_event_id"]) == {
        c["incident_number"] for c in after["current_active_calls"]
    }
    assert set(store.open_calls()) == open_after(events, events[-1].id)


def test_kill_9_at_random_moments_leaves_a_complete_log_and_change_archive(live_server: LiveServer) -> None:
    """Ten SIGKILLs at random moments (some right after a fetch, some mid-poll): after each restart
    the log continues with no gap or duplicate, and the change archive holds every committed event
    (the restart writes what the crash kept from it)."""
    import random

    rng = random.Random(20261201)
    for _ in range(10):
        _wait_for_event_id(live_server, 1)
        live_server.advance()
        before = live_server.feed.polls
        deadline = time.monotonic() + 5
        while rng.random() < 0.5 and live_server.feed.polls == before and time.monotonic() < deadline:
            time.sleep(0.005)  # half the rounds: kill right after the feed answered
        time.sleep(rng.uniform(0, 0.25))
        live_server.kill()
        live_server.start()
    time.sleep(1.0)
    live_server.stop()

    store = SqliteStore(live_server.data_dir / "dallas-calls.sqlite3")
    events = store.events_after(0, limit=100_000)
    assert [e.id for e in events] == list(range(1, len(events) + 1)), "no gap, no duplicate"
    opened = [e.incident_number for e in events if e.type == "call.opened"]
    assert len(opened) == len(set(opened))
    store.close()
    code, report = archive_verify(live_server.data_dir)
    assert code == 0 and report["ok"], report
    assert report["missing"] == 0 and report["checked_events"] == len(events)
