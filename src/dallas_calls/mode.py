"""What the server is showing: live data, a replay of a recording, or the bundled demo.

Every surface that shows calls says which (``/config.json``, ``/readyz``, ``/current-calls/``, the
dashboard's badge, banner and title), so recorded calls can never pass for live ones. The mode can
change while the server runs (the demo that stood in for an unreachable feed gives way to live
data), so it lives in one mutable holder that the API reads on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from dallas_calls.model import iso_utc

Mode = Literal["live", "replay", "demo"]


@dataclass(frozen=True, slots=True)
class Recording:
    """The recording a replay or demo plays: its real capture times, pace and time shift."""

    name: str
    captured_from: datetime
    captured_to: datetime
    snapshots: int
    speed: float | None = None  # recorded time divided by this; None: one snapshot per poll interval
    shifted: bool = False  # received times moved so the recording ends "now" (the demo)
    loops: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "captured_from": iso_utc(self.captured_from),
            "captured_to": iso_utc(self.captured_to),
            "snapshots": self.snapshots,
            "speed": self.speed,
            "times_shifted": self.shifted,
            "loops": self.loops,
        }


@dataclass(frozen=True, slots=True)
class RunMode:
    mode: Mode = "live"
    recording: Recording | None = None
    # Why recorded calls are shown although live ones were asked for (the feed could not be read).
    fallback_reason: str | None = None
    run: int = 1  # which run of a looping demo (each loop starts a fresh store)

    @property
    def live(self) -> bool:
        return self.mode == "live"

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "recording": self.recording.to_dict() if self.recording else None,
            "fallback_reason": self.fallback_reason,
        }


@dataclass(slots=True)
class ModeState:
    """The server's current mode; ``version`` moves on every change (the view re-renders)."""

    current: RunMode = field(default_factory=RunMode)
    version: int = 0

    def set(self, mode: RunMode) -> None:
        self.current = mode
        self.version += 1

    def next_run(self) -> None:
        self.set(replace(self.current, run=self.current.run + 1))
