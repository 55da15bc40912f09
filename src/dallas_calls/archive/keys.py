"""The archive's key layout, shared by the local folder, S3 and the AWS handlers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

RAW_PREFIX = "raw/"
CHANGES_PREFIX = "changes/"
_KEY_TIME = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})(\d{2})(\d{2})Z")


def _stamp(at: datetime) -> str:
    at = at.astimezone(UTC)
    return at.strftime("%Y/%m/%d/%H%M%SZ")


def raw_key(fetched_at: datetime, seq: int = 0) -> str:
    """raw/YYYY/MM/DD/HHMMSSZ.json.gz for a snapshot fetched at ``fetched_at``; the ``seq``-th other
    snapshot of the same second is raw/YYYY/MM/DD/HHMMSSZ_NNN.json.gz."""
    suffix = f"_{seq:03d}" if seq else ""
    return f"{RAW_PREFIX}{_stamp(fetched_at)}{suffix}.json.gz"


def changes_key(at: datetime) -> str:
    return f"{CHANGES_PREFIX}{_stamp(at)}.jsonl.gz"


def key_time(key: str) -> datetime | None:
    """The UTC time encoded in an archive key (or any path with the same layout), or None."""
    match = _KEY_TIME.search(key)
    if not match:
        return None
    y, mo, d, h, mi, s = (int(g) for g in match.groups())
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)
