"""The view serving another store (a demo loop, live data replacing the demo): every connected
stream gets a reset, and an id from the old store is never resumed in the new one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dallas_calls.api.view import CurrentCallsView
from dallas_calls.archive.store import LocalObjectStore
from dallas_calls.events.bus import LocalBus
from dallas_calls.events.sse import client_stream
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore


def _fill(store: SqliteStore, rows: list[dict[str, Any]]) -> None:
    archive = LocalObjectStore(store.path.parent / f"{store.path.stem}-archive")
    Pipeline(store, archive).process(rows, datetime(2019, 6, 18, 5, 17, tzinfo=UTC), "test", None)


async def _next(stream: Any) -> str:
    return (await asyncio.wait_for(stream.__anext__(), timeout=2)).decode()


def test_a_store_switch_resets_every_stream(
    tmp_path: Path, first_snapshot: list[dict[str, Any]], second_snapshot: list[dict[str, Any]]
) -> None:
    async def run() -> None:
        old, new = SqliteStore(tmp_path / "old.db"), SqliteStore(tmp_path / "new.db")
        _fill(old, first_snapshot)
        bus = LocalBus()
        await bus.start()
        view = CurrentCallsView(old)
        view.load()
        view.attach(bus)
        old_store_id, old_last = view.store_id, view.last_event_id
        live = client_stream(view, old_last, store_id=old_store_id)
        assert "retry:" in await _next(live)
        waiting = asyncio.ensure_future(_next(live))
        await asyncio.sleep(0.05)
        assert not waiting.done()

        new.raise_event_ids_above(old_last + 1)
        _fill(new, second_snapshot)
        await view.sync()
        view.replace_store(new, "the live feed is back")
        text = await waiting
        assert "event: reset" in text and "the live feed is back" in text
        assert set(view.calls) == set(new.open_calls())

        # A client that still holds the old store's last id, with or without naming the store.
        for store_id in (old_store_id, None):
            resumed = client_stream(view, old_last, store_id=store_id)
            head = await _next(resumed)
            if "event: reset" not in head:
                head += await _next(resumed)
            assert "event: reset" in head and "call.opened" not in head
            await resumed.aclose()
        # A client of the new store resumes normally.
        fresh = client_stream(view, view.last_event_id, store_id=view.store_id)
        assert "reset" not in await _next(fresh)
        await fresh.aclose()
        await live.aclose()
        await view.detach()
        await bus.stop()

    asyncio.run(run())
