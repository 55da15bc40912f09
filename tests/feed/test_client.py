"""The Socrata client against the fake Socrata server: real HTTP on 127.0.0.1, real snapshots."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from dallas_calls.feed.client import DEFAULT_FEED_URL, FeedConfig, FeedError, SocrataFeed, parse_retry_after
from tests.fakes.data import load_feed_snapshot
from tests.fakes.socrata import (
    Disconnect,
    FakeSocrata,
    Hang,
    Pass,
    RateLimited,
    Respond,
    ServerError,
    TruncatedJson,
)

Rows = list[dict[str, Any]]


class SleepRecorder:
    """Stands in for asyncio.sleep: records each requested wait and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class UpperBoundRandom(random.Random):
    """A jitter source that always picks the top of the range, to make backoff ceilings visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def first() -> Rows:
    return load_feed_snapshot("2019-06-18T05-17-00Z")  # 59 rows


@pytest.fixture
def second() -> Rows:
    return load_feed_snapshot("2019-06-18T06-09-00Z")  # 87 rows


@pytest.fixture
def fake(first: Rows, second: Rows) -> Iterator[FakeSocrata]:
    with FakeSocrata([first, second]) as server:
        yield server


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def make_feed(url: str, sleeps: SleepRecorder | None = None, **overrides: Any) -> SocrataFeed:
    config = FeedConfig(url=url, **{"timeout_s": 2.0, **overrides})
    if sleeps is None:
        return SocrataFeed(config)
    return SocrataFeed(config, sleep=sleeps)


# --- reading the whole feed -------------------------------------------------------------------


async def test_fetch_returns_the_snapshot_rows_exactly_as_received(fake: FakeSocrata, first: Rows) -> None:
    async with make_feed(fake.url) as feed:
        assert await feed.fetch() == first


async def test_paging_reads_all_rows_across_pages_in_stable_order(fake: FakeSocrata, second: Rows) -> None:
    fake.advance()  # serve the 87-row snapshot
    fake.auto_advance = False
    async with make_feed(fake.url, page_size=10) as feed:
        rows = await feed.fetch()
    assert rows == second  # every row, once, in :id order
    pages = fake.requests
    assert [r.query["$offset"] for r in pages] == [str(n) for n in range(0, 90, 10)]
    assert {r.query["$limit"] for r in pages} == {"10"}
    assert {r.query["$order"] for r in pages} == {":id"}
    assert {r.snapshot_index for r in pages} == {1}


async def test_feed_that_is_an_exact_multiple_of_the_page_size_ends_on_an_empty_page(
    fake: FakeSocrata, second: Rows
) -> None:
    fake.advance()
    fake.auto_advance = False
    async with make_feed(fake.url, page_size=29) as feed:  # 87 = 3 * 29
        assert await feed.fetch() == second
    assert [r.query["$offset"] for r in fake.requests] == ["0", "29", "58", "87"]


async def test_feed_larger_than_socratas_default_page_is_read_whole() -> None:
    big = [
        {"incident_number": f"24-{n:07d}", "location": "Main St", "unit_number": f"U{n}"} for n in range(2500)
    ]
    with FakeSocrata([big]) as fake:
        async with make_feed(fake.url) as feed:  # default page_size 1000
            rows = await feed.fetch()
    assert rows == big
    assert [r.query["$offset"] for r in fake.requests] == ["0", "1000", "2000"]


async def test_an_endless_feed_is_a_feed_error(fake: FakeSocrata) -> None:
    async with make_feed(fake.url, page_size=10, max_pages=3) as feed:
        with pytest.raises(FeedError, match="did not end after 3 pages"):
            await feed.fetch()


async def test_a_page_longer_than_the_limit_is_a_feed_error(fake: FakeSocrata, second: Rows) -> None:
    fake.inject(Respond(200, json.dumps(second[:20])))
    async with make_feed(fake.url, page_size=10) as feed:
        with pytest.raises(FeedError, match=r"more than \$limit=10"):
            await feed.fetch()


async def test_non_object_elements_are_passed_through_for_the_schema_to_quarantine() -> None:
    rows: list[Any] = [{"incident_number": "1", "location": "Elm St"}, "junk", None]
    with FakeSocrata([rows]) as fake:
        async with make_feed(fake.url) as feed:
            assert await feed.fetch() == rows


# --- headers ----------------------------------------------------------------------------------


async def test_app_token_is_sent_as_x_app_token_header(first: Rows) -> None:
    with FakeSocrata([first], app_token="s3cret") as fake:
        async with make_feed(fake.url, app_token="s3cret") as feed:
            assert await feed.fetch() == first
        assert fake.requests[0].headers["x-app-token"] == "s3cret"


async def test_no_app_token_header_without_a_token(fake: FakeSocrata) -> None:
    async with make_feed(fake.url) as feed:
        await feed.fetch()
    headers = fake.requests[0].headers
    assert "x-app-token" not in headers
    assert headers["user-agent"].startswith("dallas-calls/")
    assert headers["accept"] == "application/json"


async def test_a_rejected_app_token_fails_at_once(first: Rows, sleeps: SleepRecorder) -> None:
    with FakeSocrata([first], app_token="right") as fake:
        async with make_feed(fake.url, sleeps, app_token="wrong") as feed:
            with pytest.raises(FeedError, match=r"HTTP 403.*Invalid app_token") as caught:
                await feed.fetch()
        assert len(fake.requests) == 1
    assert caught.value.status == 403
    assert sleeps.calls == []


def test_config_repr_never_shows_the_app_token() -> None:
    text = repr(FeedConfig(app_token="s3cret"))
    assert "s3cret" not in text
    assert DEFAULT_FEED_URL in text


# --- retries ----------------------------------------------------------------------------------


async def test_retries_after_a_500_then_returns_the_snapshot(
    fake: FakeSocrata, first: Rows, sleeps: SleepRecorder
) -> None:
    fake.inject(ServerError(500))
    async with make_feed(fake.url, sleeps, backoff_base_s=0.5) as feed:
        assert await feed.fetch() == first
    assert [r.fault for r in fake.requests] == ["ServerError(500)", None]
    assert len(sleeps.calls) == 1
    assert 0.0 <= sleeps.calls[0] <= 0.5  # full jitter: uniform(0, base)


async def test_backoff_doubles_per_attempt_and_is_capped(fake: FakeSocrata, first: Rows) -> None:
    fake.inject(ServerError(503), ServerError(502), ServerError(500), ServerError(504))
    sleeps = SleepRecorder()
    config = FeedConfig(url=fake.url, max_attempts=5, backoff_base_s=1.0, backoff_max_s=3.0)
    async with SocrataFeed(config, sleep=sleeps, rng=UpperBoundRandom()) as feed:
        assert await feed.fetch() == first
    assert sleeps.calls == [1.0, 2.0, 3.0, 3.0]


async def test_jittered_waits_stay_within_the_exponential_ceiling(fake: FakeSocrata, first: Rows) -> None:
    fake.inject(ServerError(), ServerError(), ServerError())
    sleeps = SleepRecorder()
    config = FeedConfig(url=fake.url, backoff_base_s=1.0, backoff_max_s=30.0)
    async with SocrataFeed(config, sleep=sleeps, rng=random.Random(7)) as feed:
        assert await feed.fetch() == first
    assert len(sleeps.calls) == 3
    for attempt, waited in enumerate(sleeps.calls, start=1):
        assert 0.0 <= waited <= 2 ** (attempt - 1)


async def test_persistent_5xx_is_a_feed_error_with_the_status(
    fake: FakeSocrata, sleeps: SleepRecorder
) -> None:
    fake.inject(*[ServerError(503)] * 4)
    async with make_feed(fake.url, sleeps, max_attempts=4) as feed:
        with pytest.raises(FeedError, match=r"HTTP 503.*gave up after 4 attempts") as caught:
            await feed.fetch()
    assert caught.value.status == 503
    assert caught.value.attempts == 4
    assert len(fake.requests) == 4
    assert len(sleeps.calls) == 3


async def test_429_retry_after_seconds_is_honoured(
    fake: FakeSocrata, first: Rows, sleeps: SleepRecorder
) -> None:
    fake.inject(RateLimited(retry_after=7))
    async with make_feed(fake.url, sleeps) as feed:
        assert await feed.fetch() == first
    assert sleeps.calls == [7.0]


async def test_429_retry_after_http_date_is_honoured(
    fake: FakeSocrata, first: Rows, sleeps: SleepRecorder
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=20)
    fake.inject(RateLimited(retry_after=format_datetime(when, usegmt=True)))
    async with make_feed(fake.url, sleeps) as feed:
        assert await feed.fetch() == first
    assert len(sleeps.calls) == 1
    assert 15.0 < sleeps.calls[0] <= 20.0


async def test_retry_after_is_capped_by_backoff_max(fake: FakeSocrata, sleeps: SleepRecorder) -> None:
    fake.inject(RateLimited(retry_after=3600))
    async with make_feed(fake.url, sleeps, backoff_max_s=5.0) as feed:
        await feed.fetch()
    assert sleeps.calls == [5.0]


async def test_429_without_retry_after_falls_back_to_backoff(fake: FakeSocrata, first: Rows) -> None:
    fake.inject(RateLimited(retry_after=None))
    sleeps = SleepRecorder()
    config = FeedConfig(url=fake.url, backoff_base_s=0.25)
    async with SocrataFeed(config, sleep=sleeps, rng=UpperBoundRandom()) as feed:
        assert await feed.fetch() == first
    assert sleeps.calls == [0.25]


async def test_retry_really_waits_with_the_default_sleep(fake: FakeSocrata, first: Rows) -> None:
    fake.inject(RateLimited(retry_after=1))
    async with make_feed(fake.url, backoff_max_s=0.2) as feed:  # Retry-After 1 s capped to 0.2 s
        started = time.monotonic()
        assert await feed.fetch() == first
        elapsed = time.monotonic() - started
    limited, served = fake.requests
    assert served.at - limited.at >= 0.2
    assert 0.2 <= elapsed < 2.0


async def test_timeout_then_success(fake: FakeSocrata, first: Rows, sleeps: SleepRecorder) -> None:
    fake.inject(Hang(seconds=10))
    async with make_feed(fake.url, sleeps, timeout_s=0.3) as feed:
        started = time.monotonic()
        assert await feed.fetch() == first
        elapsed = time.monotonic() - started
    assert elapsed < 3.0  # the hang was cut by the client timeout, not waited out
    assert [r.fault for r in fake.requests] == ["Hang", None]
    assert len(sleeps.calls) == 1


async def test_persistent_timeout_is_a_feed_error_that_says_so(
    fake: FakeSocrata, sleeps: SleepRecorder
) -> None:
    fake.inject(Hang(10), Hang(10))
    async with make_feed(fake.url, sleeps, timeout_s=0.2, max_attempts=2) as feed:
        with pytest.raises(FeedError, match="timed out"):
            await feed.fetch()


async def test_truncated_json_is_retried_then_succeeds(
    fake: FakeSocrata, first: Rows, sleeps: SleepRecorder
) -> None:
    fake.inject(TruncatedJson(0.5))
    async with make_feed(fake.url, sleeps) as feed:
        assert await feed.fetch() == first
    assert [r.fault for r in fake.requests] == ["TruncatedJson", None]


async def test_persistently_truncated_json_is_a_feed_error(fake: FakeSocrata, sleeps: SleepRecorder) -> None:
    fake.inject(*[TruncatedJson(0.9)] * 3)
    async with make_feed(fake.url, sleeps, max_attempts=3) as feed:
        with pytest.raises(FeedError, match=r"malformed JSON.*gave up after 3 attempts"):
            await feed.fetch()
    assert len(fake.requests) == 3
    assert len(sleeps.calls) == 2


async def test_a_body_that_is_not_an_array_is_retried_then_a_feed_error(
    fake: FakeSocrata, sleeps: SleepRecorder
) -> None:
    fake.inject(*[Respond(200, '{"rows": []}')] * 2)
    async with make_feed(fake.url, sleeps, max_attempts=2) as feed:
        with pytest.raises(FeedError, match="expected a JSON array, got dict"):
            await feed.fetch()
    assert len(fake.requests) == 2


async def test_a_dropped_connection_is_retried(fake: FakeSocrata, first: Rows, sleeps: SleepRecorder) -> None:
    fake.inject(Disconnect())
    async with make_feed(fake.url, sleeps) as feed:
        assert await feed.fetch() == first
    assert len(sleeps.calls) == 1


async def test_connection_refused_is_retried_then_a_feed_error(first: Rows, sleeps: SleepRecorder) -> None:
    with FakeSocrata([first]) as fake:
        url = fake.url
    # The server is gone: its port now refuses connections.
    async with make_feed(url, sleeps, max_attempts=3) as feed:
        with pytest.raises(FeedError, match="connection error"):
            await feed.fetch()
    assert len(sleeps.calls) == 2


async def test_404_is_a_feed_error_without_retry(fake: FakeSocrata, sleeps: SleepRecorder) -> None:
    async with make_feed(fake.base_url + "/resource/nope-nope.json", sleeps) as feed:
        with pytest.raises(FeedError, match="HTTP 404") as caught:
            await feed.fetch()
    assert caught.value.status == 404
    assert len(fake.requests) == 1
    assert sleeps.calls == []


async def test_400_is_a_feed_error_without_retry(fake: FakeSocrata, sleeps: SleepRecorder) -> None:
    fake.inject(Respond(400, '{"message": "bad query"}'))
    async with make_feed(fake.url, sleeps) as feed:
        with pytest.raises(FeedError, match=r"HTTP 400.*bad query"):
            await feed.fetch()
    assert len(fake.requests) == 1


async def test_a_failed_later_page_is_retried_alone_and_the_snapshot_stays_whole(
    fake: FakeSocrata, first: Rows, sleeps: SleepRecorder
) -> None:
    fake.inject(Pass(), ServerError())  # page 0 is fine, page 1 fails once
    async with make_feed(fake.url, sleeps, page_size=20) as feed:
        rows = await feed.fetch()
    assert rows == first
    offsets = [(r.query["$offset"], r.fault) for r in fake.requests]
    assert offsets == [("0", None), ("20", "ServerError(500)"), ("20", None), ("40", None)]


async def test_a_retry_of_the_first_page_does_not_skip_a_snapshot(
    fake: FakeSocrata, first: Rows, second: Rows, sleeps: SleepRecorder
) -> None:
    async with make_feed(fake.url, sleeps) as feed:
        assert await feed.fetch() == first
        fake.inject(ServerError(), TruncatedJson())
        assert await feed.fetch() == second


async def test_aclose_leaves_a_shared_client_open(fake: FakeSocrata, first: Rows) -> None:
    async with httpx.AsyncClient() as client:
        feed = SocrataFeed(FeedConfig(url=fake.url), client=client)
        assert await feed.fetch() == first
        await feed.aclose()
        assert not client.is_closed
    assert feed.name == fake.url


def test_bad_config_values_are_rejected() -> None:
    with pytest.raises(ValueError, match="page_size"):
        FeedConfig(page_size=0)
    with pytest.raises(ValueError, match="max_attempts"):
        FeedConfig(max_attempts=0)


# --- Retry-After parsing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: retry now
        ("-3", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected
