"""A replica's view can never drift from the store: a gap before an event is filled from the store's
log first, a bus that delivers nothing is made up by the periodic check, a replayed batch is
harmless, and a start between the log and the calls table still ends in the log's state."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dallas_calls.api.follow import InOrder, read_range
from dallas_calls.api.view import CurrentCallsView
from dallas_calls.archive.store import LocalObjectStore
from dallas_calls.events.bus import LocalBus
from dallas_calls.events.sse import client_stream
from dallas_calls.model import Call, Event
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore
from tests.fakes.events import open_after

T0 = datetime(2019, 6, 18, 5, 17, tzinfo=UTC)


def _store_with_events(tmp_path: Path, snapshots: list[list[dict[str, Any]]]) -> SqliteStore:
    store = SqliteStore(tmp_path / "s.sqlite3")
    pipeline = Pipeline(store, LocalObjectStore(tmp_path / "archive"), close_after=1)
    for i, rows in enumerate(snapshots):
        pipeline.process(rows, T0 + timedelta(minutes=52 * i), "test", None)
    return store


def test_an_event_after_a_gap_waits_for_the_missing_ids_from_the_store(
    tmp_path: Path, first_snapshot: list[dict[str, Any]], second_snapshot: list[dict[str, Any]]
) -> None:
    store = _store_with_events(tmp_path, [first_snapshot, second_snapshot])
    log = store.events_after(0, 10_000)
    applied: list[int] = []
    order = InOrder(lambda: applied[-1] if applied else 0, lambda e: applied.append(e.id))
    order.offer(log[0], store)
    order.offer(log[-1], store)  # the bus lost everything in between
    assert applied == [e.id for e in log], "every id once, in order"
    order.offer(log[3], store)  # a redelivered one is harmless
    assert applied == [e.id for e in log]


def test_an_unreadable_store_holds_events_until_it_answers(
    tmp_path: Path, first_snapshot: list[dict[str, Any]]
) -> None:
    store = _store_with_events(tmp_path, [first_snapshot])
    log = store.events_after(0, 10_000)

    class Down:
        def events_after(self, after_id: int, limit: int = 1000) -> list[Event]:
            raise ConnectionError("throttled")

        def last_event_id(self) -> int:
            raise ConnectionError("throttled")

    applied: list[int] = []
    order = InOrder(lambda: applied[-1] if applied else 0, lambda e: applied.append(e.id))
    order.offer(log[0], Down())
    order.offer(log[5], Down())
    assert applied == [log[0].id] and order.held and order.fill_failed
    order.drain(store)
    assert applied == [e.id for e in log[:6]] and not order.held
    assert read_range(store, log[1].id, log[3].id) == log[2:4]


async def test_a_view_whose_bus_brings_nothing_catches_up_and_streams_every_id(
    tmp_path: Path, first_snapshot: list[dict[str, Any]], second_snapshot: list[dict[str, Any]]
) -> None:
    store = _store_with_events(tmp_path, [first_snapshot])
    bus = LocalBus()
    await bus.start()
    view = CurrentCallsView(store)
    view.load()
    view.attach(bus)
    start = view.last_event_id
    stream = client_stream(view, start)
    Pipeline(store, LocalObjectStore(tmp_path / "archive"), close_after=1).process(
        second_snapshot, T0 + timedelta(minutes=52), "test", None
    )  # committed; never published
    assert view.last_event_id == start
    caught = await view.catch_up()
    log = store.events_after(0, 10_000)
    assert caught == log[-1].id - start and view.last_event_id == log[-1].id
    assert set(view.calls) == open_after(log) == set(store.open_calls())
    received = await asyncio.wait_for(_read_until(stream, lambda d: log[-1].id in received_ids(d)), 5)
    ids = [int(line[4:]) for line in received.decode().splitlines() if line.startswith("id: ")]
    assert ids == list(range(start + 1, log[-1].id + 1)), "each id once, in order"
    assert view.lag.report()["store_lag_events"] == 0
    await stream.aclose()
    await view.detach()
    await bus.stop()


def received_ids(data: bytes) -> set[int]:
    return {int(line[4:]) for line in data.decode().splitlines() if line.startswith("id: ")}


async def _read_until(stream: Any, done: Any) -> bytes:
    data = b""
    async for chunk in stream:
        data += chunk
        if done(data):
            return data
    return data


def test_a_start_between_the_log_and_the_calls_table_ends_in_the_logs_state(
    tmp_path: Path, first_snapshot: list[dict[str, Any]], second_snapshot: list[dict[str, Any]]
) -> None:
    store = _store_with_events(tmp_path, [first_snapshot, second_snapshot])
    stale = SqliteStore(tmp_path / "stale.sqlite3")
    Pipeline(stale, LocalObjectStore(tmp_path / "a2"), close_after=1).process(first_snapshot, T0, "t", None)
    stale_calls = stale.open_calls()

    class Lagging:
        """The log is committed, the calls table still shows the state before the last poll."""

        def open_calls(self) -> dict[str, Call]:
            return stale_calls

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

    view = CurrentCallsView(Lagging())  # type: ignore[arg-type]
    view.load()
    log = store.events_after(0, 10_000)
    assert set(view.calls) == open_after(log) == set(store.open_calls())
    assert view.last_event_id == log[-1].id


def test_a_replica_logs_its_lag_for_the_deployments_alarm(caplog: Any) -> None:
    """While behind, every check logs ``replica_lag_s`` (a CloudWatch metric filter reads it from
    the JSON logs); in step, once a minute."""
    import logging
    import time as clock

    from dallas_calls.api.follow import Lag
    from dallas_calls.logs import JsonFormatter

    lag = Lag()
    logger = logging.getLogger("test.lag")
    with caplog.at_level(logging.INFO, logger="test.lag"):
        lag.record(10, 10)
        lag.log_now(logger)
        lag.log_now(logger)  # in step: not again within the minute
        lag.record(25, 10)
        lag.behind_since = clock.monotonic() - 12
        lag.log_now(logger)
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    assert len(lines) == 2 and lines[0]["replica_lag_s"] == 0.0
    assert lines[1]["replica_lag_s"] >= 12 and lines[1]["store_lag_events"] == 15
    assert lag.report()["in_step"] is False
