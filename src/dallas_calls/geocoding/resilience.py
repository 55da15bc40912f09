"""Rate limiting and circuit breaking for the online geocoding providers.

Both are thread-safe and take an injectable clock (and sleep), so tests can drive them without waiting.

* :class:`RateLimiter` is a token bucket. ``try_acquire()`` never sleeps: the Lambda path calls it and
  skips the provider when it says no. ``acquire(max_wait_s)`` sleeps until a token is free (the CLI's
  mode); callers queue in order because each one reserves its slot before sleeping.
* :class:`CircuitBreaker` opens after ``failure_threshold`` consecutive failures, lets one trial call
  through ("half-open") once ``cooldown_s`` has passed, and closes again on a success.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RateLimiter:
    """A token bucket: ``rate_per_s`` tokens a second, at most ``burst`` saved up."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()

    @classmethod
    def min_interval(
        cls, seconds: float, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> RateLimiter:
        """At most one call every ``seconds`` (a bucket of one token)."""
        return cls(1.0 / seconds, 1, clock=clock, sleep=sleep)

    @property
    def interval_s(self) -> float:
        return 1.0 / self.rate_per_s

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        self._stamp = now

    def try_acquire(self) -> bool:
        """Take a token if one is free now; never sleeps."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def wait_time(self) -> float:
        """Seconds until a token is free (0 when one is free now)."""
        with self._lock:
            self._refill(self._clock())
            return max(0.0, (1.0 - self._tokens) / self.rate_per_s)

    def acquire(self, max_wait_s: float | None = None) -> bool:
        """Take a token, sleeping until it is free; False (nothing taken) if that is beyond ``max_wait_s``."""
        with self._lock:
            self._refill(self._clock())
            wait = max(0.0, (1.0 - self._tokens) / self.rate_per_s)
            if max_wait_s is not None and wait > max_wait_s:
                return False
            self._tokens -= 1.0  # may go negative: the slot is reserved, later callers wait behind it
        if wait > 0:
            self._sleep(wait)
        return True


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Skip a provider that is down: open after N consecutive failures, retry one call after a cool-down."""

    def __init__(
        self, failure_threshold: int = 5, cooldown_s: float = 60.0, *, clock: Clock = time.monotonic
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._open_for = cooldown_s
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._state is BreakerState.OPEN and self._cooled_down():
                return BreakerState.HALF_OPEN
            return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self._open_for

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one trial call at a time is allowed."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if not self._cooled_down():
                    return False
                self._state = BreakerState.HALF_OPEN
                self._trial_in_flight = False
            if self._trial_in_flight:
                return False
            self._trial_in_flight = True
            return True

    def cancel(self) -> None:
        """An allowed call did not go out after all (say, rate-limited): free the half-open trial."""
        with self._lock:
            self._trial_in_flight = False

    def record_success(self) -> bool:
        """The call worked: close. True when this closed an open or half-open circuit."""
        with self._lock:
            was_open = self._state is not BreakerState.CLOSED
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._trial_in_flight = False
            return was_open

    def record_failure(self, open_for_s: float | None = None) -> bool:
        """The call failed. True when this opened the circuit. ``open_for_s`` (say, from a 429's
        Retry-After) opens it at once for that long."""
        with self._lock:
            self._failures += 1
            self._trial_in_flight = False
            trip = (
                self._state is BreakerState.HALF_OPEN
                or self._failures >= self.failure_threshold
                or open_for_s is not None
            )
            if not trip:
                return False
            newly = self._state is BreakerState.CLOSED
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._open_for = max(self.cooldown_s, open_for_s or 0.0)
            return newly
