"""The event bus across replicas: Redis pub/sub in front of an in-process LocalBus.

``publish`` sends the events (JSON, one message per batch) to a Redis channel; one reader task per
process receives every message and hands its events to the internal LocalBus, which fans them out
to this process's subscribers in id order (ids at or below the last delivered are skipped, so a
duplicate never reaches a client twice). A process's own events take the same path, so every
replica sees one order.

Redis pub/sub does not store messages: a replica disconnected from Redis misses what was published
meanwhile. The reader reconnects with backoff; while it is down ``connected`` is False (``/readyz``
reports it) and publish falls back to local delivery so this process's clients still get the
events (other replicas' clients resume by id from their logs or get a ``reset``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from dallas_calls.events.bus import DEFAULT_QUEUE_SIZE, LocalBus, Subscription
from dallas_calls.events.encode import event_from_dict
from dallas_calls.model import Event

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "dallas-calls:events"


def encode_batch(events: Sequence[Event]) -> str:
    return json.dumps({"events": [e.to_dict() for e in events]}, separators=(",", ":"))


def decode_batch(payload: str | bytes) -> list[Event]:
    body: Any = json.loads(payload)
    items = body.get("events") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError("message has no events list")
    return sorted((event_from_dict(item) for item in items), key=lambda e: e.id)


class RedisBus:
    """Same interface as LocalBus (publish, subscribe, subscriber_count, start, stop, dropped)."""

    def __init__(
        self,
        url: str,
        channel: str = DEFAULT_CHANNEL,
        reconnect_max_s: float = 5.0,
    ) -> None:
        self.url = url
        self.channel = channel
        self.reconnect_max_s = reconnect_max_s
        self.local = LocalBus()
        self.connected = False
        self.publish_errors = 0
        self.bad_messages = 0
        self._client: Any = None  # redis.asyncio.Redis (its stubs lag the library)
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None

    # -- the LocalBus side ---------------------------------------------------------------------

    def subscribe(self, maxsize: int = DEFAULT_QUEUE_SIZE) -> Subscription:
        return self.local.subscribe(maxsize)

    @property
    def subscriber_count(self) -> int:
        return self.local.subscriber_count

    @property
    def dropped(self) -> int:
        return self.local.dropped

    @property
    def last_id(self) -> int:
        return self.local.last_id

    def deliver(self, events: Sequence[Event]) -> None:
        self.local.deliver(events)

    # -- Redis ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and start the reader; waits (up to 5 s) for the channel subscription so that
        events published right after start are not missed. Redis being down does not fail start:
        the reader keeps retrying."""
        if self._reader is not None:
            return
        self._client = aioredis.Redis.from_url(self.url, socket_connect_timeout=5)
        self._ready = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="redis-bus-reader")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._client is not None:
            await _aclose(self._client)
            self._client = None
        self.connected = False
        await self.local.stop()

    async def publish(self, events: Sequence[Event]) -> None:
        """Send to every replica (this one included, through the reader). Never raises: when Redis
        is unreachable the events are delivered to this process's subscribers only."""
        if not events:
            return
        try:
            if self._client is None:
                raise ConnectionError("redis bus not started")
            await self._client.publish(self.channel, encode_batch(events))
        except Exception as exc:
            self.publish_errors += 1
            log.error("redis publish of %d events failed (%s); delivering locally only", len(events), exc)
            self.local.deliver(events)

    async def _read(self) -> None:
        backoff = 0.1
        while True:
            assert self._client is not None
            pubsub: Any = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.connected = True
                backoff = 0.1
                if self._ready is not None:
                    self._ready.set()
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        events = decode_batch(message["data"])
                    except (ValueError, KeyError, TypeError) as exc:
                        self.bad_messages += 1
                        log.warning("ignoring a malformed message on %s: %s", self.channel, exc)
                        continue
                    self.local.deliver(events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected:
                    log.warning("redis bus disconnected (%s); reconnecting", exc)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await _aclose(pubsub)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.reconnect_max_s)


async def _aclose(resource: Any) -> None:
    """``aclose()`` (redis >= 5) or ``close()`` (older)."""
    closer = getattr(resource, "aclose", None) or resource.close
    await closer()
