"""Calls as a Parquet file (``pip install 'dallas-calls[parquet]'``: pyarrow), written in row groups
so a long window never sits in memory whole. Columns are ``formats.CSV_COLUMNS``, typed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from dallas_calls.export.formats import CSV_COLUMNS, flat_row

ROW_GROUP = 5000
_INTEGER = {"priority", "unit_count"}
_FLOAT = {"lat", "lon"}
_BOOL = {"in_beat"}


def write_parquet(calls: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write the calls to ``path``; returns how many. Raises ImportError without pyarrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def kind(name: str) -> Any:
        if name in _INTEGER:
            return pa.int64()
        if name in _FLOAT:
            return pa.float64()
        if name in _BOOL:
            return pa.bool_()
        return pa.string()

    schema = pa.schema([pa.field(name, kind(name)) for name in CSV_COLUMNS])
    rows = (flat_row(call) for call in calls)
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        while batch := list(islice(rows, ROW_GROUP)):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count
