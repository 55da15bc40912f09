"""The change archive equals the event log: committed events a crash kept from `changes/` are found,
reported (exit 1) and written by `archive verify --repair` and by every start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.archive.keys import raw_key
from dallas_calls.archive.store import decode_changes, encode_snapshot
from dallas_calls.archive.verify import backfill_changes, verify_changes
from dallas_calls.config import Settings
from dallas_calls.runtime import Components, build_components
from tests.conftest import archive_verify

T0 = datetime(2019, 6, 18, 5, 17, tzinfo=UTC)


@pytest.fixture
def crashed(
    tmp_path: Path, first_snapshot: list[dict[str, Any]], second_snapshot: list[dict[str, Any]]
) -> Components:
    """Two polls whose events were committed while the change archive could not be written (what a
    kill -9 between the commit and the write leaves), then a raw snapshot that was never processed."""
    parts = build_components(Settings(data_dir=tmp_path, geocode=False))
    parts.pipeline.process(first_snapshot, T0, "test", raw_key(T0))
    original_put = parts.archive.put

    def no_changes(key: str, body: bytes) -> None:
        if key.startswith("changes/"):
            raise OSError(28, "No space left on device")
        original_put(key, body)

    parts.archive.put = no_changes  # type: ignore[method-assign]
    parts.pipeline.process(second_snapshot, T0 + timedelta(minutes=52), "test", None)
    parts.archive.put = original_put  # type: ignore[method-assign]
    parts.archive.put(raw_key(T0 + timedelta(hours=1)), encode_snapshot(second_snapshot))
    return parts


def test_verify_finds_the_missing_events_and_repair_writes_them(crashed: Components) -> None:
    store, archive = crashed.pipeline.store, crashed.archive
    missing_ids = [e.id for e in store.events_after(38, 10_000)]
    assert missing_ids
    report = verify_changes(store, archive)
    assert not report.ok and report.missing == missing_ids
    assert report.unprocessed_raw == [raw_key(T0 + timedelta(hours=1))]
    crashed.close()

    data_dir = crashed.settings.data_dir
    code, body = archive_verify(data_dir)
    assert code == 1 and body["missing"] == len(missing_ids)
    code, body = archive_verify(data_dir, "--repair")
    assert code == 0 and body["repaired"] == len(missing_ids)
    code, body = archive_verify(data_dir)
    assert code == 0 and body["ok"] and body["missing"] == 0
    records = [p for p in (data_dir / "archive" / "changes").rglob("*.jsonl.gz")]
    ids = sorted(int(e["id"]) for p in records for e in decode_changes(p.read_bytes()))
    assert ids == list(range(1, missing_ids[-1] + 1)), "every committed event exactly once"


def test_a_start_backfills_only_what_is_new(crashed: Components) -> None:
    store, archive = crashed.pipeline.store, crashed.archive
    first = backfill_changes(store, archive)
    assert first.ok and first.repaired == len(first.missing) > 0
    again = backfill_changes(store, archive)
    assert again.checked_events == 0, "the next start reads nothing it already checked"
    crashed.close()


def test_an_unreadable_change_record_cannot_be_repaired(crashed: Components) -> None:
    backfill_changes(crashed.pipeline.store, crashed.archive)
    record = next(iter(crashed.archive.list("changes/")))
    crashed.archive.put(record, b"not gzip")
    report = verify_changes(crashed.pipeline.store, crashed.archive, repair=True)
    assert not report.ok and report.unreadable == [record]
    crashed.close()
