"""How uvicorn serves the app: one configuration for ``serve``, ``api`` and the tests' servers.

Two things uvicorn does not do by itself:

* **Bound the request head.** uvicorn's httptools protocol (the one used when httptools is
  installed, as here) accepts headers of any size: httptools keeps appending to the header being
  read, so four 100 MB headers grew the process by half a gigabyte. ``HeaderLimitedProtocol``
  counts the bytes of the request line and headers as they arrive and answers 431 (and closes the
  connection) as soon as they pass ``max_header_bytes``, so a connection holds at most that plus
  one read buffer. The check has to sit in the protocol: by the time an ASGI middleware runs, the
  headers are already in memory.
* **Trust no proxy by default.** uvicorn's ``proxy_headers`` is on by default and trusts
  ``X-Forwarded-For`` from 127.0.0.1, so behind nothing at all any local client could pick its own
  rate-limit bucket. It is turned off here; the app honours the header only from
  ``DALLAS_CALLS_TRUSTED_PROXIES`` (``limits.trusted_proxies``).
"""

from __future__ import annotations

import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from dallas_calls.api.errors import error_body
from dallas_calls.config import Settings

log = logging.getLogger(__name__)


class HeaderLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on the size of the request head (431 above).

    Two checks, because httptools shows a header only once it is complete: a complete head is
    measured exactly (request target + names + values); a head still incomplete is measured by the
    bytes read since the read in which it began (not counting that read, which may also hold the
    end of the previous request on a kept-alive connection). A connection thus holds at most the
    limit plus two reads of a head before it is answered 431 and closed."""

    max_header_bytes = 16384

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes read since the current request's head began, while incomplete
        self._in_head = False
        self._head_began = False  # the head began in the read being parsed
        self._head_too_large = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_began, self._head_bytes = True, True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
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
        log.info("refused a request head over %d bytes from %s", self.max_header_bytes, self.client)
        body = error_body("headers_too_large", f"request line and headers over {self.max_header_bytes} bytes")
        head = [
            STATUS_LINE[431],
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        self._in_head = False


def header_limited_protocol(max_header_bytes: int) -> type[HeaderLimitedProtocol]:
    """The protocol class with its limit (uvicorn instantiates the class it is given per connection)."""
    return type("HeaderLimitedProtocol", (HeaderLimitedProtocol,), {"max_header_bytes": max_header_bytes})


def server_options(settings: Settings) -> dict[str, Any]:
    """The options of ``uvicorn.run``/``uvicorn.Config`` every server of this app uses: where it
    listens, the limited protocol, and no proxy trust of uvicorn's own (the app decides; see the
    module docstring)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "http": header_limited_protocol(settings.max_header_bytes),
        "ws": "none",
        "proxy_headers": False,
        "server_header": False,
    }
