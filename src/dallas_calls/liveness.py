"""Is the poller alive? The answer behind ``/healthz``.

A process whose poller has died, or is stuck, must say so to its supervisor (systemd, ECS, a
Kubernetes probe) so that it is restarted; serving frozen data under a 200 is the failure this
prevents. The poller beats after every poll attempt, good or failed, and says how long until the
next; it is stalled when no attempt has finished within three of those delays plus the longest an
attempt may legitimately take (the feed's timeout times its attempts). A replay that has played to
its end is finished, not dead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

STALL_PERIODS = 3


@dataclass(slots=True)
class Liveness:
    attempt_budget_s: float  # the longest one poll attempt may take (timeouts x attempts)
    started: float = 0.0
    last_attempt: float | None = None
    next_delay_s: float = 60.0
    attempts: int = 0
    finished: str | None = None  # why the poller ended on purpose (a replay played to its end)

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def beat(self, next_delay_s: float) -> None:
        """A poll attempt finished; the next one starts in ``next_delay_s``."""
        self.last_attempt = time.monotonic()
        self.next_delay_s = next_delay_s
        self.attempts += 1

    def finish(self, why: str) -> None:
        self.finished = why

    def report(self, poller_running: bool, poller_error: str | None = None) -> dict[str, Any]:
        """The ``/healthz`` body; ``ok`` decides 200 or 503."""
        now = time.monotonic()
        since = self.last_attempt if self.last_attempt is not None else self.started
        age = now - since
        bound = STALL_PERIODS * self.next_delay_s + self.attempt_budget_s
        body: dict[str, Any] = {
            "ok": True,
            "poller": "running",
            "last_poll_attempt_age_s": round(age, 3) if self.last_attempt is not None else None,
            "poll_attempts": self.attempts,
            "reason": None,
        }
        if self.finished is not None:
            body["poller"] = "finished"
            body["reason"] = self.finished
        elif not poller_running:
            body.update(ok=False, poller="stopped", reason=f"the poller stopped: {poller_error or 'unknown'}")
        elif age > bound:
            body.update(
                ok=False,
                poller="stalled",
                reason=f"no poll attempt finished in {age:.0f} s (expected within {bound:.0f} s)",
            )
        return body
