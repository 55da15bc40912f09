"""How uvicorn serves the app: one configuration for ``serve``, ``api`` and the tests' servers.

What uvicorn does not do by itself:

* **Bound the request head.** uvicorn's httptools protocol (the one used when httptools is
  installed, as here) accepts headers of any size: httptools keeps appending to the header being
  read, so four 100 MB headers grew the process by half a gigabyte. ``HeaderLimitedProtocol``
  counts the bytes of the request line and headers as they arrive and answers 431 (and closes the
  connection) as soon as they pass ``max_header_bytes``, so a connection holds at most that plus
  one read buffer. The check has to sit in the protocol: by the time an ASGI middleware runs, the
  headers are already in memory.
* **Bound the time to send it.** uvicorn waits for a first request for ever: a connection that
  sends nothing (or a byte now and then) holds a file descriptor until the server stops. The
  protocol closes it with a 408 after ``request_head_timeout_s``.
* **End the SSE streams when it stops.** uvicorn waits for open requests before it stops, and an
  SSE stream never ends by itself: on SIGINT/SIGTERM ``StreamingServer`` tells the streams to end
  (clients reconnect by id, to another replica or to this one once it is back); whatever is still
  open after ``GRACEFUL_SHUTDOWN_S`` is cancelled.
* **Trust no proxy by default.** uvicorn's ``proxy_headers`` is on by default and trusts
  ``X-Forwarded-For`` from 127.0.0.1, so behind nothing at all any local client could pick its own
  rate-limit bucket. It is turned off here; the app honours the header only from
  ``DALLAS_CALLS_TRUSTED_PROXIES`` (``limits.trusted_proxies``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from dallas_calls.api.errors import error_body
from dallas_calls.config import Settings

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_S = 5


class HeaderLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on the size of the request head (431 above).

    Two checks, because httptools shows a header only once it is complete: a complete head is
    measured exactly (request target + names + values); a head still incomplete is measured by the
    bytes read since the read in which it began (not counting that read, which may also hold the
    end of the previous request on a kept-alive connection). A connection thus holds at most the
    limit plus two reads of a head before it is answered 431 and closed.

    And a deadline: a connection that has not sent a whole request head ``head_timeout_s`` after it
    was opened (or after its request began) is answered 408 and closed. Without it a client holds a
    file descriptor for ever by connecting and sending nothing, or a byte a minute.
    """

    max_header_bytes = 16384
    head_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes read since the current request's head began, while incomplete
        self._in_head = False
        self._head_began = False  # the head began in the read being parsed
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self._refuse(408, "request_timeout", f"no complete request head within {self.head_timeout_s:g} s")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_began, self._head_bytes = True, True, 0
        self._start_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_header_bytes:
            # Raised inside the parser's callback: httptools stops and uvicorn answers 400, which
            # ``send_400_response`` below turns into the 431 this is.
            self._head_too_large = True
            raise ValueError("request head too large")
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        self._head_began = False
        super().data_received(data)
        if self._in_head and not self._head_began and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._send_431()

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            self._send_431()
        else:
            super().send_400_response(msg)

    def _send_431(self) -> None:
        self._refuse(431, "headers_too_large", f"request line and headers over {self.max_header_bytes} bytes")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer in the API's error format and close the connection (no ASGI app runs)."""
        log.info("refused a request from %s: %s", self.client, message)
        self._stop_head_timer()
        body = error_body(code, message)
        head = [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        self._in_head = False


def header_limited_protocol(max_header_bytes: int, head_timeout_s: float) -> type[HeaderLimitedProtocol]:
    """The protocol class with its limits (uvicorn instantiates the class it is given per connection)."""
    limits = {"max_header_bytes": max_header_bytes, "head_timeout_s": head_timeout_s}
    return type("HeaderLimitedProtocol", (HeaderLimitedProtocol,), limits)


def server_options(settings: Settings) -> dict[str, Any]:
    """The options of ``uvicorn.run``/``uvicorn.Config`` every server of this app uses: where it
    listens, the limited protocol, and no proxy trust of uvicorn's own (the app decides; see the
    module docstring)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "http": header_limited_protocol(settings.max_header_bytes, settings.request_head_timeout_s),
        "ws": "none",
        "proxy_headers": False,
        "server_header": False,
    }


class StreamingServer(uvicorn.Server):
    """uvicorn, telling the SSE streams to end when a signal stops it."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is not None:  # a signal handler: hand the work to the loop
            self._loop.call_soon_threadsafe(self._on_exit)
        super().handle_exit(sig, frame)


def freeze_startup_objects() -> None:
    """Move every object alive after start-up (modules, classes, the geocoding indexes, the store's
    first state) out of the garbage collector's reach: they live as long as the process, and each
    full collection otherwise walks all of them again, holding the GIL (one of the pauses that a
    big poll makes the API wait for). A collection first, so no garbage is kept; objects frozen
    here are still freed as soon as nothing refers to them."""
    gc.collect()
    gc.freeze()


def serve_app(app: FastAPI, settings: Settings) -> None:
    """Serve ``app`` with the options above until a signal stops it."""
    freeze_startup_objects()
    config = uvicorn.Config(app, **server_options(settings), timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    StreamingServer(config, on_exit=app.state.view.close_streams).run()
