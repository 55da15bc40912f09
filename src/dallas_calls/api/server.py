"""Running the app under uvicorn, with SSE streams that end when the server stops.

uvicorn waits for open requests to finish before it stops, and an SSE stream never finishes by
itself; so on SIGINT/SIGTERM the streams are told to end (clients reconnect by id, to another
replica or to this one once it is back), and whatever is still open after
``GRACEFUL_SHUTDOWN_S`` is cancelled.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

from dallas_calls.config import Settings

GRACEFUL_SHUTDOWN_S = 5


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


def serve_app(app: FastAPI, settings: Settings) -> None:
    """Serve ``app`` on the configured host and port until a signal stops it."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    StreamingServer(config, on_exit=app.state.view.close_streams).run()
