"""The suspicious-poll guard: a bad snapshot must never close calls on its own.

A feed that hiccups (an empty array, a half-served page set) looks exactly like every call closing
at once. Closing is cheap to delay by one poll and expensive to get wrong (clients see calls vanish,
then re-open as new), so closes from a suspicious snapshot wait until the next poll confirms them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dallas_calls.model import ChangeSet

DEFAULT_MIN_OPEN = 20
DEFAULT_MAX_DROP_FRACTION = 0.5


@dataclass(frozen=True, slots=True)
class GuardDecision:
    outcome: str  # "ok" or "held"
    changes: ChangeSet  # what to apply now (closes removed when held)
    reason: str | None = None


def suspicious_reason(
    open_before: int,
    snapshot_size: int,
    missing: int,
    min_open: int = DEFAULT_MIN_OPEN,
    max_drop_fraction: float = DEFAULT_MAX_DROP_FRACTION,
) -> str | None:
    """Why this snapshot is not to be trusted with closes, or None when it looks normal. ``missing``
    counts the open calls absent from it, whether or not they close now: a snapshot that drops
    most calls is suspect even while their closes still wait for a second absence."""
    if snapshot_size == 0 and open_before > 0:
        return f"empty snapshot while {open_before} calls are open"
    if open_before >= min_open and missing > open_before * max_drop_fraction:
        return f"snapshot drops {missing} of {open_before} open calls (more than {max_drop_fraction:.0%})"
    return None


def guard_changes(
    changes: ChangeSet,
    open_before: int,
    snapshot_size: int,
    previous_held: bool,
    missing: int | None = None,
    min_open: int = DEFAULT_MIN_OPEN,
    max_drop_fraction: float = DEFAULT_MAX_DROP_FRACTION,
) -> GuardDecision:
    """Hold the closes of a suspicious snapshot, unless the previous poll was held too: a second
    consecutive suspicious poll confirms the drop is real. Opens and updates always apply.
    ``missing`` (open calls absent from the snapshot) defaults to the closes: every absent call
    closing at once."""
    dropped = len(changes.closed) if missing is None else missing
    reason = suspicious_reason(open_before, snapshot_size, dropped, min_open, max_drop_fraction)
    if reason is None:
        return GuardDecision("ok", changes)
    if previous_held:
        return GuardDecision("ok", changes, f"confirmed by a second poll: {reason}")
    return GuardDecision("held", replace(changes, closed=()), reason)
