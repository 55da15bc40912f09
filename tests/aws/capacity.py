"""Write units as DynamoDB bills them, from DynamoDB Local's ``ConsumedCapacity``: every write
request of a client is sent with ``ReturnConsumedCapacity=INDEXES`` and its units are added up per
table and per index (a transaction's units are already doubled by DynamoDB)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


@contextmanager
def write_units(client: Any, prefix: str) -> Iterator[Counter[str]]:
    """Units consumed by writes while the block runs: ``total``, per table (its name after
    ``prefix``) and per index (``index:NAME``)."""
    units: Counter[str] = Counter()

    def ask(params: dict[str, Any], model: Any, **_kwargs: Any) -> None:
        if model.name in WRITES:
            params["ReturnConsumedCapacity"] = "INDEXES"

    def add(parsed: dict[str, Any], model: Any, **_kwargs: Any) -> None:
        consumed = parsed.get("ConsumedCapacity") if model.name in WRITES else None
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            units["total"] += entry.get("CapacityUnits", 0)
            units[entry["TableName"].removeprefix(prefix)] += entry.get("Table", {}).get("CapacityUnits", 0)
            for index, value in (entry.get("GlobalSecondaryIndexes") or {}).items():
                units[f"index:{index}"] += value.get("CapacityUnits", 0)

    client.meta.events.register("provide-client-params.dynamodb.*", ask)
    client.meta.events.register("after-call.dynamodb.*", add)
    try:
        yield units
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.*", ask)
        client.meta.events.unregister("after-call.dynamodb.*", add)
