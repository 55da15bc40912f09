"""Shared fixtures: the real recorded data, and paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FEED_SEQUENCE = REPO / "tests" / "fixtures" / "feed_sequence"


def load_shared_feed(name: str) -> list[dict[str, Any]]:
    """A real Active Calls snapshot from ../shared/data/feed/."""
    rows: list[dict[str, Any]] = json.loads((SHARED_DATA / "feed" / name).read_text())
    return rows


@pytest.fixture
def feed_sequence() -> Path:
    """14 snapshots (archive layout, gzipped) derived from the real 2019-06-18 pair."""
    return FEED_SEQUENCE


@pytest.fixture
def first_snapshot() -> list[dict[str, Any]]:
    return load_shared_feed("2019-06-18T05-17-00Z.json")


@pytest.fixture
def second_snapshot() -> list[dict[str, Any]]:
    return load_shared_feed("2019-06-18T06-09-00Z.json")
