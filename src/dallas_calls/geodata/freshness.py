"""Whether each geodata source is usable: present, missing, stale or failed (for ``geodata status``
and for the updater that decides what ``serve`` fetches).

``stale``: fetched longer ago than ``max_age_days``, and only for sources that change (the city's
layers, ``mutable``); a TIGER vintage never goes stale. ``failed``: the last fetch failed and no
good copy is on disk, or the file on disk fails its checksum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from dallas_calls.geodata.fetch import Manifest, check_file
from dallas_calls.geodata.sources import Source

SourceState = Literal["present", "missing", "stale", "failed"]
DEFAULT_MAX_AGE_DAYS = 30.0


@dataclass(frozen=True, slots=True)
class SourceStatus:
    source: Source
    state: SourceState
    checksum: str  # the manifest check: ok, recorded, mismatch, missing, unverified, no-url
    size: int | None
    age_days: float | None
    sha256: str | None
    detail: str

    @property
    def checksum_ok(self) -> bool | None:
        """True when the file matches its pinned or recorded SHA-256; None when there is nothing to check."""
        if self.checksum in ("ok", "recorded"):
            return True
        return False if self.checksum == "mismatch" else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.source.name,
            "file": self.source.filename,
            "state": self.state,
            "checksum": self.checksum,
            "checksum_ok": self.checksum_ok,
            "size": self.size,
            "sha256": self.sha256,
            "age_days": self.age_days,
            "detail": self.detail,
        }


def source_states(
    folder: Path,
    sources: Iterable[Source],
    max_age_days: float = DEFAULT_MAX_AGE_DAYS,
    now: datetime | None = None,
) -> list[SourceStatus]:
    manifest = Manifest.load(folder)
    now = now or datetime.now(UTC)
    out = []
    for source in sources:
        check = check_file(source, folder, manifest)
        failure = manifest.failures.get(source.name)
        age = None
        if check.path.is_file():
            when = check.fetched_at or datetime.fromtimestamp(check.path.stat().st_mtime, UTC).isoformat()
            age = round((now - datetime.fromisoformat(when)).total_seconds() / 86400, 1)
        state: SourceState
        detail = check.detail
        if check.state == "mismatch":
            state = "failed"  # on disk, but not the bytes that were downloaded
        elif not check.path.is_file():
            state = "failed" if failure else "missing"
            detail = failure["error"] if failure else detail
        elif source.mutable and age is not None and age > max_age_days:
            state = "stale"
            detail = f"fetched {age:g} days ago (refreshed after {max_age_days:g})"
        else:
            state = "present"
        out.append(SourceStatus(source, state, check.state, check.size, age, check.sha256, detail))
    return out
