"""The Athena queries of docs/aws.md ("History"), run as written with DuckDB over an archive folder
that the real pipeline wrote, through views shaped like the Glue tables (``line`` + ``dt``, one row
per line of the archived files), and checked against the event log."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.archive.store import LocalObjectStore, decode_snapshot
from dallas_calls.feed.source import ReplaySource, list_snapshots
from dallas_calls.pipeline import Pipeline
from dallas_calls.storage.sqlite import SqliteStore
from tests.aws.conftest import FEED_SEQUENCE, Clock, FakeLocator

duckdb = pytest.importorskip("duckdb")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "aws.md"

# The Glue tables: text lines of the archived files (gzip by extension), one string column, and
# dt = the day folder of the key. \x01 never occurs in JSON text, so each line is one field.
VIEW = """
CREATE VIEW {name} AS
SELECT line, regexp_extract(filename, '{prefix}/([0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}})/', 1) AS dt
FROM read_csv('{root}/{prefix}/*/*/*/*.gz', columns = {{'line': 'VARCHAR'}}, delim = '\x01',
              quote = '', escape = '', header = false, filename = true, compression = 'gzip')
"""


def documented_queries() -> list[str]:
    text = DOCS.read_text()
    section = text[text.index("## History: SQL over the archives") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, SqliteStore]:
    """The one-machine runtime's archive after the 14 recorded snapshots (poll, then locate)."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    clock = Clock()
    pipeline = Pipeline(store, LocalObjectStore(tmp_path / "archive"), locator=FakeLocator(), clock=clock)
    source = ReplaySource(FEED_SEQUENCE)

    async def run() -> None:
        for at, _ in list_snapshots(FEED_SEQUENCE):
            clock.at = at
            assert (await pipeline.poll(source)).outcome == "ok"
            await pipeline.locate_pending()

    asyncio.run(run())
    return tmp_path / "archive", store


def test_the_documented_queries_answer_from_the_archive(archive: tuple[Path, SqliteStore]) -> None:
    root, store = archive
    db = duckdb.connect()
    db.execute("CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)")
    db.execute(VIEW.format(name="raw_snapshots", prefix="raw", root=root))
    db.execute(VIEW.format(name="change_events", prefix="changes", root=root))
    by_division, history, per_day = documented_queries()
    events = store.events_after(0, limit=100_000)

    opened = Counter(e.data["call"]["division"] for e in events if e.type == "call.opened")
    expected = sorted(opened.items(), key=lambda kv: (-kv[1], kv[0]))
    assert db.sql(by_division).fetchall() == expected
    assert sum(opened.values()) > 30

    mine = [e for e in events if e.type.startswith("call.") and e.incident_number == "19-1112328"]
    rows: list[tuple[Any, ...]] = db.sql(history).fetchall()
    assert rows == [(e.id, e.type, e.at, e.data["call"]["status"]) for e in mine]
    assert rows[0][1] == "call.opened"

    snapshots = [decode_snapshot(path.read_bytes()) for _, path in list_snapshots(FEED_SEQUENCE)]
    assert db.sql(per_day).fetchall() == [("2019/06/18", 14, sum(len(s) for s in snapshots))]
