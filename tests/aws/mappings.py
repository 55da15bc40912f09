"""What Lambda's event source mappings do, for emulators that cannot run Lambda code.

The handlers are called exactly as AWS calls them, and what happens to a message or a stream record
afterwards is decided by the handler's own partial-batch response (``batchItemFailures``), as in AWS:

- :class:`SqsMapping` receives a batch (the messages turn invisible for the visibility timeout),
  invokes the handler and deletes only the messages it did not report failed. A reported message
  reappears after the visibility timeout and, after the queue's ``maxReceiveCount`` receives, moto
  moves it to the dead-letter queue (the queue's redrive policy).
- :class:`StreamMapping` reads the stream in order, invokes the handler with up to ``batch_size``
  records, checkpoints before the first record it reported failed and retries from there; after
  ``maximum_retry_attempts`` retries of that record (bisected down to it, as ``bisect on error``
  does) its batch info goes to ``dead_lettered``, shaped as the on-failure destination's message
  body, and reading goes on after it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

Handler = Callable[[dict[str, Any]], dict[str, Any]]
REGION = "us-east-1"
TRIMMED_RETRIES = 20


def sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    """One received SQS message as Lambda passes it to the handler."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "eventSource": "aws:sqs",
        "awsRegion": REGION,
    }


def lambda_json(record: dict[str, Any], arn: str) -> dict[str, Any]:
    """A stream record from ``GetRecords`` as Lambda delivers it (JSON: binary attributes base64,
    times as epoch numbers)."""

    def plain(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(value).decode()
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    shaped: dict[str, Any] = json.loads(json.dumps(plain(record)))
    shaped["eventSourceARN"] = arn
    return shaped


@dataclass
class SqsMapping:
    sqs: Any
    queue_url: str
    handler: Handler
    batch_size: int = 10
    visibility_timeout_s: int = 1
    invocations: int = 0

    def poll(self, wait_s: int = 0) -> int:
        """One receive and, if it got messages, one invocation. Returns how many messages it got."""
        got = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_s,
            VisibilityTimeout=self.visibility_timeout_s,
            AttributeNames=["ApproximateReceiveCount"],
        )
        messages = got.get("Messages", [])
        if not messages:
            return 0
        self.invocations += 1
        try:
            result = self.handler({"Records": [sqs_record(m) for m in messages]})
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:  # an invocation error fails the whole batch
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        return len(messages)


def shard_ids(streams: Any, arn: str) -> list[str]:
    """The stream's shards, oldest first (a parent before its children)."""
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    shards.sort(key=lambda s: int(s["SequenceNumberRange"]["StartingSequenceNumber"]))
    return [str(s["ShardId"]) for s in shards]


def read_shard(streams: Any, arn: str, shard: str, after: str | None, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` records of one shard after sequence number ``after`` (None: from the start).

    DynamoDB Local sometimes answers ``GetRecords`` with ``TrimmedDataAccessException`` for records
    written seconds ago (a known emulator bug, aws/aws-sdk-java#2923; nothing is trimmed inside a
    stream's 24 hours on AWS). The read is then started again from the same place with a fresh
    iterator, as a poller of a real stream would, a few times before the error is let through."""
    for attempt in range(TRIMMED_RETRIES + 1):
        try:
            return _read_shard_once(streams, arn, shard, after, limit)
        except ClientError as exc:
            if (
                exc.response.get("Error", {}).get("Code") != "TrimmedDataAccessException"
                or attempt == TRIMMED_RETRIES
            ):
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def _read_shard_once(
    streams: Any, arn: str, shard: str, after: str | None, limit: int
) -> list[dict[str, Any]]:
    if after is None:
        kwargs: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
    else:
        kwargs = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, **kwargs)["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator and len(records) < limit:
        got = streams.get_records(ShardIterator=iterator, Limit=min(1000, limit - len(records)))
        if not got["Records"]:
            break
        records.extend(got["Records"])
        iterator = got.get("NextShardIterator")
    return records


def on_failure_record(arn: str, shard: str, sequence: str) -> dict[str, Any]:
    """The body Lambda sends to a stream mapping's on-failure destination for a discarded batch."""
    return {
        "version": "1.0",
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": sequence,
            "endSequenceNumber": sequence,
            "batchSize": 1,
            "streamArn": arn,
        },
    }


@dataclass
class StreamMapping:
    streams: Any
    stream_arn: str
    handler: Handler
    batch_size: int = 100
    maximum_retry_attempts: int = 10
    checkpoints: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    dead_lettered: list[dict[str, Any]] = field(default_factory=list)
    invocations: int = 0

    def poll(self) -> int:
        """One invocation per shard that has new records. Returns how many records were delivered."""
        delivered = 0
        for shard in shard_ids(self.streams, self.stream_arn):
            records = read_shard(
                self.streams, self.stream_arn, shard, self.checkpoints.get(shard), self.batch_size
            )
            if not records:
                continue
            delivered += len(records)
            self.invocations += 1
            event = {"Records": [lambda_json(r, self.stream_arn) for r in records]}
            try:
                failed = [f["itemIdentifier"] for f in self.handler(event).get("batchItemFailures", [])]
            except Exception:
                failed = [records[0]["dynamodb"]["SequenceNumber"]]
            sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
            if not failed:
                self.checkpoints[shard] = sequences[-1]
                self.retries = 0
                continue
            index = sequences.index(failed[0])
            if index:
                self.checkpoints[shard] = sequences[index - 1]
                self.retries = 0
            elif self.retries < self.maximum_retry_attempts:
                self.retries += 1
            else:
                self.dead_lettered.append(on_failure_record(self.stream_arn, shard, sequences[0]))
                self.checkpoints[shard] = sequences[0]
                self.retries = 0
        return delivered
