"""What the tracker remembers of the stored calls between polls, and how it compares them.

Diffing a snapshot against every open call as a full :class:`~dallas_calls.model.Call` costs a
decode per call per poll, although almost every call is unchanged. The tracker needs much less: a
*fingerprint* per open call (its tracked fields as one hashable tuple, so an unchanged call is found
by a set operation in C), how many consecutive snapshots each absent open call has missed, and full
calls only for the few that changed, closed or came back. :class:`OpenCalls` is that view; the
SQLite store keeps it in memory between polls, and :class:`CallsInMemory` builds it from calls
already loaded (the AWS tracker, tests).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from operator import attrgetter
from typing import Any, Protocol

from dallas_calls.model import TRACKED_FIELDS, Call

# The tracked fields of a call (or of a snapshot's call), in TRACKED_FIELDS order. Two calls with
# equal fingerprints are the same as far as the tracker is concerned: no update.
Fingerprint = tuple[object, ...]
if TRACKED_FIELDS[-1] != "units":  # fingerprint() below relies on it
    raise RuntimeError("TRACKED_FIELDS must end with units")
_fields_but_units: Callable[[object], tuple[object, ...]] = attrgetter(*TRACKED_FIELDS[:-1])


def fingerprint(call: Any) -> Fingerprint:
    """The fingerprint of a Call or a SnapshotCall. Its units are plain ``(unit_number, status)``
    tuples: they compare and hash as the ``Unit`` named tuples do, but a tuple holding only text,
    numbers, None and such tuples is one the garbage collector stops tracking, so the fingerprints
    of 25,000 open calls (kept between polls, twice) add nothing to a full collection's walk; a
    named tuple is never untracked, nor is a tuple holding one."""
    return (*_fields_but_units(call), tuple([tuple(unit) for unit in call.units]))


CallLookup = Callable[[Collection[str]], Mapping[str, Call]]


class OpenCalls(Protocol):
    """The stored state a diff needs, whatever holds it."""

    @property
    def fingerprints(self) -> Mapping[str, Fingerprint]:
        """Every open call's fingerprint, by incident number."""
        ...

    @property
    def misses(self) -> Mapping[str, int]:
        """Open calls absent from the latest snapshots: how many consecutive ones they missed."""
        ...

    def load(self, incidents: Collection[str]) -> Mapping[str, Call]:
        """The stored calls (open, or closed earlier) among ``incidents``; unknown ones are left out.
        A call's ``last_seen`` is the last poll whose snapshot held it."""
        ...


def _no_closed_calls(incidents: Collection[str]) -> Mapping[str, Call]:
    return {}


class CallsInMemory:
    """:class:`OpenCalls` over open calls already in memory. ``closed`` looks up calls closed
    earlier (so one that returns continues its record); by default none are known."""

    def __init__(
        self,
        calls: Mapping[str, Call],
        misses: Mapping[str, int] | None = None,
        closed: CallLookup = _no_closed_calls,
    ) -> None:
        self.calls = calls
        self.fingerprints: Mapping[str, Fingerprint] = {n: fingerprint(c) for n, c in calls.items()}
        self.misses: Mapping[str, int] = dict(misses or {})
        self._closed = closed

    def load(self, incidents: Collection[str]) -> Mapping[str, Call]:
        found = {n: self.calls[n] for n in incidents if n in self.calls}
        rest = [n for n in incidents if n not in found]
        if rest:
            found.update(self._closed(rest))
        return found
