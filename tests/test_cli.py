"""The command line against the fake Socrata server: each poll is its own process, so every poll
boundary is also a process restart. Faults must never close a call falsely or lose an event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.archive.store import decode_snapshot
from dallas_calls.feed.source import list_snapshots
from dallas_calls.storage.sqlite import SqliteStore
from tests.fakes.socrata import DropHalf, EmptySnapshot, FakeSocrata, ServerError, TruncatedJson


def recorded(folder: Path) -> list[list[dict[str, Any]]]:
    return [decode_snapshot(path.read_bytes()) for _, path in list_snapshots(folder)]


def run_cli(*args: str, data_dir: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DALLAS_CALLS_FEED_MAX_ATTEMPTS": "2",
        "DALLAS_CALLS_FEED_TIMEOUT_S": "2",
        "DALLAS_CALLS_GEOCODE": "false",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "dallas_calls.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def poll_json(fake: FakeSocrata, data_dir: Path) -> dict[str, Any]:
    proc = run_cli("poll", "--once", "--json", "--feed-url", fake.url, data_dir=data_dir)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout  # exactly one JSON object on stdout
    summary: dict[str, Any] = json.loads(lines[0])
    assert proc.returncode == (1 if summary["outcome"] == "failed" else 0), proc.stderr
    return summary


def test_poll_once_prints_one_json_summary(tmp_path: Path, feed_sequence: Path) -> None:
    with FakeSocrata(recorded(feed_sequence)) as fake:
        summary = poll_json(fake, tmp_path)
    assert {k: summary[k] for k in ("outcome", "rows", "quarantined", "opened", "updated", "closed")} == {
        "outcome": "ok",
        "rows": 59,
        "quarantined": 0,
        "opened": 38,
        "updated": 0,
        "closed": 0,
    }
    assert summary["last_event_id"] == 38


def test_poll_once_prints_a_readable_summary(tmp_path: Path, feed_sequence: Path) -> None:
    with FakeSocrata(recorded(feed_sequence)) as fake:
        proc = run_cli("poll", "--once", "--feed-url", fake.url, data_dir=tmp_path, check=True)
    assert proc.stdout.startswith("ok: 59 rows (0 quarantined), 38 opened, 0 updated, 0 closed")


def test_faults_between_restarts_never_close_calls_falsely(tmp_path: Path, feed_sequence: Path) -> None:
    snapshots = recorded(feed_sequence)
    clean_dir, faulty_dir = tmp_path / "clean", tmp_path / "faulty"
    run_cli("poll", "--replay", str(feed_sequence), data_dir=clean_dir, check=True)

    outcomes = []
    with FakeSocrata(snapshots) as fake:
        for step in range(len(snapshots)):
            if step == 3:
                fake.inject(ServerError(), ServerError())  # both attempts fail: the poll fails
                outcomes.append(poll_json(fake, faulty_dir)["outcome"])
            if step == 5:
                fake.inject(EmptySnapshot())
                outcomes.append(poll_json(fake, faulty_dir)["outcome"])
            if step == 8:
                fake.inject(DropHalf())
                held = poll_json(fake, faulty_dir)
                assert held["closed"] == 0
                outcomes.append(held["outcome"])
            if step == 10:
                fake.inject(TruncatedJson())  # one bad body, then the retry succeeds
            outcomes.append(poll_json(fake, faulty_dir)["outcome"])
    assert outcomes.count("failed") == 1 and outcomes.count("held") == 2
    assert outcomes.count("ok") == len(snapshots)

    clean, faulty = (
        SqliteStore(clean_dir / "dallas-calls.sqlite3"),
        SqliteStore(faulty_dir / "dallas-calls.sqlite3"),
    )
    assert set(faulty.open_calls()) == set(clean.open_calls())
    events = faulty.events_after(0, limit=10_000)
    assert [e.id for e in events] == list(range(1, len(events) + 1))  # no gap, no duplicate
    clean_events = clean.events_after(0, limit=10_000)
    # faults added no closes (nor re-opens): the same calls were opened and closed as in a clean run
    for kind in ("call.opened", "call.closed"):
        assert sorted(e.incident_number or "" for e in events if e.type == kind) == sorted(
            e.incident_number or "" for e in clean_events if e.type == kind
        )
    reasons = [p.reason for p in faulty.recent_polls(100) if p.outcome in ("failed", "held")]
    assert any("HTTP 500" in (r or "") for r in reasons)
    assert any("empty snapshot" in (r or "") for r in reasons)
    assert any("drops" in (r or "") for r in reasons)


def test_raw_archive_holds_every_snapshot_fetched(tmp_path: Path, feed_sequence: Path) -> None:
    snapshots = recorded(feed_sequence)[:3]
    with FakeSocrata(snapshots) as fake:
        for _ in snapshots:
            poll_json(fake, tmp_path)
    archived = sorted((tmp_path / "archive" / "raw").rglob("*.json.gz"))
    assert len(archived) == 3
    assert [decode_snapshot(p.read_bytes()) for p in archived] == snapshots


def test_quarantined_rows_are_reported_and_kept(tmp_path: Path, first_snapshot: list[dict[str, Any]]) -> None:
    bad = [{"division": "Central", "location": "Elm St"}, {**first_snapshot[0], "priority": "urgent"}]
    with FakeSocrata([first_snapshot[1:] + bad]) as fake:
        summary = poll_json(fake, tmp_path)
    assert summary["quarantined"] == 2 and summary["rows"] == len(first_snapshot) + 1
    store = SqliteStore(tmp_path / "dallas-calls.sqlite3")
    reasons = " | ".join(q.reason for q in store.quarantined_rows())
    assert "incident_number" in reasons and "priority" in reasons


def test_unreachable_feed_fails_cleanly(tmp_path: Path) -> None:
    proc = run_cli(
        "poll", "--once", "--json", "--feed-url", "http://127.0.0.1:9/resource/x.json", data_dir=tmp_path
    )
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    assert summary["outcome"] == "failed" and "connection" in summary["reason"]


def test_replay_resumes_where_it_stopped(tmp_path: Path, feed_sequence: Path) -> None:
    for _ in range(3):
        run_cli("poll", "--replay", str(feed_sequence), "--once", data_dir=tmp_path, check=True)
    proc = run_cli("poll", "--replay", str(feed_sequence), "--json", data_dir=tmp_path, check=True)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 14 - 3 + 1 and lines[-1]["outcome"] == "finished"
    store = SqliteStore(tmp_path / "dallas-calls.sqlite3")
    assert len(store.recent_polls(100)) == 14


@pytest.mark.parametrize("argv", [["poll", "--replay", "/nonexistent"], ["status", "--limit", "x"]])
def test_bad_usage_exits_2_with_a_message(tmp_path: Path, argv: list[str]) -> None:
    proc = run_cli(*argv, data_dir=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip()


def test_status_reports_polls_and_open_calls(tmp_path: Path, feed_sequence: Path) -> None:
    run_cli("poll", "--replay", str(feed_sequence), "--once", data_dir=tmp_path, check=True)
    report = json.loads(run_cli("status", "--json", data_dir=tmp_path, check=True).stdout)
    assert report["open_calls"] == 38 and report["last_event_id"] == 38
    assert report["polls"][0]["outcome"] == "ok" and report["polls"][0]["opened"] == 38
    text = run_cli("status", data_dir=tmp_path, check=True).stdout
    assert "38 open calls" in text
