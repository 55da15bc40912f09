"""The publisher stage: an event batch from the ``events`` table's stream → its change record in
``s3://BUCKET/changes/`` and ``POST {API_URL}/events/``, and the redrive of batches its stream
mapping gave up on (their positions wait in the publisher's DLQ).

Retry budget, from the code and the Terraform (``modules/streams``): one invocation tries each POST
``DALLAS_CALLS_PUBLISH_ATTEMPTS`` times (4) with jittered backoff (at most 0.2 + 0.4 + 0.8 s of
sleep) and a 10 s timeout per request; a failure is reported (``batchItemFailures``) and Lambda
retries the stream from that record, with no limit on the number of retries
(``maximum_retry_attempts = -1``) until the record is ``maximum_record_age_in_seconds`` old (6 h):
then its batch info goes to the DLQ and the stream moves on. Everything after a failing batch waits
behind it meanwhile, so order holds.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import httpx

from dallas_calls.aws.wiring import Runtime
from dallas_calls.events.encode import event_json
from dallas_calls.model import Event
from dallas_calls.pipeline import write_change_record
from dallas_calls.storage.dynamodb import batch_archive_at, decode_batch

log = logging.getLogger("dallas_calls.aws")

MAX_POST_BYTES = 512_000  # well under the API's default ingest limit (1 MB)

LambdaEvent = dict[str, Any]


class PublishError(Exception):
    """The API did not take the events (after retries, or refused them outright)."""


def _chunks(events: Sequence[Event]) -> Iterable[list[Event]]:
    chunk: list[Event] = []
    size = 0
    for event in events:
        length = len(event_json(event)) + 1
        if chunk and size + length > MAX_POST_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += length
    if chunk:
        yield chunk


def post_events(rt: Runtime, events: Sequence[Event]) -> int:
    """POST events to ``{API_URL}/events/`` in id order, with retries and jittered exponential
    backoff on connection errors, timeouts, 429 and 5xx. Any other status fails at once (retrying a
    401 or 422 cannot help). Returns how many the API accepted."""
    url = rt.config.api_url + "/events/"
    token = rt.ingest_token()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    accepted = 0
    for chunk in _chunks(events):
        body = ('{"events":[' + ",".join(event_json(e) for e in chunk) + "]}").encode()
        attempts = rt.config.publish_attempts
        for attempt in range(1, attempts + 1):
            reason: str
            try:
                response = rt.http_client().post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    accepted += int(response.json().get("accepted", 0))
                    break
                reason = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code != 429 and response.status_code < 500:
                    raise PublishError(f"POST {url} refused: {reason}")
            if attempt == attempts:
                raise PublishError(f"POST {url} failed after {attempts} attempts: {reason}")
            delay = random.uniform(0, min(5.0, 0.2 * 2 ** (attempt - 1)))
            log.warning(
                "publish retry", extra={"attempt": attempt, "reason": reason, "delay_s": round(delay, 3)}
            )
            rt.sleep(delay)
    return accepted


def publish_batch(rt: Runtime, image: dict[str, Any]) -> dict[str, Any]:
    events = decode_batch(image)
    if not events:
        return {"events": 0}
    at = batch_archive_at(image) or datetime.fromisoformat(events[0].at.replace("Z", "+00:00"))
    key = write_change_record(rt.archive, events, at)
    accepted = post_events(rt, events) if rt.config.api_url else 0
    return {
        "first_event_id": events[0].id,
        "last_event_id": events[-1].id,
        "events": len(events),
        "change_record": key,
        "accepted": accepted,
    }


def handle_publisher(rt: Runtime, event: LambdaEvent) -> dict[str, Any]:
    for record in event.get("Records", []):
        data = record.get("dynamodb") or {}
        sequence = str(data.get("SequenceNumber"))
        if record.get("eventName") != "INSERT":  # TTL deletions of old batches; batches never change
            continue
        try:
            result = publish_batch(rt, data.get("NewImage") or {})
        except Exception:
            log.exception("publish failed; stopping this batch to keep order", extra={"sequence": sequence})
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        log.info("batch published", extra={**result, "sequence": sequence})
    return {"batchItemFailures": []}


# -- redrive --------------------------------------------------------------------------------------


def stream_batch_info(record: LambdaEvent) -> dict[str, Any]:
    """The ``DDBStreamBatchInfo`` of one message of the publisher's DLQ (Lambda's on-failure record:
    the shard and sequence numbers of the batch it gave up on, not the records themselves)."""
    try:
        info = json.loads(record["body"])["DDBStreamBatchInfo"]
        for name in ("shardId", "startSequenceNumber", "endSequenceNumber", "streamArn"):
            str(info[name])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a stream on-failure record: {exc}") from exc
    return dict(info)


def dead_lettered_images(rt: Runtime, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The new images of the stream records a DLQ message points at, read back from the stream
    (it keeps records 24 h; the mapping gives up at 6 h, so a redrive has 18 h)."""
    client = rt.stream_client()
    end = int(info["endSequenceNumber"])
    iterator = client.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    images: list[dict[str, Any]] = []
    while iterator:
        got = client.get_records(ShardIterator=iterator, Limit=1000)
        for record in got["Records"]:
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return images
            if record.get("eventName") == "INSERT":
                images.append(record["dynamodb"].get("NewImage") or {})
        if not got["Records"]:
            break
        iterator = got.get("NextShardIterator")
    return images


def handle_redrive(rt: Runtime, event: LambdaEvent) -> dict[str, Any]:
    """Publish again the batches that messages of the publisher's DLQ point at: each change record
    is written (merged with any earlier one: idempotent) and the events POSTed. The API skips ids at
    or below the newest it has applied, so ``accepted`` is 0 for a batch whose successors went
    through: those replicas read such a range from the store instead. A message whose batch cannot
    be read or published is reported and stays in the DLQ."""
    failures = []
    for record in event.get("Records", []):
        message_id = str(record.get("messageId"))
        try:
            info = stream_batch_info(record)
            results = [publish_batch(rt, image) for image in dead_lettered_images(rt, info)]
        except Exception:
            log.exception("redrive failed", extra={"message_id": message_id})
            failures.append(message_id)
            continue
        log.info("batch redriven", extra={"message_id": message_id, "batches": results})
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}
