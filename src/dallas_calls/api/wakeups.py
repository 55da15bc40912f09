"""Waking the client streams that wait for newer events: in coalesced rounds.

Waking a client costs the same whether it takes one event or a hundred, so the cost of a publish is
paid per round of wake-ups, not per event per client: a round starts at most ``COALESCE_S`` after
the first event that needs it, and every client it wakes takes everything new at once. A round wakes
``WAKE_BATCH`` clients per turn of the event loop, so requests (more publishes among them) go on
while it runs; events that arrive meanwhile are taken by the clients woken later in the round, and
by one more round after it. The next round waits at least as long as the last one took: while
events stream in, wake-ups take at most half of the loop's time, and the publishes in between are
not starved.
"""

from __future__ import annotations

import asyncio

COALESCE_S = 0.005  # a round of wake-ups starts at most this long after the event that needs it
WAKE_BATCH = 200  # client streams woken per turn of the event loop


class WakeRounds:
    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []
        self._round: list[asyncio.Future[None]] | None = None  # the round being woken
        self._round_pending = False  # events came while a round was running: another follows
        self._timer: asyncio.TimerHandle | None = None
        self._round_started = 0.0
        self._next_round_at = 0.0

    async def wait(self, clients: int) -> None:
        """Wait for the next round (``clients``: how many streams there are, to bound the list)."""
        if len(self._waiters) > 2 * clients + 100:  # forget streams that left meanwhile
            self._waiters = [f for f in self._waiters if not f.done()]
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        finally:
            if not future.done():  # cancelled (the client left): forget it
                future.cancel()

    def notify(self) -> None:
        if self._round is not None:
            self._round_pending = True
            return
        if self._timer is not None or not self._waiters:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller in tests): nobody can be waiting
            return
        delay = max(COALESCE_S, self._next_round_at - loop.time())
        self._timer = loop.call_later(delay, self._start_round)

    def wake_all(self) -> None:
        """Wake every waiting stream now (the server is stopping)."""
        for future in [*self._waiters, *(self._round or [])]:
            if not future.done():
                future.set_result(None)
        self._waiters = []

    def _start_round(self) -> None:
        self._timer = None
        self._round_started = asyncio.get_running_loop().time()
        self._round, self._waiters = self._waiters, []
        self._round_pending = False
        self._wake_some()

    def _wake_some(self) -> None:
        batch = self._round
        assert batch is not None
        for future in batch[-WAKE_BATCH:]:
            if not future.done():
                future.set_result(None)
        del batch[-WAKE_BATCH:]
        if batch:
            asyncio.get_running_loop().call_soon(self._wake_some)
            return
        self._round = None
        now = asyncio.get_running_loop().time()
        self._next_round_at = now + (now - self._round_started)
        if self._round_pending:
            self._round_pending = False
            self.notify()
