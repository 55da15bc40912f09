"""The ASGI response of one SSE client: lean, because there are thousands of them.

Each connection costs what correctness needs and no more: the server's own task for the request,
which writes the stream, and one small task that waits for the client to go away (it cancels the
writer, so a gone client never keeps its stream). Heartbeats come from the stream itself
(``client_stream`` waits for events with a timeout), not from a task per connection; a client that
stops reading for ``send_timeout_s`` is dropped. (A general-purpose SSE response keeps a task
group of four tasks, events and locks per connection: about a third of the memory of a connection
at 10,000 clients, see bench/RESULTS.md.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dallas_calls import metrics

log = logging.getLogger(__name__)

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # proxies (nginx) must not buffer the stream
]


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, chunks: AsyncIterator[bytes], send_timeout_s: float) -> None:
        # Response.__init__ would render a body; a stream has none.
        self.status_code = 200
        self.background: BackgroundTask | None = None
        self.chunks = chunks
        self.send_timeout_s = send_timeout_s
        self.raw_headers = list(HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        writer = asyncio.current_task()
        assert writer is not None
        gone = _Flag()
        watcher = asyncio.ensure_future(_watch_disconnect(receive, writer, gone))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in self.chunks:
                async with asyncio.timeout(self.send_timeout_s):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:
            metrics.SSE_DROPPED.inc()
            log.info("dropped an SSE client that stopped reading")
        except asyncio.CancelledError:
            if not gone.value:
                raise  # the server is stopping: let the cancellation through
            writer.uncancel()  # our own cancel, because the client left: end quietly
        finally:
            watcher.cancel()
            with contextlib.suppress(Exception):
                await self.chunks.aclose()  # type: ignore[attr-defined]


class _Flag:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = False


async def _watch_disconnect(receive: Receive, writer: asyncio.Task[object], gone: _Flag) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.value = True
            writer.cancel()
            return
