"""The suspicious-poll guard: bad snapshots never close calls on their own."""

from __future__ import annotations

from typing import Any

from dallas_calls.model import Call, ChangeSet, Unit
from dallas_calls.tracking.guard import guard_changes, suspicious_reason


def _call(n: int) -> Call:
    return Call(
        incident_number=f"19-{n:07d}",
        division="Central",
        nature_of_call="X",
        priority=2,
        received_at=None,
        block=None,
        location="Elm St / Main St",
        beat="134",
        reporting_area=None,
        status="At Scene",
        units=(Unit("A1", "At Scene"),),
        location_key="k",
        first_seen="t",
        last_seen="t",
    )


def _closing(n: int, opened: int = 0) -> ChangeSet:
    return ChangeSet(
        opened=tuple(_call(1000 + i) for i in range(opened)), closed=tuple(_call(i) for i in range(n))
    )


def test_empty_snapshot_holds_every_close() -> None:
    decision = guard_changes(_closing(5), open_before=5, snapshot_size=0, previous_held=False)
    assert decision.outcome == "held"
    assert decision.changes.closed == ()
    assert decision.reason is not None and "empty" in decision.reason


def test_dropping_more_than_half_of_twenty_or_more_is_held_but_opens_still_apply() -> None:
    decision = guard_changes(_closing(11, opened=3), open_before=20, snapshot_size=12, previous_held=False)
    assert decision.outcome == "held"
    assert decision.changes.closed == ()
    assert len(decision.changes.opened) == 3


def test_second_consecutive_suspicious_poll_confirms_the_closes() -> None:
    decision = guard_changes(_closing(11), open_before=20, snapshot_size=9, previous_held=True)
    assert decision.outcome == "ok"
    assert len(decision.changes.closed) == 11
    assert decision.reason is not None and "confirmed" in decision.reason


def test_normal_turnover_closes_at_once() -> None:
    decision = guard_changes(_closing(10), open_before=20, snapshot_size=25, previous_held=False)
    assert decision.outcome == "ok" and len(decision.changes.closed) == 10
    # few open calls: a large fraction may close without suspicion
    assert suspicious_reason(open_before=19, snapshot_size=1, missing=18) is None


def test_thresholds_are_configurable() -> None:
    kwargs: dict[str, Any] = {"open_before": 10, "snapshot_size": 6, "previous_held": False}
    assert guard_changes(_closing(4), min_open=5, max_drop_fraction=0.3, **kwargs).outcome == "held"
    assert guard_changes(_closing(4), min_open=5, max_drop_fraction=0.5, **kwargs).outcome == "ok"
