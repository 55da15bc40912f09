"""Names, schema and item encoding of the DynamoDB store (see :mod:`dallas_calls.storage.dynamodb`).

Kept apart from the store so that Terraform's tables, the tests' emulator tables and the store read
one definition (:func:`table_definitions`), and so that the error classification that decides what
is retried (:func:`is_conditional_failure`, :func:`is_write_conflict`) is written once.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dallas_calls.archive.store import decode_changes
from dallas_calls.events.encode import event_from_dict
from dallas_calls.model import Event, PollRecord, iso_utc

OPEN_SHARDS = 4
OPEN_INDEX = "open"
DAY_INDEX = "by_day"
LOG_PARTITION = "events"
COUNTER = "counter"
TRACKER = "tracker"
LAST_FAILURE = "last_failure"
SEEN = "seen"
MAX_BATCH_BYTES = 300_000  # an item may hold 400 KB; a bigger batch is split (same transaction)
RECENT_POLLS = 50
QUARANTINE_KEPT = 100
DEFAULT_CLOSED_TTL = timedelta(days=30)
DEFAULT_EVENT_TTL = timedelta(days=7)
WRITE_THREADS = 16

Item = dict[str, Any]


class Conflict(Exception):
    """Another writer committed first (the counter or the tracker item moved), or held an item at
    the same moment (``TransactionConflict``): nothing was written; reload and retry."""


class StaleSnapshot(Exception):
    """The snapshot is not newer than the tracker's high-water mark."""


@dataclass(frozen=True, slots=True)
class TableNames:
    calls: str = "dallas-calls-calls"
    locations: str = "dallas-calls-locations"
    meta: str = "dallas-calls-meta"
    events: str = "dallas-calls-events"


# -- attribute helpers -------------------------------------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def _str(item: Item, name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if isinstance(value, dict) and "S" in value else None


def _int(item: Item, name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if isinstance(value, dict) and "N" in value else default


def _bytes(item: Item, name: str) -> bytes | None:
    """A binary attribute: bytes from boto3, base64 text from a Lambda stream event."""
    value = item.get(name)
    if not isinstance(value, dict) or "B" not in value:
        return None
    raw = value["B"]
    if isinstance(raw, str):
        import base64

        return base64.b64decode(raw)
    return bytes(raw)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def shifted(at: str, by: timedelta) -> str:
    """An ISO 8601 UTC time moved by ``by``, in the tables' own format."""
    return iso_utc(datetime.fromisoformat(at.replace("Z", "+00:00")) + by)


def open_shard(incident_number: str) -> int:
    return zlib.crc32(incident_number.encode()) % OPEN_SHARDS


def _poll_dict(poll: PollRecord) -> dict[str, Any]:
    return {
        "started_at": poll.started_at,
        "outcome": poll.outcome,
        "rows": poll.rows,
        "quarantined": poll.quarantined,
        "duration_ms": poll.duration_ms,
        "reason": poll.reason,
        "source": poll.source,
        "snapshot_key": poll.snapshot_key,
        "counts": poll.counts,
    }


def _poll_from(data: dict[str, Any]) -> PollRecord:
    return PollRecord(**data)


def _error(exc: Exception) -> tuple[str | None, list[str]]:
    """A ClientError's code and, for a cancelled transaction, the code of each action's reason."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None, []
    error = response.get("Error", {})
    reasons = [str(r.get("Code")) for r in response.get("CancellationReasons") or [] if r.get("Code")]
    if not reasons and error.get("Code") == "TransactionCanceledException":
        # some clients give the reasons only in the message: "... reasons [None, TransactionConflict]"
        message = str(error.get("Message", ""))
        reasons = [c for c in ("ConditionalCheckFailed", "TransactionConflict") if c in message]
    return error.get("Code"), reasons


def is_conditional_failure(exc: Exception) -> bool:
    """A condition did not hold: the write was already applied, or another writer moved first."""
    code, reasons = _error(exc)
    return code == "ConditionalCheckFailedException" or (
        code == "TransactionCanceledException" and "ConditionalCheckFailed" in reasons
    )


def is_write_conflict(exc: Exception) -> bool:
    """Another transaction held one of the items at the same moment (``TransactionConflict`` in a
    cancelled transaction, ``TransactionConflictException`` on a single write): nothing was written,
    and the same request may succeed if retried after a pause."""
    code, reasons = _error(exc)
    return code == "TransactionConflictException" or (
        code == "TransactionCanceledException" and "TransactionConflict" in reasons
    )


def decode_batch(image: Item) -> list[Event]:
    """The events of one ``events`` item (a stream NewImage or a GetItem result)."""
    body = _bytes(image, "body")
    if body is None:
        return []
    return [event_from_dict(d) for d in decode_changes(body)]


def batch_archive_at(image: Item) -> datetime | None:
    """When the batch's change record is filed (the poll time for a tracker batch)."""
    text = _str(image, "archive_at")
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def dynamodb_client(endpoint_url: str | None = None) -> Any:
    """A DynamoDB client whose connection pool fits the materializing threads."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb", endpoint_url=endpoint_url, config=Config(max_pool_connections=WRITE_THREADS + 4)
    )


# -- schema ------------------------------------------------------------------------------------


def table_definitions(names: TableNames) -> list[dict[str, Any]]:
    """``create_table`` arguments for the four tables (on-demand billing). TTL is set separately:
    see :data:`TTL_ATTRIBUTE` and :func:`create_tables`."""
    on_demand = {"BillingMode": "PAY_PER_REQUEST"}
    return [
        {
            "TableName": names.calls,
            "KeySchema": [{"AttributeName": "incident_number", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "incident_number", "AttributeType": "S"},
                {"AttributeName": "open_shard", "AttributeType": "N"},
                {"AttributeName": "seen_day", "AttributeType": "S"},
                {"AttributeName": "first_seen", "AttributeType": "S"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": OPEN_INDEX,
                    "KeySchema": [
                        {"AttributeName": "open_shard", "KeyType": "HASH"},
                        {"AttributeName": "incident_number", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    "IndexName": DAY_INDEX,
                    "KeySchema": [
                        {"AttributeName": "seen_day", "KeyType": "HASH"},
                        {"AttributeName": "first_seen", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
            **on_demand,
        },
        {
            "TableName": names.locations,
            "KeySchema": [{"AttributeName": "location_key", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "location_key", "AttributeType": "S"}],
            **on_demand,
        },
        {
            "TableName": names.meta,
            "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "name", "AttributeType": "S"}],
            **on_demand,
        },
        {
            "TableName": names.events,
            "KeySchema": [
                {"AttributeName": "log", "KeyType": "HASH"},
                {"AttributeName": "first_id", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "log", "AttributeType": "S"},
                {"AttributeName": "first_id", "AttributeType": "N"},
            ],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            **on_demand,
        },
    ]


TTL_ATTRIBUTE = "expires_at"


def create_tables(client: Any, names: TableNames) -> None:
    """Create the tables and turn TTL on (for tests and local emulators; Terraform does it in AWS)."""
    for definition in table_definitions(names):
        client.create_table(**definition)
    for name in (names.calls, names.locations, names.events):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
