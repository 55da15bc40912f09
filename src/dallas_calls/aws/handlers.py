"""Lambda entry points of the AWS runtime: thin wiring of the same stages as ``dallas-calls serve``.

================  ==========================================  =========================================
handler           trigger                                     does
================  ==========================================  =========================================
``downloader``    EventBridge schedule                        Socrata → ``s3://BUCKET/raw/...json.gz``
                                                              (:func:`~dallas_calls.pipeline.archive_raw`)
``tracker``       SQS (SNS-wrapped S3 ObjectCreated)          raw snapshot → :func:`plan_poll` →
                                                              one DynamoDB transaction (events + state)
``locator``       second SQS queue on the same topic          new location keys → geocoding chain →
                                                              ``locations`` + ``location.resolved``
                                                              (one transaction per 40 keys)
``publisher``     DynamoDB Stream of the ``events`` table     ``s3://BUCKET/changes/...`` and
                                                              ``POST {API_URL}/events/``
                                                              (:mod:`dallas_calls.aws.publish`)
``publisher_      the publisher's DLQ (mapping off until      the dead-lettered batches, read back
redrive``         an operator turns it on)                    from the stream, published again
================  ==========================================  =========================================

Configuration: environment variables, see :mod:`dallas_calls.aws.config`.

Failure handling. The SQS handlers return ``batchItemFailures`` (the event source mapping needs
``ReportBatchItemFailures``): a message that fails is retried by SQS and, after the queue's
``maxReceiveCount``, lands in its DLQ. The tracker processes a batch in fetch-time order and, after a
failure, defers the rest of the batch (reported failed, untouched) so it never applies a newer
snapshot over an older one that is still due. A snapshot not newer than the tracker's high-water mark
is skipped and reported (``duplicate`` for the same key, ``stale`` for an older one): redelivery and
out-of-order delivery cannot apply twice or roll state back. The publisher stops at the first failing
stream record and reports its sequence number, so order is kept; the event source mapping retries
it until the record is 6 hours old, then its on-failure destination (an SQS DLQ) keeps its position
for the redrive. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from dallas_calls.archive.keys import RAW_PREFIX, key_time
from dallas_calls.archive.store import decode_snapshot
from dallas_calls.aws.publish import handle_publisher, handle_redrive
from dallas_calls.aws.wiring import Runtime, runtime
from dallas_calls.feed.schema import parse_rows
from dallas_calls.feed.source import LiveSource, Snapshot
from dallas_calls.locating import Resolution, resolve_location
from dallas_calls.model import PollRecord, iso_utc
from dallas_calls.pipeline import archive_raw, plan_poll
from dallas_calls.storage.dynamodb import StaleSnapshot
from dallas_calls.tracking.snapshot import SnapshotCall, group_rows
from dallas_calls.tracking.state import CallsInMemory

__all__ = [
    "Runtime",
    "downloader",
    "handle_publisher",
    "handle_redrive",
    "locator",
    "publisher",
    "publisher_redrive",
    "tracker",
]

log = logging.getLogger("dallas_calls.aws")

TRACKER_ATTEMPTS = 8

LambdaEvent = dict[str, Any]


# -- S3 notifications through SNS and SQS -------------------------------------------------------


class BadMessage(ValueError):
    """An SQS message that is not an S3 notification (it goes to the DLQ after retries)."""


def s3_keys(record: LambdaEvent) -> list[str]:
    """The object keys (URL-decoded) of the ObjectCreated events in one SQS record: the body is an
    SNS envelope (or, with raw delivery, the S3 event itself). A ``s3:TestEvent`` has no keys."""
    try:
        body = json.loads(record["body"])
        if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
            body = json.loads(body["Message"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"message body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadMessage("message body is not an object")
    if body.get("Event") == "s3:TestEvent":
        return []
    if "Records" not in body:
        raise BadMessage("message is not an S3 event notification")
    keys = []
    for item in body["Records"]:
        if not str(item.get("eventName", "")).startswith("ObjectCreated"):
            continue
        try:
            keys.append(unquote_plus(item["s3"]["object"]["key"]))
        except (KeyError, TypeError) as exc:
            raise BadMessage(f"S3 record without an object key: {exc}") from exc
    return keys


def _snapshot_keys(rt: Runtime, record: LambdaEvent) -> list[str]:
    found = []
    for key in s3_keys(record):
        archive_key = rt.strip_prefix(key)
        if archive_key is None or not archive_key.startswith(RAW_PREFIX) or key_time(archive_key) is None:
            log.info("ignoring an object outside the raw archive", extra={"key": key})
            continue
        found.append(archive_key)
    return found


def _read_rows(rt: Runtime, key: str) -> list[Any]:
    rows = decode_snapshot(rt.archive.get(key))
    if not isinstance(rows, list):
        raise ValueError(f"{key} does not hold a JSON array")
    return rows


# -- downloader ----------------------------------------------------------------------------------


def handle_download(rt: Runtime) -> dict[str, Any]:
    """Fetch the whole feed and archive it raw. A feed error is recorded as a failed poll (the API's
    readiness shows it) and raised, so the invocation counts as an error in CloudWatch."""
    from dallas_calls.feed.client import FeedConfig, SocrataFeed

    settings = rt.settings
    app_token = settings.app_token
    if not app_token and rt.config.app_token_secret_arn:
        app_token = rt.secret(rt.config.app_token_secret_arn)
    config = FeedConfig(
        url=settings.feed_url,
        app_token=app_token,
        page_size=settings.feed_page_size,
        timeout_s=settings.feed_timeout_s,
        max_attempts=settings.feed_max_attempts,
    )
    started = rt.clock()
    t0 = time.perf_counter()

    async def fetch() -> Snapshot:
        async with SocrataFeed(config) as feed:
            return await LiveSource(feed, rt.clock).next_snapshot()

    try:
        snapshot = asyncio.run(fetch())
    except Exception as exc:
        reason = f"fetch: {exc}"
        log.error("poll failed", extra={"outcome": "failed", "reason": reason})
        rt.store.record_poll(
            PollRecord(
                started_at=iso_utc(started),
                outcome="failed",
                duration_ms=(time.perf_counter() - t0) * 1000,
                reason=reason,
                source=config.url,
            )
        )
        raise
    fetched_at, key = archive_raw(rt.archive, snapshot.archived, snapshot.fetched_at)
    result = {
        "snapshot_key": key,
        "rows": len(snapshot.rows),
        "fetched_at": iso_utc(fetched_at),
        "duration_ms": round((time.perf_counter() - t0) * 1000, 1),
    }
    log.info("snapshot archived", extra=result)
    return result


def downloader(event: LambdaEvent, context: Any = None) -> dict[str, Any]:
    """EventBridge scheduled event → one poll of the feed into the raw archive."""
    return handle_download(runtime())


# -- tracker ------------------------------------------------------------------------------------


def track_snapshot(rt: Runtime, key: str) -> dict[str, Any]:
    """Apply one archived snapshot, exactly once and in order. Returns what happened. A lost race
    (another tracker or the locator committed first) replans from the new state and tries again."""
    fetched_at = key_time(key)
    if fetched_at is None:
        return {"snapshot_key": key, "outcome": "ignored", "reason": "not a snapshot key"}
    now = iso_utc(fetched_at)
    rows: list[Any] = []
    attempts = 0
    store = rt.store
    settings = rt.settings

    def attempt() -> dict[str, Any]:
        nonlocal attempts, rows
        attempts += 1
        t0 = time.perf_counter()
        state = store.load_tracker()
        store.repair(state)
        if state.fetched_at is not None and now <= state.fetched_at:
            same = key == state.snapshot_key
            return {
                "snapshot_key": key,
                "outcome": "duplicate" if same else "stale",
                "reason": f"already applied up to {state.snapshot_key} ({state.fetched_at})",
            }
        rows = rows or _read_rows(rt, key)
        counter = store.last_event_id()  # read before the cache: a locator commit in between is caught
        plan = plan_poll(
            CallsInMemory(state.calls, state.misses, closed=store.calls_by_number),
            rows,
            now,
            previous_held=state.held,
            geo_lookup=lambda location_key: store.get_location(location_key, now),
            min_open=settings.guard_min_open,
            max_drop_fraction=settings.guard_max_drop,
            close_after=settings.close_after_polls,
        )
        poll = PollRecord(
            started_at=now,
            outcome=plan.decision.outcome,
            rows=plan.rows,
            quarantined=len(plan.quarantined),
            duration_ms=(time.perf_counter() - t0) * 1000,
            reason=plan.decision.reason,
            source="aws:tracker",
            snapshot_key=key,
            counts=plan.changes.counts(),
        )
        try:
            events = store.apply_poll(
                state,
                counter,
                plan.changes,
                poll,
                plan.seen,
                plan.quarantined,
                archive_at=fetched_at,
                misses=plan.misses,
            )
        except StaleSnapshot as exc:
            return {"snapshot_key": key, "outcome": "stale", "reason": str(exc)}
        return {
            "snapshot_key": key,
            "outcome": plan.decision.outcome,
            "reason": plan.decision.reason,
            "rows": plan.rows,
            "quarantined": len(plan.quarantined),
            **plan.changes.counts(),
            "first_event_id": events[0].id if events else None,
            "last_event_id": events[-1].id if events else None,
            "attempts": attempts,
        }

    return store.retry_conflicts(attempt, f"tracker {key}", TRACKER_ATTEMPTS)


def _sqs_batch(
    rt: Runtime, event: LambdaEvent, work: Callable[[Runtime, str], dict[str, Any]], ordered: bool
) -> dict[str, Any]:
    """Run ``work`` per snapshot key of an SQS batch, in fetch-time order; report failures."""
    failures: list[str] = []
    jobs: list[tuple[datetime, str, str]] = []  # (fetch time, key, message id)
    for record in event.get("Records", []):
        message_id = str(record.get("messageId"))
        try:
            keys = _snapshot_keys(rt, record)
        except BadMessage as exc:
            log.error("unreadable message", extra={"message_id": message_id, "reason": str(exc)})
            failures.append(message_id)
            continue
        if not keys:
            log.info(
                "message without snapshots (test event or other object)", extra={"message_id": message_id}
            )
        for key in keys:
            at = key_time(key)
            assert at is not None
            jobs.append((at, key, message_id))
    jobs.sort()
    failed_at: datetime | None = None
    for at, key, message_id in jobs:
        if message_id in failures:
            continue
        if ordered and failed_at is not None and at >= failed_at:
            log.warning(
                "deferred after an earlier failure", extra={"snapshot_key": key, "message_id": message_id}
            )
            failures.append(message_id)
            continue
        try:
            result = work(rt, key)
        except Exception:
            log.exception("snapshot failed", extra={"snapshot_key": key, "message_id": message_id})
            failures.append(message_id)
            failed_at = at if failed_at is None else failed_at
            continue
        log.info("snapshot processed", extra={**result, "message_id": message_id})
    return {"batchItemFailures": [{"itemIdentifier": m} for m in dict.fromkeys(failures)]}


def handle_tracker(rt: Runtime, event: LambdaEvent) -> dict[str, Any]:
    return _sqs_batch(rt, event, track_snapshot, ordered=True)


def tracker(event: LambdaEvent, context: Any = None) -> dict[str, Any]:
    """SQS batch of SNS-wrapped S3 ObjectCreated notifications → the tracker stage."""
    return handle_tracker(runtime(), event)


# -- locator ------------------------------------------------------------------------------------


def locate_snapshot(rt: Runtime, key: str) -> dict[str, Any]:
    """Geocode the location keys of a snapshot that have no fresh cached answer (at most
    ``locate_limit``; the rest are picked up with the next snapshot), cache every answer, and append
    the ``location.resolved`` events of the located ones: answers and events are committed together
    (:meth:`~dallas_calls.storage.dynamodb.DynamoStore.record_locations`), so a failure leaves neither
    and the redelivered message locates those keys again."""
    locator = rt.get_locator()
    if locator is None:
        return {"snapshot_key": key, "outcome": "skipped", "reason": "geocoding is off"}
    rows, _ = parse_rows(_read_rows(rt, key))
    by_key: dict[str, list[SnapshotCall]] = {}
    for call in group_rows(rows).values():
        by_key.setdefault(call.location_key, []).append(call)
    now_dt = rt.clock()
    now = iso_utc(now_dt)
    fresh = rt.store.fresh_locations(by_key, now)
    pending = sorted(k for k in by_key if k not in fresh)
    keys = pending[: rt.config.locate_limit]
    found: list[Resolution] = []
    errors = 0
    for location_key in keys:
        try:
            found.append(resolve_location(locator, location_key, by_key[location_key], now_dt))
        except Exception as exc:  # a broken provider must not stop the others' keys
            errors += 1
            log.warning("locating failed", extra={"location_key": location_key, "reason": str(exc)})
    events = rt.store.record_locations(found, resolved_at=now, archive_at=now_dt)
    return {
        "snapshot_key": key,
        "outcome": "ok",
        "keys": len(by_key),
        "asked": len(keys),
        "deferred": len(pending) - len(keys),
        "located": len(events),
        "errors": errors,
    }


def handle_locator(rt: Runtime, event: LambdaEvent) -> dict[str, Any]:
    return _sqs_batch(rt, event, locate_snapshot, ordered=False)


def locator(event: LambdaEvent, context: Any = None) -> dict[str, Any]:
    """SQS batch (second queue on the same topic) → the locating stage."""
    return handle_locator(runtime(), event)


# -- publisher ----------------------------------------------------------------------------------


def publisher(event: LambdaEvent, context: Any = None) -> dict[str, Any]:
    """DynamoDB Stream of the events table → change archive + the API's ingest."""
    return handle_publisher(runtime(), event)


def publisher_redrive(event: LambdaEvent, context: Any = None) -> dict[str, Any]:
    """SQS batch from the publisher's DLQ (a mapping enabled by hand once the cause is fixed) →
    the dead-lettered batches published again."""
    return handle_redrive(runtime(), event)
