"""A poller that never dies silently: faults in any stage become failed polls and the schedule goes
on; a store that cannot write (a full disk) recovers by itself; `/healthz` answers 503 when the
poller is gone or stalled, so a supervisor can restart the process."""

from __future__ import annotations

import asyncio
import json
import re
import resource
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dallas_calls.api.app import create_app
from dallas_calls.config import Settings
from dallas_calls.events.bus import LocalBus
from dallas_calls.feed.source import Snapshot
from dallas_calls.liveness import Liveness
from dallas_calls.runtime import Scheduler, build_components
from dallas_calls.storage.sqlite import SqliteStore
from tests.conftest import LiveServer
from tests.fakes.data import load_feed_snapshot
from tests.fakes.waiting import wait_until


class _Rows:
    """A snapshot source that serves the rows it is given (a different list each poll)."""

    name = "test"

    def __init__(self, snapshots: list[list[Any]]) -> None:
        self.snapshots = snapshots

    async def next_snapshot(self) -> Snapshot:
        rows = self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]
        return Snapshot(rows, datetime.now(UTC), self.name, json.dumps(rows).encode())

    async def aclose(self) -> None:
        return None


async def test_a_fault_in_any_stage_is_a_failed_poll_and_the_schedule_goes_on(
    tmp_path: Path, first_snapshot: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = build_components(Settings(data_dir=tmp_path, geocode=False))
    liveness = Liveness(attempt_budget_s=1.0)
    scheduler = Scheduler(parts.pipeline, _Rows([first_snapshot]), 0.01, liveness=liveness)

    def broken_apply(*args: Any, **kwargs: Any) -> Any:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(parts.pipeline.store, "apply", broken_apply)  # injected at the store boundary
    failed = await scheduler.poll_once()
    assert failed.outcome == "failed" and failed.reason
    assert failed.reason.startswith("process: OverflowError: date value out of range")
    assert parts.store.recent_polls(1)[0].outcome == "failed"

    def broken_prune(before: str) -> int:
        raise RuntimeError("database disk image is malformed")

    monkeypatch.undo()
    monkeypatch.setattr(parts.pipeline.store, "prune_events", broken_prune)
    ok = await scheduler.poll_once()  # pruning fails after a good poll: the poll still counts
    assert ok.outcome == "ok" and ok.opened == 38
    assert scheduler.failures == 0
    parts.close()


async def test_failing_polls_back_off_to_a_cap_and_recover_at_once(tmp_path: Path) -> None:
    parts = build_components(Settings(data_dir=tmp_path, geocode=False))

    class Down:
        name = "down"

        async def next_snapshot(self) -> Snapshot:
            raise ConnectionError("feed unreachable")

        async def aclose(self) -> None:
            return None

    scheduler = Scheduler(parts.pipeline, Down(), 10.0)
    delays = []
    for _ in range(6):
        await scheduler.poll_once()
        delays.append(scheduler.next_delay())
    assert delays == [10.0, 20.0, 40.0, 50.0, 50.0, 50.0]
    parts.close()


def _app_with(background: Any, liveness: Liveness, tmp_path: Path) -> Any:
    store = SqliteStore(tmp_path / "s.sqlite3")
    return create_app(
        Settings(data_dir=tmp_path), store, LocalBus(), background=background, liveness=liveness
    )


async def _healthz(app: Any, wait_s: float = 0.0) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        await asyncio.sleep(wait_s)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.get("/healthz")


async def test_healthz_is_503_when_the_poller_task_is_gone(tmp_path: Path) -> None:
    async def crashes() -> None:
        raise RuntimeError("boom")

    response = await _healthz(_app_with(crashes, Liveness(attempt_budget_s=60), tmp_path), wait_s=0.05)
    assert response.status_code == 503
    assert response.json()["poller"] == "stopped" and "boom" in response.json()["reason"]


async def test_healthz_is_503_when_no_poll_attempt_finishes(tmp_path: Path) -> None:
    liveness = Liveness(attempt_budget_s=0.1)
    liveness.next_delay_s = 0.05

    async def hangs() -> None:
        await asyncio.sleep(3600)

    response = await _healthz(_app_with(hangs, liveness, tmp_path), wait_s=0.4)
    assert response.status_code == 503
    assert response.json()["poller"] == "stalled"


async def test_healthz_is_200_while_polls_finish_and_after_a_replay_ends(tmp_path: Path) -> None:
    liveness = Liveness(attempt_budget_s=0.1)

    async def beats() -> None:
        while True:
            liveness.beat(0.05)
            await asyncio.sleep(0.02)

    response = await _healthz(_app_with(beats, liveness, tmp_path), wait_s=0.3)
    assert response.status_code == 200 and response.json()["poll_attempts"] > 3

    done = Liveness(attempt_budget_s=0.1)

    async def replay() -> None:
        done.finish("the replay played to its end")

    response = await _healthz(_app_with(replay, done, tmp_path / "r"), wait_s=0.3)
    assert response.status_code == 200 and response.json()["poller"] == "finished"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    snapshots = [load_feed_snapshot("2019-06-18T05-17-00Z"), load_feed_snapshot("2019-06-18T06-09-00Z")]
    server = LiveServer(tmp_path / "data", snapshots, poll_interval=0.3)
    server.start()
    yield server
    server.close()


def test_a_full_disk_fails_polls_without_stopping_them_and_heals_when_space_returns(live: LiveServer) -> None:
    """The disk fills up: the server's file-size limit (RLIMIT_FSIZE, a real limit of the file
    system calls: writes past it fail with EFBIG) is lowered under it, then raised again."""
    url = live.url
    # A poll commits its opens, then locates their calls (location.resolved events): wait for the
    # next poll, which starts only after that, so the first snapshot's events are all in.
    wait_until(lambda: len(re.findall(r"poll \w+: \d+ rows", live.log_path.read_text())) >= 2, timeout=15)
    first = httpx.get(url + "/current-calls/").json()
    assert first["current_active_calls"]
    assert live.proc is not None
    soft, hard = resource.prlimit(live.proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(live.proc.pid, resource.RLIMIT_FSIZE, (1024, hard))
    try:
        live.advance()  # the next snapshot cannot be archived or applied
        wait_until(lambda: "cannot record polls in the store" in live.log_path.read_text(), timeout=15)
        time.sleep(1.5)  # several more failed polls
        assert httpx.get(url + "/healthz").status_code == 200, "failing polls are still polls"
        assert httpx.get(url + "/readyz").status_code == 503, "no good poll: not ready"
        log = live.log_path.read_text()
        assert log.count("cannot record polls in the store") == 1, "one line per change of state"
        assert httpx.get(url + "/current-calls/").json()["last_event_id"] == first["last_event_id"]
    finally:
        resource.prlimit(live.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
    second = {str(r["incident_number"]) for r in load_feed_snapshot("2019-06-18T06-09-00Z")}
    healed = wait_until(
        lambda: (
            {c["incident_number"] for c in httpx.get(url + "/current-calls/").json()["current_active_calls"]}
            == second
        ),
        timeout=20,
    )
    assert healed
    wait_until(lambda: httpx.get(url + "/readyz").status_code == 200, timeout=10)
    assert "the store records polls again" in live.log_path.read_text()
