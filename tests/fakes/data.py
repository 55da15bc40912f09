"""The real Dallas files the tests read, copied into ``tests/fixtures/real/`` (provenance in
``tests/fixtures/README.md``). Tests read nothing outside the repository: a fresh clone is enough.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
REAL_DATA = REPO / "tests" / "fixtures" / "real"
FEED_DIR = REAL_DATA / "feed"


def feed_snapshot_names() -> list[str]:
    """Names (file stems, e.g. ``"2019-06-18T05-17-00Z"``) of the recorded feed snapshots, in time order."""
    return sorted(path.stem for path in FEED_DIR.glob("*.json"))


def load_feed_snapshot(name: str) -> list[dict[str, Any]]:
    """The rows of one recorded snapshot, exactly as the feed returned them.

    ``name`` is the file stem, with or without ``.json``. Raises FileNotFoundError naming the folder
    searched, so a broken checkout says what is wrong.
    """
    stem = name.removesuffix(".json")
    path = FEED_DIR / f"{stem}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no feed snapshot {stem!r} in {FEED_DIR}")
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return rows
