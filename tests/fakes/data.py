"""Access to the shared real-data folder (``<repo>/../shared/data``, see its README).

The repository clone sits beside a copy of ``shared/`` locally and in CI, so the path is derived
from this file's location rather than from the working directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FEED_DIR = SHARED_DATA / "feed"


def feed_snapshot_names() -> list[str]:
    """Names (file stems, e.g. ``"2019-06-18T05-17-00Z"``) of the recorded feed snapshots, in time order."""
    return sorted(path.stem for path in FEED_DIR.glob("*.json"))


def load_feed_snapshot(name: str) -> list[dict[str, Any]]:
    """The rows of one recorded snapshot, exactly as the feed returned them.

    ``name`` is the file stem, with or without ``.json``. Raises FileNotFoundError with the folder
    searched if the shared data is missing, so a broken checkout says what is wrong.
    """
    stem = name.removesuffix(".json")
    path = FEED_DIR / f"{stem}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no feed snapshot {stem!r} in {FEED_DIR} (is ../shared/data present?)")
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return rows
