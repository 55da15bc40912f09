"""`serve` as a new user runs it: the demo labelled as one, its loops without artefacts, a fallback
that heals when the feed comes back, and instances that never share a data directory. Each test
runs real `dallas-calls serve` processes on loopback (and a fake Socrata feed where one is needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dallas_calls.archive.store import decode_snapshot
from dallas_calls.feed.source import list_snapshots
from dallas_calls.runtime import demo_snapshots
from tests.conftest import LiveServer, free_port
from tests.fakes.data import load_feed_snapshot
from tests.fakes.socrata import ServerError
from tests.fakes.waiting import wait_until


def _sse_events(url: str, seconds: float, until: Any = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, event, data) of every event a real SSE connection receives in ``seconds`` (or until
    ``until(events)`` holds)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    current: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    try:
        with httpx.stream("GET", url, timeout=httpx.Timeout(seconds + 5, read=1.0)) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith(("id:", "event:", "data:")):
                    name, _, value = line.partition(":")
                    current[name] = value.strip()
                elif line == "" and "event" in current:
                    out.append(
                        (current.get("id", ""), current["event"], json.loads(current.get("data", "{}")))
                    )
                    current = {}
                    if until is not None and until(out):
                        break
                if time.monotonic() > deadline:
                    break
    except httpx.ReadTimeout:
        pass
    return out


def _demo_incidents() -> set[str]:
    numbers: set[str] = set()
    for _, path in list_snapshots(demo_snapshots()):
        numbers.update(str(row["incident_number"]) for row in decode_snapshot(path.read_bytes()))
    return numbers


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[LiveServer]:
    # At 3000x the 52-minute recording plays in about a second: several loops in a few seconds.
    server = LiveServer(tmp_path / "data", [[]], mode_args=("--demo", "--speed", "3000"))
    server.start()
    yield server
    server.close()


def test_the_demo_says_it_is_a_demo_everywhere(demo_server: LiveServer) -> None:
    url = demo_server.url
    config = httpx.get(url + "/config.json").json()
    ready = httpx.get(url + "/readyz").json()
    current = httpx.get(url + "/current-calls/").json()
    for body in (config, ready, current):
        assert body["mode"] == "demo"
        assert body["recording"]["captured_from"] == "2019-06-18T05:17:00Z"
        assert body["recording"]["captured_to"] == "2019-06-18T06:09:00Z"
        assert body["recording"]["speed"] == 3000
        assert body["recording"]["times_shifted"] is True
    assert ready["role"] == "poller"
    assert current["store_id"]


def test_demo_loops_never_close_and_reopen_a_call(demo_server: LiveServer) -> None:
    def four_resets(seen: list[tuple[str, str, dict[str, Any]]]) -> bool:
        return sum(kind == "reset" for _, kind, _ in seen) >= 4

    events = _sse_events(demo_server.url + "/get-events/?last_event_id=0", seconds=40.0, until=four_resets)
    runs: list[list[tuple[str, str, dict[str, Any]]]] = [[]]
    for event in events:
        if event[1] == "reset":
            runs.append([])
        else:
            runs[-1].append(event)
    assert len(runs) >= 4, f"expected three loops or more, saw {len(runs) - 1} resets"
    ids = [int(e[0]) for e in events if e[0]]
    assert ids == sorted(ids) and len(ids) == len(set(ids)), "ids grow across runs, never reused"
    for run in runs[1:-1]:  # whole runs (the first began before we connected, the last is cut)
        closed: set[str] = set()
        opened: set[str] = set()
        for _, kind, data in run:
            number = (data.get("data", {}).get("call") or {}).get("incident_number")
            if kind == "call.opened":
                assert number not in closed, f"{number} closed and then re-opened within one run"
                assert number not in opened, f"{number} opened twice within one run"
                opened.add(number)
            elif kind == "call.closed":
                closed.add(number)
        assert opened, "each run opens the recording's calls afresh"
    stats = httpx.get(demo_server.url + "/stats").json()
    counted = sum(hour["count"] for hour in stats["opened_per_hour"])
    assert 0 < counted <= len(_demo_incidents()), "calls per hour never exceed the recording's calls"


def test_two_demos_in_one_checkout_keep_to_their_own_folders(demo_server: LiveServer, tmp_path: Path) -> None:
    second = LiveServer(demo_server.data_dir, [[]], mode_args=("--demo", "--speed", "3000"))
    second.start()
    try:
        slots = sorted(p.name for p in (demo_server.data_dir / "demo").iterdir())
        assert slots == ["1", "2"]
        for _ in range(20):  # through several loops: a new run is never shown empty
            for server in (demo_server, second):
                body = httpx.get(server.url + "/current-calls/").json()
                assert body["mode"] == "demo" and body["current_active_calls"]
            time.sleep(0.05)
        assert demo_server.proc.poll() is None and second.proc.poll() is None
    finally:
        second.close()


def _serve(data_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dallas_calls.cli", "serve", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "DALLAS_CALLS_FEED_MAX_ATTEMPTS": "1", "DALLAS_CALLS_FEED_TIMEOUT_S": "2"},
    )


def test_a_second_live_server_on_the_same_data_dir_stops_with_a_clear_error(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data", [load_feed_snapshot("2025-02-17T16-00-00Z")])
    server.start()
    try:
        proc = _serve(
            server.data_dir, "--port", str(free_port()), "--feed-url", server.feed.url, "--no-demo-fallback"
        )
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 2
        message = err.decode()
        assert "is in use by dallas-calls serve (pid" in message and "--data-dir" in message
        assert "Traceback" not in message
    finally:
        server.close()


def test_a_fallback_demo_heals_into_live_data_when_the_feed_answers(tmp_path: Path) -> None:
    live_rows = load_feed_snapshot("2025-02-17T16-00-00Z")
    live_numbers = {str(r["incident_number"]) for r in live_rows}
    assert not live_numbers & _demo_incidents()
    server = LiveServer(tmp_path / "data", [live_rows], poll_interval=0.3, mode_args=())
    server.feed.inject(*[ServerError(503)] * 10_000)  # down until the test says otherwise
    server.start()
    try:
        before = httpx.get(server.url + "/current-calls/").json()
        assert before["mode"] == "demo" and before["fallback_reason"]
        assert {c["incident_number"] for c in before["current_active_calls"]} <= _demo_incidents()
        # The poller logs it once it starts, which may be after /healthz answers (and the log
        # reaches the file through a copying thread): wait for the line, then count it.
        wait_until(lambda: "probing it every" in server.log_path.read_text(), timeout=15)
        log = server.log_path.read_text()
        assert log.count("probing it every") == 1
        time.sleep(1.5)  # several failed probes: no log line each
        assert "feed probe failed" not in server.log_path.read_text()
        server.feed.clear_faults()
        after = wait_until(
            lambda: (b := httpx.get(server.url + "/current-calls/").json())["mode"] == "live" and b,
            timeout=15,
        )
        shown = {c["incident_number"] for c in after["current_active_calls"]}
        assert shown == live_numbers, "only live calls once live: no demo call left"
        assert after["fallback_reason"] is None and after["store_id"] != before["store_id"]
        assert after["last_event_id"] > before["last_event_id"], "live ids start above the demo's"
        # Ready once live polls keep coming (the staleness bound is 3 intervals: 0.9 s here).
        ready = wait_until(lambda: (r := httpx.get(server.url + "/readyz").json())["ready"] and r, timeout=10)
        assert ready["mode"] == "live"
        # A client still holding a demo id (and the demo's store id) is told to reset.
        stale = _sse_events(
            server.url + f"/get-events/?last_event_id={before['last_event_id']}&store={before['store_id']}",
            seconds=1.0,
        )
        assert stale and stale[0][1] == "reset"
        assert "switched from the demo to live data" in server.log_path.read_text()
        assert not (server.data_dir / "demo" / "1" / "run-1").exists(), "the demo's files are gone"
    finally:
        server.close()
