"""A fake Socrata server: real HTTP on 127.0.0.1, recorded snapshots, injectable faults.

Tests of every layer that polls the feed (client, tracking, runner, CLI, API, AWS handlers) talk to
this server over a real socket, so what they exercise is what production does: httpx, paging,
timeouts, retries. Nothing is mocked.

Usage::

    with FakeSocrata([snapshot_a, snapshot_b]) as fake:
        feed = SocrataFeed(FeedConfig(url=fake.url))
        rows = await feed.fetch()          # snapshot_a
        fake.inject(ServerError())         # the next request gets a 500
        rows = await feed.fetch()          # 500, retry, then snapshot_b
        assert fake.requests[-1].query["$offset"] == "0"

Serving rules (the parts of the Socrata API the client uses):

- ``GET <path>`` with ``$limit`` (default 1000, like Socrata), ``$offset`` (default 0) and
  ``$order`` (only ``:id`` is known; rows keep their recorded order, which stands for ``:id``).
  Other ``$`` parameters, a bad number, or an unknown ``$order`` get a 400 with a Socrata-style
  JSON error; another path gets a 404. With ``app_token=...`` a request without that
  ``X-App-Token`` header gets a 403.

Which snapshot is served (the *cursor*):

- ``auto_advance=True`` (default): each **poll** moves to the next snapshot. A poll begins with a
  request at ``$offset=0`` that is served normally; the first poll serves snapshot 0. Pages at
  ``$offset>0`` come from the same snapshot as their poll's first page, so a paged read is
  consistent. After the last snapshot the last one is served again (the feed did not change).
  A retry of page 0 after a fault is the poll's first served page, so a retry does not skip a
  snapshot.
- ``auto_advance=False``: the cursor starts at snapshot 0 and moves only on :meth:`advance`.
- :meth:`push` appends a snapshot while the server runs (a live feed that keeps changing).

Faults (:meth:`inject`), consumed in FIFO order, one per request, whatever the request is. They
never move the cursor.

- Request faults spoil one response: :class:`ServerError` (500 or any status),
  :class:`RateLimited` (429 + ``Retry-After``), :class:`Hang` (no answer for a while, then the
  connection is dropped: a client timeout), :class:`TruncatedJson` (a complete HTTP response whose
  JSON is cut short), :class:`Disconnect` (connection closed without a response), :class:`Respond`
  (any status, body and headers). :class:`Pass` spends one request with no fault, to aim the
  next fault at a later request.
- Poll faults replace the data of one whole poll (every page of it) with a variant of the snapshot
  the poll would have served: :class:`EmptySnapshot` (``[]``), :class:`DropHalf` (every other
  incident missing, with all its units), :class:`ReplaceSnapshot` (given rows). Taken by a page at
  ``$offset>0``, they apply from that page to the end of the current poll. The cursor does not
  move, so the next poll serves the snapshot that was skipped: a transient glitch.

Every request is recorded in :attr:`FakeSocrata.requests` (method, path, query, headers, the fault
applied, the snapshot index served).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "DEFAULT_PATH",
    "Disconnect",
    "DropHalf",
    "EmptySnapshot",
    "FakeSocrata",
    "Fault",
    "Hang",
    "Pass",
    "RateLimited",
    "RecordedRequest",
    "ReplaceSnapshot",
    "Respond",
    "ServerError",
    "TruncatedJson",
    "drop_half_of_incidents",
]

DEFAULT_PATH = "/resource/9fxf-t2tr.json"
SOCRATA_DEFAULT_LIMIT = 1000
_KNOWN_PARAMS = {"$limit", "$offset", "$order"}

Rows = list[Any]


# --- faults -----------------------------------------------------------------------------------


class Fault:
    """Base of all faults; ``describe()`` is what is recorded with the request."""

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class Pass(Fault):
    """No fault: serve the next request normally. Lets a fault aim at a later request, e.g.
    ``inject(Pass(), ServerError())`` fails the second page of a paged read."""


@dataclass(frozen=True)
class Respond(Fault):
    """Answer the next request with exactly this status, body and headers."""

    status: int
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"Respond({self.status})"


@dataclass(frozen=True)
class ServerError(Fault):
    """A 5xx with a Socrata-style JSON error body (500 by default)."""

    status: int = 500

    def describe(self) -> str:
        return f"ServerError({self.status})"


@dataclass(frozen=True)
class RateLimited(Fault):
    """A 429; ``retry_after`` is sent verbatim as the ``Retry-After`` header (seconds or HTTP-date),
    or no header at all when ``None``."""

    retry_after: str | int | None = 1

    def describe(self) -> str:
        return f"RateLimited({self.retry_after!r})"


@dataclass(frozen=True)
class Hang(Fault):
    """Say nothing for ``seconds`` (longer than the client's timeout), then drop the connection.

    The wait ends early when the server stops, so a test never waits on it at teardown.
    """

    seconds: float = 5.0


@dataclass(frozen=True)
class TruncatedJson(Fault):
    """Serve the page the request asked for, with its JSON cut to ``fraction`` of its bytes.

    The HTTP message itself is complete (Content-Length matches), only the JSON is broken: the case
    of a proxy or server that gave up half way and still said 200.
    """

    fraction: float = 0.5


@dataclass(frozen=True)
class Disconnect(Fault):
    """Close the connection without sending a response."""


@dataclass(frozen=True)
class ReplaceSnapshot(Fault):
    """Serve these rows for one whole poll instead of the snapshot due."""

    rows: Sequence[Any] = ()

    def transform(self, due: Rows) -> Rows:
        return list(self.rows)


@dataclass(frozen=True)
class EmptySnapshot(ReplaceSnapshot):
    """Serve ``[]`` for one poll: the feed briefly answering with nothing."""

    def transform(self, due: Rows) -> Rows:
        return []


@dataclass(frozen=True)
class DropHalf(ReplaceSnapshot):
    """Serve the due snapshot with every other incident (all its units) missing, for one poll."""

    def transform(self, due: Rows) -> Rows:
        return drop_half_of_incidents(due)


def drop_half_of_incidents(rows: Iterable[Any]) -> Rows:
    """``rows`` without every second incident (in order of first appearance), keeping row order.

    All units of a dropped incident go, so the tracker sees calls vanish, not just units.
    """
    rows = list(rows)
    order: dict[Any, int] = {}
    for row in rows:
        key = row.get("incident_number") if isinstance(row, dict) else None
        order.setdefault(key, len(order))
    return [r for r in rows if order[r.get("incident_number") if isinstance(r, dict) else None] % 2 == 0]


# --- recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it. ``query`` keeps the last value of each parameter;
    ``headers`` keys are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    fault: str | None
    snapshot_index: int | None
    at: float


# --- server -----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hung handler must not block shutdown
    fake: FakeSocrata


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _Server

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def send_json(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": True, "code": code, "message": message}).encode()


class FakeSocrata:
    """A running fake of the Socrata resource endpoint. See the module docstring for the rules."""

    def __init__(
        self,
        snapshots: Sequence[Sequence[Any]],
        *,
        path: str = DEFAULT_PATH,
        auto_advance: bool = True,
        app_token: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if not snapshots:
            raise ValueError("FakeSocrata needs at least one snapshot")
        self.path = path
        self.auto_advance = auto_advance
        self.app_token = app_token
        self._host = host
        self._snapshots: list[Rows] = [list(s) for s in snapshots]
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._index = 0
        self._started = False  # auto mode: has the first poll been served?
        self._polls = 0
        self._override: Rows | None = None  # data of the current poll when a poll fault applies
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeSocrata:
        """Bind a free port on ``host`` and serve in a background thread."""
        if self._server is not None:
            return self
        server = _Server((self._host, 0), _Handler)
        server.fake = self
        self._server = server
        self._stopping.clear()
        # A short poll interval keeps stop() fast (shutdown waits for the loop to look at its flag).
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="FakeSocrata", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; hung handlers are released at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSocrata:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # addresses

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("FakeSocrata is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The resource URL to give the client: ``http://127.0.0.1:PORT/resource/9fxf-t2tr.json``."""
        return self.base_url + self.path

    # control

    def inject(self, *faults: Fault) -> None:
        """Queue faults for the next requests, one fault per request, in order."""
        with self._lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def advance(self) -> int:
        """Move the cursor to the next snapshot (stays on the last); returns the new index.

        Meant for ``auto_advance=False``. In auto mode it skips one snapshot ahead of the next poll.
        """
        with self._lock:
            self._index = min(self._index + 1, len(self._snapshots) - 1)
            self._override = None
            return self._index

    def push(self, rows: Sequence[Any]) -> int:
        """Append a snapshot to the sequence; returns its index."""
        with self._lock:
            self._snapshots.append(list(rows))
            return len(self._snapshots) - 1

    @property
    def snapshot_index(self) -> int:
        """Index of the snapshot being served (the last poll's, in auto mode)."""
        with self._lock:
            return self._index

    @property
    def polls(self) -> int:
        """How many polls have begun (requests at ``$offset=0`` served with data)."""
        with self._lock:
            return self._polls

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def data_requests(self) -> list[RecordedRequest]:
        """Requests answered with snapshot data (no request fault): the pages actually read."""
        return [
            r
            for r in self.requests
            if r.fault is None or r.fault.startswith(("EmptySnapshot", "DropHalf", "ReplaceSnapshot"))
        ]

    # serving

    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        raw_query = parse_qs(split.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in raw_query.items()}
        headers = {k.lower(): v for k, v in handler.headers.items()}

        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            if isinstance(fault, Pass):
                fault = None
            page, index, error = self._page_for(split.path, query, headers, fault)
            self._requests.append(
                RecordedRequest(
                    method=handler.command,
                    path=split.path,
                    query=query,
                    headers=headers,
                    fault=fault.describe() if fault is not None else None,
                    snapshot_index=index,
                    at=time.monotonic(),
                )
            )

        if error is not None:
            status, body = error
            handler.send_json(status, body)
            return
        if fault is None or isinstance(fault, ReplaceSnapshot):
            handler.send_json(200, json.dumps(page).encode())
            return
        self._apply_request_fault(handler, fault, page)

    def _page_for(
        self,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        fault: Fault | None,
    ) -> tuple[Rows, int | None, tuple[int, bytes] | None]:
        """The rows this request gets, the snapshot index, or an HTTP error. Holds the lock."""
        if path != self.path:
            return [], None, (404, _error_body("not_found", f"no resource at {path}"))
        if self.app_token is not None and headers.get("x-app-token") != self.app_token:
            return [], None, (403, _error_body("permission_denied", "Invalid app_token specified"))
        unknown = sorted(k for k in query if k.startswith("$") and k not in _KNOWN_PARAMS)
        unknown += sorted(k for k in query if not k.startswith("$"))
        if unknown:
            return [], None, (400, _error_body("query.soql.unsupported", f"fake does not support {unknown}"))
        order = query.get("$order", ":id").strip()
        if order not in (":id", ":id ASC", ":id asc"):
            return [], None, (400, _error_body("query.soql.no-such-column", f"cannot order by {order!r}"))
        try:
            limit = int(query.get("$limit", SOCRATA_DEFAULT_LIMIT))
            offset = int(query.get("$offset", 0))
        except ValueError:
            return [], None, (400, _error_body("query.soql.type-mismatch", "$limit/$offset must be integers"))
        if limit < 0 or offset < 0:
            return [], None, (400, _error_body("query.soql.invalid", "$limit/$offset must not be negative"))

        last = len(self._snapshots) - 1
        request_fault = fault is not None and not isinstance(fault, ReplaceSnapshot)
        if offset == 0 and not request_fault:
            # A poll begins. Work out which snapshot is due, then serve it or a poll fault's variant.
            due = self._index
            if self.auto_advance and self._started:
                due = min(self._index + 1, last)
            if isinstance(fault, ReplaceSnapshot):
                self._override = fault.transform(self._snapshots[due])
            else:
                self._index = due
                self._started = True
                self._override = None
            self._polls += 1
            index = due
        else:
            index = self._index
            if isinstance(fault, ReplaceSnapshot):  # taken mid-poll: applies to the rest of it
                self._override = fault.transform(self._snapshots[index])
        rows = self._override if self._override is not None else self._snapshots[index]
        return rows[offset : offset + limit], index, None

    def _apply_request_fault(self, handler: _Handler, fault: Fault, page: Rows) -> None:
        if isinstance(fault, Respond):
            body = fault.body.encode() if isinstance(fault.body, str) else fault.body
            handler.send_response(fault.status)
            handler.send_header("Content-Length", str(len(body)))
            for name, value in fault.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
        elif isinstance(fault, ServerError):
            handler.send_json(fault.status, _error_body("internal", "Internal error"))
        elif isinstance(fault, RateLimited):
            extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            handler.send_json(429, _error_body("too_many_requests", "Too many requests"), extra)
        elif isinstance(fault, TruncatedJson):
            body = json.dumps(page).encode()
            cut = max(0, min(len(body) - 1, int(len(body) * fault.fraction)))
            handler.send_json(200, body[:cut])
        elif isinstance(fault, Hang):
            self._stopping.wait(fault.seconds)
            handler.close_connection = True
        elif isinstance(fault, Disconnect):
            handler.close_connection = True
        else:  # pragma: no cover - a new Fault subclass without a rule
            raise TypeError(f"unknown fault {fault!r}")
