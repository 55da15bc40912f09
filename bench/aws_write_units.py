"""Benchmark: DynamoDB write units per poll of the AWS tracker, as DynamoDB bills them, measured on
DynamoDB Local (``ReturnConsumedCapacity=INDEXES``; needs Java and ``npm ci``).

1. The 14 recorded snapshots (tests/fixtures/feed_sequence, 4 minutes apart: about 40 open calls)
   through the tracker's store path: units per poll, with its real opens, updates and closes.
2. An unchanged poll (every open call seen again, nothing changed) at 38 and at 200 open calls (the
   recorded rows renumbered): the fixed cost of one poll, and what it grows by per open call.

Run: .venv/bin/python bench/aws_write_units.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from dallas_calls.archive.store import LocalObjectStore, decode_snapshot
from dallas_calls.feed.source import list_snapshots
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.dynamodb import DynamoStore, TableNames, create_tables, dynamodb_client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.aws.capacity import write_units  # noqa: E402  (shared with the tests)
from tests.aws.dynamodb_local import dynamodb_local  # noqa: E402

SEQUENCE = REPO / "tests" / "fixtures" / "feed_sequence"


def renumbered(rows: list[dict[str, Any]], copies: int) -> list[dict[str, Any]]:
    return [{**r, "incident_number": f"{r['incident_number']}-{i}"} for i in range(copies) for r in rows]


def fresh_store(client: Any, name: str) -> tuple[DynamoStore, str]:
    names = TableNames(f"{name}-calls", f"{name}-locations", f"{name}-meta", f"{name}-events")
    create_tables(client, names)
    return DynamoStore(names, client=client), f"{name}-"


def main() -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(variable, "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    snapshots = [(at, decode_snapshot(p.read_bytes())) for at, p in list_snapshots(SEQUENCE)]
    with dynamodb_local() as url, tempfile.TemporaryDirectory() as tmp:
        client = dynamodb_client(url)
        store, prefix = fresh_store(client, "recorded")
        pipeline = Pipeline(store, LocalObjectStore(Path(tmp) / "a"))  # type: ignore[arg-type]
        per_poll = []
        for at, rows in snapshots:
            with write_units(client, prefix) as units:
                result = pipeline.process(rows, at, "bench", None)
            per_poll.append(
                (units["total"], len(store.open_calls()), result.opened + result.updated + result.closed)
            )
        polls = per_poll[1:]  # the first poll opens everything
        print(
            f"recorded: {statistics.mean(u for u, _, _ in polls):.1f} write units per poll "
            f"(median {statistics.median(u for u, _, _ in polls):.0f}), "
            f"{statistics.mean(n for _, n, _ in polls):.0f} open calls, "
            f"{statistics.mean(c for _, _, c in polls):.1f} changed calls per poll"
        )
        for copies in (1, 5):
            at, rows = snapshots[0]
            store, prefix = fresh_store(client, f"unchanged{copies}")
            pipeline = Pipeline(store, LocalObjectStore(Path(tmp) / f"u{copies}"))  # type: ignore[arg-type]
            pipeline.process(renumbered(rows, copies), at, "bench", None)
            with write_units(client, prefix) as units:
                pipeline.process(renumbered(rows, copies), at + timedelta(minutes=1), "bench", None)
            open_calls = len(store.open_calls())
            detail = ", ".join(f"{k} {v:g}" for k, v in sorted(units.items()) if k != "total")
            print(
                f"unchanged poll, {open_calls} open calls: {units['total']:g} write units "
                f"({units['total'] / open_calls:.3f} per open call; {detail})"
            )


if __name__ == "__main__":
    main()
