"""The locator handler's limits and fault tolerance, the store port's own apply, big batches, and the
handlers' configuration and JSON logs."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import dallas_calls.storage.dynamodb_schema as dynamodb_schema
from dallas_calls.archive.store import LocalObjectStore, encode_snapshot
from dallas_calls.aws.config import AwsConfig, JsonFormatter
from dallas_calls.aws.handlers import handle_locator, locate_snapshot
from dallas_calls.model import Geo, NewEvent
from dallas_calls.pipeline import Pipeline, archive_raw
from dallas_calls.storage.dynamodb import TableNames
from dallas_calls.storage.sqlite import SqliteStore
from tests.aws.conftest import AwsWorld, Clock, FakeLocator

pytestmark = pytest.mark.aws

Recorded = list[tuple[datetime, list[Any]]]


class FlakyLocator(FakeLocator):
    def locate(
        self,
        block: str | None,
        location: str,
        beat: str | None,
        division: str | None,
        reporting_area: str | None = None,
    ) -> Geo:
        if len(self.asked) % 3 == 0:
            self.asked.append(location)
            raise TimeoutError("provider timed out")
        return super().locate(block, location, beat, division)


def test_locator_caps_its_work_and_the_rest_waits_for_the_next_snapshot(
    aws: AwsWorld, recorded: Recorded
) -> None:
    clock = Clock(recorded[0][0])
    rt = aws.runtime(clock=clock, locator=FakeLocator())
    rt.config = AwsConfig(**{**_fields(rt.config), "locate_limit": 10})
    at, rows = recorded[0]
    _, key = archive_raw(rt.archive, encode_snapshot(rows), at)
    first = locate_snapshot(rt, key)
    assert (first["asked"], first["deferred"]) == (10, 28)
    second = locate_snapshot(rt, key)  # the next message: the cache answers the first ten
    assert (second["asked"], second["deferred"]) == (10, 18)
    located = first["located"] + second["located"]
    assert rt.store.last_event_id() == located
    assert handle_locator(rt, aws.receive(aws.locator_queue)) == {"batchItemFailures": []}


def test_a_failing_provider_does_not_stop_the_other_keys(aws: AwsWorld, recorded: Recorded) -> None:
    rt = aws.runtime(clock=Clock(recorded[0][0]), locator=FlakyLocator())
    at, rows = recorded[0]
    _, key = archive_raw(rt.archive, encode_snapshot(rows), at)
    result = locate_snapshot(rt, key)
    assert result["errors"] == 13 and result["asked"] == 38
    events = rt.store.events_after(0)
    assert events and all(e.type == "location.resolved" for e in events)
    assert len(
        rt.store.fresh_locations([e.location_key or "" for e in events], "2019-06-18T06:00:00Z")
    ) == len(events)


def test_the_store_port_runs_the_one_machine_pipeline_too(
    aws: AwsWorld, recorded: Recorded, tmp_path: Path
) -> None:
    dynamo = aws.runtime().store
    sqlite = SqliteStore(tmp_path / "s.sqlite3")
    for store, name in ((dynamo, "d"), (sqlite, "s")):
        pipeline = Pipeline(store, LocalObjectStore(tmp_path / name))  # type: ignore[arg-type]
        for at, rows in recorded[:4]:
            pipeline.process(rows, at, "test", None)
    assert dynamo.open_calls() == sqlite.open_calls()
    assert [e.to_dict() for e in dynamo.events_after(0)] == [e.to_dict() for e in sqlite.events_after(0)]
    good = dynamo.last_good_poll(), sqlite.last_good_poll()
    assert good[0] is not None and good[1] is not None
    assert dataclasses.replace(good[0], duration_ms=0) == dataclasses.replace(good[1], duration_ms=0)
    assert [p.counts for p in dynamo.recent_polls(4)] == [p.counts for p in sqlite.recent_polls(4)]


def test_a_batch_too_big_for_one_item_is_split_and_read_back_whole(
    aws: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb_schema, "MAX_BATCH_BYTES", 2_000)
    store = aws.runtime().store
    events = [
        NewEvent(
            "location.resolved", "2019-06-18T05:00:00Z", {"location_key": f"{i} MAIN", "pad": "x" * i * 40}
        )
        for i in range(200)
    ]
    stored = store.append_events(events)
    items = aws.ddb.query(
        TableName=aws.names.events,
        KeyConditionExpression="#l = :p",
        ExpressionAttributeNames={"#l": "log"},
        ExpressionAttributeValues={":p": {"S": "events"}},
    )["Items"]
    assert len(items) > 1
    assert [e.id for e in store.events_after(0, limit=1000)] == [e.id for e in stored] == list(range(1, 201))
    assert [e.id for e in store.events_after(57, limit=5)] == [58, 59, 60, 61, 62]
    # a replica filling the gap 58..130 reads exactly that range, across several batch items
    assert [e.id for e in store.events_between(57, 130)] == list(range(58, 131))
    assert store.events_between(200, 300) == [] and store.events_between(5, 5) == []
    assert store.first_event_id() == 1


def _fields(config: Any) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def test_config_from_environment() -> None:
    config = AwsConfig.from_env(
        {
            "DALLAS_CALLS_BUCKET": "b",
            "DALLAS_CALLS_EVENTS_TABLE": "ev",
            "DALLAS_CALLS_API_URL": "https://api.example/",
            "DALLAS_CALLS_INGEST_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:x",
            "DALLAS_CALLS_LOCATE_LIMIT": "25",
            "DALLAS_CALLS_AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
            "DALLAS_CALLS_GEOCODER_SECRET_ARNS": '{"arcgis": "arn:a"}',
        }
    )
    assert config.geocoder_secret_arns == {"arcgis": "arn:a"}
    assert config.tables == TableNames(events="ev")
    assert config.api_url == "https://api.example"
    assert config.ingest_token is None and config.ingest_token_secret_arn == "arn:aws:secretsmanager:x"
    assert (config.locate_limit, config.endpoint_url) == (25, "http://127.0.0.1:5000")
    with pytest.raises(ValueError, match="DALLAS_CALLS_BUCKET"):
        AwsConfig.from_env({}).require_bucket()
    with pytest.raises(ValueError, match="GEOCODER_SECRET_ARNS"):
        AwsConfig.from_env({"DALLAS_CALLS_GEOCODER_SECRET_ARNS": "[1]"})
    with pytest.raises(ValueError, match="PUBLISH_ATTEMPTS"):
        AwsConfig.from_env({"DALLAS_CALLS_PUBLISH_ATTEMPTS": "many"})


def test_logs_are_one_json_object_per_line() -> None:
    record = logging.LogRecord("dallas_calls.aws", logging.INFO, __file__, 1, "snapshot %s", ("done",), None)
    record.snapshot_key = "raw/2019/06/18/051700Z.json.gz"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "snapshot done"
    assert line["level"] == "INFO" and line["snapshot_key"] == "raw/2019/06/18/051700Z.json.gz"


def test_geocoder_keys_and_ingest_token_come_from_secrets(aws: AwsWorld) -> None:
    import boto3

    secrets = boto3.client("secretsmanager", endpoint_url=aws.url, region_name="us-east-1")
    arcgis = secrets.create_secret(Name="geo/arcgis", SecretString="arcgis-key\n")["ARN"]
    token = secrets.create_secret(Name="ingest", SecretString="tok")["ARN"]
    rt = aws.runtime()
    rt.config = AwsConfig(
        **{
            **_fields(rt.config),
            "geocoder_secret_arns": {"arcgis": arcgis},
            "ingest_token": None,
            "ingest_token_secret_arn": token,
        }
    )
    assert rt.settings_with_secrets().arcgis_api_key == "arcgis-key"
    assert rt.ingest_token() == "tok"
