"""Download progress: what the fetcher reports while a file or a paged source comes in.

One interface (:class:`Progress`) with three users: a terminal line for ``geodata fetch``
(:class:`TextProgress`), silence for tests (:class:`NoProgress`), and the background updater's
status object (``geodata.updater``).
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    """``unit``: what ``total`` and ``advance(done)`` count, "bytes" (a file) or "records" (pages)."""

    def start(self, name: str, total: int | None, resumed_from: int, unit: str = "bytes") -> None: ...
    def advance(self, done: int) -> None: ...
    def finish(self, name: str, message: str) -> None: ...


class TextProgress:
    """One updating line on a terminal (``\\r``), or a start and an end line when stderr is a file.

    Plain text on purpose: no extra dependency, readable in CI logs.
    """

    def __init__(self, stream: TextIO | None = None, min_interval_s: float = 0.2) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval_s = min_interval_s
        self._name = ""
        self._total: int | None = None
        self._t0 = 0.0
        self._last = 0.0
        self._from = 0
        self._unit = "bytes"

    def start(self, name: str, total: int | None, resumed_from: int, unit: str = "bytes") -> None:
        self._name, self._total, self._from, self._unit = name, total, resumed_from, unit
        self._t0 = self._last = time.monotonic()
        extra = f", resuming at {self._amount(resumed_from)}" if resumed_from else ""
        size = self._amount(total) if total else "size unknown"
        if not self.live:
            print(f"{name}: downloading ({size}{extra})", file=self.stream)

    def advance(self, done: int) -> None:
        now = time.monotonic()
        if not self.live or now - self._last < self.min_interval_s:
            return
        self._last = now
        rate = (done - self._from) / max(now - self._t0, 1e-6)
        pct = f" {100 * done / self._total:5.1f}%" if self._total else ""
        total = f"/{self._amount(self._total)}" if self._total else ""
        self.stream.write(f"\r{self._name}: {self._amount(done)}{total}{pct} {self._amount(int(rate))}/s   ")
        self.stream.flush()

    def _amount(self, n: int | None) -> str:
        return megabytes(n) if self._unit == "bytes" else f"{n or 0:,} {self._unit}"

    def finish(self, name: str, message: str) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
        print(f"{name}: {message}", file=self.stream)


class NoProgress:
    def start(self, name: str, total: int | None, resumed_from: int, unit: str = "bytes") -> None:
        pass

    def advance(self, done: int) -> None:
        pass

    def finish(self, name: str, message: str) -> None:
        pass


def megabytes(n: int | None) -> str:
    return "?" if n is None else f"{n / 1_000_000:.1f} MB"
