"""The AWS runtime against emulators over real HTTP on loopback ports (boto3 with ``endpoint_url``, no
in-process patching): DynamoDB on Amazon's DynamoDB Local (one server per session, a fresh table
prefix per test), S3, SNS, SQS and Secrets Manager on moto in server mode. Builds the deployed
wiring: bucket → S3 notification → SNS topic → two SQS queues (each with a DLQ); DynamoDB tables with
the events stream; the handlers called with the event shapes AWS sends (neither emulator runs Lambda
code or fires EventBridge schedules: see ``mappings.py`` for the event source mappings)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from dallas_calls.archive.store import S3ObjectStore, decode_snapshot
from dallas_calls.aws.config import AwsConfig
from dallas_calls.aws.handlers import Runtime
from dallas_calls.config import Settings
from dallas_calls.feed.source import list_snapshots
from dallas_calls.model import Geo
from dallas_calls.storage.dynamodb import DynamoStore, TableNames, create_tables, dynamodb_client
from tests.aws.dynamodb_local import Unavailable, dynamodb_local
from tests.aws.mappings import lambda_json, read_shard, shard_ids, sqs_record

REGION = "us-east-1"
BUCKET = "dallas-calls-archive"
TOKEN = "ingest-secret"
FEED_SEQUENCE = Path(__file__).resolve().parents[1] / "fixtures" / "feed_sequence"


def _credentials() -> None:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        os.environ.setdefault(name, value)


@pytest.fixture(scope="session")
def dynamodb_url() -> Iterator[str]:
    """DynamoDB Local, started once. Missing Java or ``npm ci``: a failure in CI (``CI`` set), where
    the install steps of ``.ci/run`` must have provided them, and a skip with the reason by hand."""
    _credentials()
    try:
        with dynamodb_local() as url:
            yield url
    except Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"DynamoDB Local is required in CI: {exc}", pytrace=False)
        pytest.skip(f"DynamoDB Local unavailable: {exc}")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    _credentials()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per emulated request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class FakeLocator:
    """A deterministic stand-in for the geocoding chain: most keys get a point, some are misses."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def locate(
        self,
        block: str | None,
        location: str,
        beat: str | None,
        division: str | None,
        reporting_area: str | None = None,
    ) -> Geo:
        self.asked.append(location)
        digest = sum(location.encode()) + sum((block or "").encode())
        if digest % 5 == 0:
            return Geo(None, None, "none", "fake", None)
        return Geo(32.7 + (digest % 100) / 1000, -96.8 - (digest % 77) / 1000, "address", "fake", True, 1)


class Clock:
    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime(2019, 6, 18, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@dataclass
class AwsWorld:
    """Everything the deployment creates, on the emulators."""

    url: str  # moto: S3, SNS, SQS, Secrets Manager
    dynamodb_url: str  # DynamoDB Local: the tables and the events stream
    names: TableNames
    s3: Any
    sqs: Any
    ddb: Any
    streams: Any
    tracker_queue: str
    locator_queue: str
    dlqs: dict[str, str]
    stream_arn: str
    _checkpoints: dict[str, str] = field(default_factory=dict)

    def runtime(
        self,
        api_url: str = "",
        feed_url: str = "http://127.0.0.1:9/feed",
        clock: Callable[[], datetime] | None = None,
        locator: Any = None,
        **settings: Any,
    ) -> Runtime:
        config = AwsConfig(
            bucket=BUCKET,
            tables=self.names,
            api_url=api_url,
            ingest_token=TOKEN,
            publish_attempts=2,
            endpoint_url=self.url,
        )
        options: dict[str, Any] = {"feed_url": feed_url, "feed_max_attempts": 1, "geocode": False, **settings}
        clock = clock or Clock()
        return Runtime(
            config=config,
            settings=Settings(**options),
            store=DynamoStore(self.names, client=self.ddb, clock=clock),
            archive=S3ObjectStore(BUCKET, client=self.s3),
            clock=clock,
            locator=locator,
            locator_loaded=True,
            sleep=lambda _s: None,
        )

    def receive(self, queue_url: str) -> dict[str, Any]:
        """Every message waiting on a queue, as the SQS event Lambda would get. They stay in flight
        (invisible for 10 minutes, never deleted): a test that calls a handler with them plays an
        invocation whose outcome it checks itself; :class:`~tests.aws.mappings.SqsMapping` plays the
        real event source mapping."""
        records = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=600
            )
            messages = got.get("Messages", [])
            if not messages:
                break
            records.extend(sqs_record(m) for m in messages)
        return {"Records": records}

    def stream_event(self) -> dict[str, Any]:
        """The stream records written since the last call, shaped as Lambda delivers them."""
        records = []
        for shard in shard_ids(self.streams, self.stream_arn):
            got = read_shard(self.streams, self.stream_arn, shard, self._checkpoints.get(shard), 10_000)
            if got:
                self._checkpoints[shard] = got[-1]["dynamodb"]["SequenceNumber"]
            records.extend(got)
        return {"Records": [lambda_json(r, self.stream_arn) for r in records]}

    def waiting(self, queue_url: str) -> int:
        """Messages on a queue, visible or in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture
def aws(moto_url: str, dynamodb_url: str) -> Iterator[AwsWorld]:
    import boto3

    httpx.post(moto_url + "/moto-api/reset").raise_for_status()
    kwargs = {"endpoint_url": moto_url, "region_name": REGION}
    s3 = boto3.client("s3", **kwargs)
    sns = boto3.client("sns", **kwargs)
    sqs = boto3.client("sqs", **kwargs)
    ddb = dynamodb_client(dynamodb_url)
    streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb_url, region_name=REGION)

    prefix = f"t{uuid.uuid4().hex[:10]}"  # a fresh set of tables per test on the shared server
    names = TableNames(
        calls=f"{prefix}-calls",
        locations=f"{prefix}-locations",
        meta=f"{prefix}-meta",
        events=f"{prefix}-events",
    )
    create_tables(ddb, names)
    stream_arn = ddb.describe_table(TableName=names.events)["Table"]["LatestStreamArn"]

    s3.create_bucket(Bucket=BUCKET)
    topic = sns.create_topic(Name="raw-snapshots")["TopicArn"]
    queues, dlqs = [], {}
    for name in ("tracker", "locator"):
        dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        url = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        queues.append(url)
        dlqs[name] = dlq
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "TopicConfigurations": [
                {
                    "TopicArn": topic,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "raw/"}]}},
                }
            ]
        },
    )
    yield AwsWorld(
        moto_url, dynamodb_url, names, s3, sqs, ddb, streams, queues[0], queues[1], dlqs, stream_arn
    )
    for name in (names.calls, names.locations, names.meta, names.events):
        ddb.delete_table(TableName=name)


@pytest.fixture
def recorded() -> list[tuple[datetime, list[Any]]]:
    """The 14 recorded snapshots with their capture times."""
    return [(at, decode_snapshot(path.read_bytes())) for at, path in list_snapshots(FEED_SEQUENCE)]


class RunningApi:
    """``create_app`` served by uvicorn on a loopback port, in a thread with its own loop."""

    def __init__(self, settings: Settings, store: Any) -> None:
        from dallas_calls.api.app import create_app
        from dallas_calls.events.bus import LocalBus

        self.app = create_app(settings, store, LocalBus())
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def __enter__(self) -> RunningApi:
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                return self
            threading.Event().wait(0.025)
        raise RuntimeError("API did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
