"""The garbage collector paused while a poll's worker builds and commits its changes.

CPython's collector runs in whichever thread allocates past its threshold, and holds the GIL for
the whole pass. A 50,000-row poll has some 300,000 container objects in flight (rows, calls,
events, their JSON), and one full pass over them took 100-200 ms: every API request and SSE
stream on the event loop waited that long (bench/poll_blocking.py). Those objects are acyclic and
are freed by reference counting the moment the poll drops them, so the collector finds nothing in
them; pausing it for the poll's duration loses nothing, and when it resumes its passes walk only
what stays (the open calls), not what was passing through.

What stays can be many objects too: a first snapshot of 25,000 calls leaves some 100,000 new
containers (the tracker's calls, the view's, the ring's entries), and the collector's next passes
walk all of them, young generation first, then again in each older one: 70-120 ms each, measured.
So when a pause ends with more than ``FREEZE_ABOVE`` new containers alive, they are frozen
(``gc.freeze``): moved out of the collector's reach for good, as start-up objects are. They are
still freed as soon as nothing refers to them (a closed call); what freezing gives up is finding
a reference cycle among them that becomes garbage later, so it is kept for the rare big change
(a first snapshot, a mass churn), never the ordinary poll of a few hundred calls.

Pauses nest and are shared by threads: the collector is on again when the last holder leaves, and
only if it was on when the first came (a caller that switched it off keeps it off).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

FREEZE_ABOVE = 50_000  # new containers alive when a pause ends (gc.get_count()[0])

_lock = threading.Lock()
_state = {"holders": 0, "was_enabled": False}


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection inside the block (explicit ``gc.collect()`` still works)."""
    with _lock:
        if _state["holders"] == 0:
            _state["was_enabled"] = gc.isenabled()
            gc.disable()
        _state["holders"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["holders"] -= 1
            if _state["holders"] == 0:
                if gc.get_count()[0] > FREEZE_ABOVE:
                    gc.freeze()
                if _state["was_enabled"]:
                    gc.enable()
