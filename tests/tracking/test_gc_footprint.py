"""What the tracker keeps between polls is mostly invisible to the garbage collector: a full
collection holds the GIL (the API waits) for as long as it walks tracked objects, and a 50,000-row
feed leaves the previous snapshot's calls and the open calls' fingerprints in memory."""

from __future__ import annotations

import gc

from dallas_calls.feed.schema import parse_rows
from dallas_calls.model import Unit
from dallas_calls.tracking.diff import diff_snapshot
from dallas_calls.tracking.snapshot import group_rows
from dallas_calls.tracking.state import CallsInMemory, fingerprint
from tests.fakes.data import load_feed_snapshot

T0 = "2025-02-17T16:00:00Z"
SNAPSHOT = "2025-02-17T16-00-00Z"


def test_fingerprints_and_snapshot_units_are_untracked_after_a_collection() -> None:
    rows, _ = parse_rows(load_feed_snapshot(SNAPSHOT))
    snapshot = group_rows(rows)
    opened = diff_snapshot(CallsInMemory({}), snapshot, T0).changes.opened
    stored = CallsInMemory({c.incident_number: c for c in opened}).fingerprints
    assert any(len(c.units) > 1 for c in snapshot.values())
    for _ in range(3):  # a tuple is untracked once its items are: one level of nesting a pass
        gc.collect()
    assert not any(gc.is_tracked(call.units) or gc.is_tracked(call.fingerprint) for call in snapshot.values())
    assert not any(gc.is_tracked(f) for f in stored.values())
    # the calls the tracker hands on still carry Unit named tuples, equal to the snapshot's pairs
    call = opened[0]
    assert all(isinstance(u, Unit) for u in call.units)
    assert fingerprint(call) == snapshot[call.incident_number].fingerprint


def test_an_unchanged_snapshot_reuses_every_call_of_the_previous_one() -> None:
    raw = load_feed_snapshot(SNAPSHOT)
    first = group_rows(parse_rows(raw)[0])
    again = group_rows(parse_rows([dict(r) for r in raw])[0])
    assert all(again[n] is first[n] for n in first)  # no new long-lived object for the collector
