"""What a poll costs in DynamoDB write units, measured on DynamoDB Local (``ReturnConsumedCapacity``),
and that the cheaper ``last_seen`` bookkeeping still reads back what the one-machine runtime keeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.archive.store import LocalObjectStore
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore
from tests.aws.capacity import write_units
from tests.aws.conftest import AwsWorld
from tests.fakes.socrata import drop_half_of_incidents

pytestmark = pytest.mark.aws

Recorded = list[tuple[datetime, list[Any]]]


def test_an_unchanged_poll_writes_no_call_items(aws: AwsWorld, recorded: Recorded, tmp_path: Path) -> None:
    """``last_seen`` of every open call moves with one small item per poll, not one write per call
    and its two index copies (122 units for 38 open calls before; the review measured ~3.6 per call)."""
    store = aws.runtime().store
    pipeline = Pipeline(store, LocalObjectStore(tmp_path / "a"))  # type: ignore[arg-type]
    at, rows = recorded[0]
    pipeline.process(rows, at, "test", None)
    open_calls = len(store.open_calls())
    prefix = aws.names.calls.removesuffix("calls")
    with write_units(aws.ddb, prefix) as units:
        pipeline.process(rows, at + timedelta(minutes=1), "test", None)  # the same calls, seen again
    assert open_calls == 38
    assert units["calls"] == units["index:open"] == units["index:by_day"] == 0
    assert 0 < units["total"] <= 12  # the tracker's state (in a transaction) and the seen item
    assert {c.last_seen for c in store.open_calls().values()} == {"2019-06-18T05:18:00Z"}


def test_last_seen_reads_back_as_the_one_machine_runtime_keeps_it(
    aws: AwsWorld, recorded: Recorded, tmp_path: Path
) -> None:
    """Including a held poll: the calls it did not see keep their older ``last_seen``."""
    dynamo = aws.runtime().store
    sqlite = SqliteStore(tmp_path / "s.sqlite3")
    snapshots = [
        recorded[0],
        recorded[1],
        (recorded[2][0], drop_half_of_incidents(recorded[2][1])),
        recorded[3],
    ]
    held = []
    for store, name in ((dynamo, "d"), (sqlite, "s")):
        pipeline = Pipeline(store, LocalObjectStore(tmp_path / name))  # type: ignore[arg-type]
        outcomes = [pipeline.process(rows, at, "test", None).outcome for at, rows in snapshots[:3]]
        assert outcomes == ["ok", "ok", "held"]
        held.append(store.open_calls())
        pipeline.process(snapshots[3][1], snapshots[3][0], "test", None)
    # seen by the held poll, or not, or missed once before it
    assert len({c.last_seen for c in held[0].values()}) >= 2
    assert held[0] == held[1]
    assert dynamo.open_calls() == sqlite.open_calls()
    some = sorted(sqlite.open_calls())[0]
    assert dynamo.get_call(some) == sqlite.get_call(some)
