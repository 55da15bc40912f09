"""Every call first seen in a time window, read from the store a page at a time (never all at once).

Pages are keyed on ``first_seen``: many calls share one (they opened in the same poll), so the calls
already given at the page's last ``first_seen`` are remembered and skipped when the next page starts
there again; a page holding nothing but that one time is read again, twice as large.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from dallas_calls.model import Call

PAGE_SIZE = 1000


class CallsBetween(Protocol):
    def calls_between(self, start: str, end: str, limit: int = 1000) -> list[Call]: ...


def iter_calls_between(
    store: CallsBetween, start: str, end: str, page_size: int = PAGE_SIZE
) -> Iterator[Call]:
    """Calls with ``start <= first_seen < end``, oldest first, each once."""
    cursor = start
    seen_at_cursor: set[str] = set()
    size = page_size
    while True:
        page = store.calls_between(cursor, end, size)
        fresh = [c for c in page if not (c.first_seen == cursor and c.incident_number in seen_at_cursor)]
        yield from fresh
        if len(page) < size:
            return
        last = page[-1].first_seen
        if last == cursor and not fresh:
            size *= 2  # the whole page is one poll's calls, all given already: read a larger page
            continue
        if last != cursor:
            cursor, seen_at_cursor = last, set()
        seen_at_cursor.update(c.incident_number for c in page if c.first_seen == last)
        size = page_size
