"""Async client for the City of Dallas active-calls feed (Socrata dataset ``9fxf-t2tr``).

:meth:`SocrataFeed.fetch_pages` returns the whole snapshot, every response body exactly as received
(the bytes the raw archive keeps) with its decoded rows, or raises :class:`FeedError`. It never returns a partial snapshot: the tracker closes every call missing from
a snapshot, so a silently truncated read would close real calls.

How the read is made robust:

- **Paging.** Socrata returns at most ``$limit`` rows per request (1,000 when unset), so the feed is
  read page by page with ``$limit``/``$offset`` and a stable ``$order=:id`` until a page shorter than
  ``$limit`` arrives. Without the order, pages of an unordered query may overlap or skip rows.
  A ``max_pages`` bound stops a feed that never ends (a server ignoring ``$offset``).
- **Timeouts.** httpx's per-operation timeouts plus an overall deadline per request, so a server
  that trickles bytes cannot hold a poll forever.
- **Retries** with exponential backoff and full jitter (``uniform(0, min(max, base * 2**n))``,
  which spreads retries of many clients) on timeouts, connection errors, 5xx, 429, and a body that is
  not a JSON array (a truncated response). A ``Retry-After`` header (seconds or HTTP-date) is
  honoured, capped by ``backoff_max_s`` so one header cannot stall the poller for an hour.
  Other 4xx are our fault (bad URL, bad token, bad query): retrying cannot help, so they fail at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx

from dallas_calls.feed.body import decode_json

__all__ = ["DEFAULT_FEED_URL", "FeedConfig", "FeedError", "FeedPage", "SocrataFeed", "parse_retry_after"]

logger = logging.getLogger(__name__)

DEFAULT_FEED_URL = "https://www.dallasopendata.com/resource/9fxf-t2tr.json"
OFF_LOOP_BYTES = 256 * 1024

Sleep = Callable[[float], Awaitable[None]]


class FeedError(Exception):
    """The feed could not be read whole; the message says why (status, timeout, bad JSON...).

    ``status`` is the last HTTP status seen, if any; ``attempts`` how many requests were made for
    the page that failed.
    """

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One response: its body byte for byte, and the JSON array it holds."""

    body: bytes
    rows: list[Any]


class _Retryable(Exception):
    """A failure worth another attempt; ``retry_after`` is the server's requested wait, if any."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class FeedConfig:
    """How to reach the feed and how hard to try.

    ``timeout_s`` bounds each request (connect + response); ``max_attempts`` counts the first try.
    ``max_pages`` guards against an endless feed; ``max_response_bytes`` against an absurd body.
    """

    url: str = DEFAULT_FEED_URL
    app_token: str | None = None
    page_size: int = 1000
    timeout_s: float = 10.0
    max_attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    user_agent: str = "dallas-calls/0.1 (+https://github.com/dallas-calls)"
    max_pages: int = 100
    max_response_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError("backoff times must not be negative")

    def __repr__(self) -> str:
        # Never print the app token (config objects end up in logs and tracebacks).
        token = "***" if self.app_token else None
        return (
            f"FeedConfig(url={self.url!r}, app_token={token!r}, page_size={self.page_size}, "
            f"timeout_s={self.timeout_s}, max_attempts={self.max_attempts}, "
            f"backoff_base_s={self.backoff_base_s}, backoff_max_s={self.backoff_max_s}, "
            f"max_pages={self.max_pages})"
        )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header, or ``None`` if absent or unreadable.

    The header is either a number of seconds or an HTTP-date (RFC 9110 §10.2.3); a date in the past
    means "now" (0). The caller applies its own cap.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # reject NaN and negatives
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


class SocrataFeed:
    """Reads the whole active-calls snapshot from a Socrata endpoint.

    Pass ``client`` to share a connection pool (it is then not closed by :meth:`aclose`), ``sleep``
    to make retry waits observable or instant in tests, ``rng`` to make the jitter deterministic.
    """

    def __init__(
        self,
        config: FeedConfig,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.name: str = config.url
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s),
            follow_redirects=True,
        )
        self._sleep = sleep
        self._rng = rng or random.Random()
        headers = {"Accept": "application/json", "User-Agent": config.user_agent}
        if config.app_token:
            headers["X-App-Token"] = config.app_token
        self._headers = headers

    async def __aenter__(self) -> SocrataFeed:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this feed created it."""
        if self._owns_client:
            await self._client.aclose()

    async def fetch(self) -> list[Any]:
        """The rows of :meth:`fetch_pages`, in ``:id`` order."""
        return [row for page in await self.fetch_pages() for row in page.rows]

    async def fetch_pages(self) -> list[FeedPage]:
        """The whole snapshot: every page, each body exactly as received, in ``:id`` order.

        Rows are whatever the JSON arrays held; a non-object element is passed through for the
        schema to quarantine. Raises :class:`FeedError` if any page cannot be read after the
        allowed attempts.
        """
        limit = self.config.page_size
        pages: list[FeedPage] = []
        for page_number in range(self.config.max_pages):
            page = await self._fetch_page(offset=page_number * limit, limit=limit)
            if len(page.rows) > limit:
                # The server ignored $limit; paging by offset would then be meaningless.
                raise FeedError(
                    f"{self.name}: page at offset {page_number * limit} has {len(page.rows)} rows, "
                    f"more than $limit={limit}"
                )
            pages.append(page)
            if len(page.rows) < limit:
                return pages
        raise FeedError(
            f"{self.name}: feed did not end after {self.config.max_pages} pages of {limit} rows "
            f"({sum(len(p.rows) for p in pages)} rows read); refusing to read an endless feed"
        )

    async def _fetch_page(self, *, offset: int, limit: int) -> FeedPage:
        params = {"$limit": str(limit), "$offset": str(offset), "$order": ":id"}
        attempts = self.config.max_attempts
        last: _Retryable | None = None
        for attempt in range(1, attempts + 1):
            try:
                return await self._request_page(params)
            except _Retryable as failure:
                last = failure
                if attempt == attempts:
                    break
                delay = self._delay(attempt, failure.retry_after)
                logger.warning(
                    "feed %s offset %d: %s; attempt %d/%d, retrying in %.2fs",
                    self.name,
                    offset,
                    failure.message,
                    attempt,
                    attempts,
                    delay,
                )
                await self._sleep(delay)
            except FeedError as error:
                error.attempts = attempt
                raise
        assert last is not None
        raise FeedError(
            f"{self.name} offset {offset}: {last.message} (gave up after {attempts} attempts)",
            status=last.status,
            attempts=attempts,
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Wait before the next attempt: the server's Retry-After if given, else jittered backoff."""
        cap = self.config.backoff_max_s
        if retry_after is not None:
            return min(retry_after, cap)
        ceiling = min(cap, self.config.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)

    async def _request_page(self, params: dict[str, str]) -> FeedPage:
        """One request for one page. Raises _Retryable for transient failures, FeedError otherwise."""
        timeout = self.config.timeout_s
        try:
            async with (
                asyncio.timeout(timeout),
                self._client.stream("GET", self.config.url, params=params, headers=self._headers) as response,
            ):
                status = response.status_code
                if status == 429 or status >= 500:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    raise _Retryable(f"HTTP {status}", status=status, retry_after=retry_after)
                if not 200 <= status < 300:
                    snippet = await self._read(response, limit=500, truncate=True)
                    detail = snippet.decode("utf-8", "replace").strip()
                    raise FeedError(
                        f"{self.name}: HTTP {status}" + (f": {detail}" if detail else ""), status=status
                    )
                body = await self._read(response, limit=self.config.max_response_bytes)
        except TimeoutError:
            raise _Retryable(f"timed out after {timeout}s") from None
        except httpx.TimeoutException as error:
            raise _Retryable(f"timed out ({type(error).__name__}) after {timeout}s") from None
        except httpx.UnsupportedProtocol as error:
            raise FeedError(f"{self.name}: unsupported URL: {error}") from error
        except httpx.TransportError as error:
            raise _Retryable(f"connection error ({type(error).__name__}: {error})") from None
        except httpx.InvalidURL as error:
            raise FeedError(f"{self.name}: invalid URL: {error}") from error
        try:
            # A big page is decoded in a worker thread: the event loop serves the API and every SSE
            # stream meanwhile.
            data = (
                await asyncio.to_thread(decode_json, body)
                if len(body) > OFF_LOOP_BYTES
                else decode_json(body)
            )
        except ValueError as error:
            raise _Retryable(f"malformed JSON ({len(body)} bytes: {error})", status=status) from None
        if not isinstance(data, list):
            raise _Retryable(f"expected a JSON array, got {type(data).__name__}", status=status)
        return FeedPage(body, data)

    async def _read(self, response: httpx.Response, *, limit: int, truncate: bool = False) -> bytes:
        """The response body, at most ``limit`` bytes: cut (for error snippets) or refused."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if truncate:
                    return b"".join(chunks)[:limit]
                raise FeedError(f"{self.name}: response larger than {limit} bytes")
        return b"".join(chunks)
