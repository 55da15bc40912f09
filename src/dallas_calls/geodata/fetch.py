"""``dallas-calls geodata fetch``: download the pinned geodata into ``DATA_DIR/geodata/``.

Why it is more than ``httpx.get``: the TIGER files are tens of megabytes each from a server that
drops connections, and the local geocoder is only as trustworthy as its inputs. So a download

- streams into ``<file>.part`` and, after a cut connection, resumes with an HTTP ``Range`` request
  from where it stopped (starting over when the server ignores the range);
- retries transport errors and 5xx answers with backoff, a bounded number of times;
- is verified before it replaces anything: size and SHA-256 against the pinned values in
  :mod:`dallas_calls.geodata.sources`, else against the values recorded in ``manifest.json`` by an
  earlier download (trust on first use; ``mutable`` sources are re-recorded instead), and a zip must
  look like a zip (the Census Bureau has served HTML error pages with status 200);
- only then is renamed into place, and the manifest is rewritten atomically.

A file that fails verification is deleted, never kept: a later run downloads it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from dallas_calls import __version__
from dallas_calls.geodata.progress import Progress, TextProgress, megabytes
from dallas_calls.geodata.sources import Source

MANIFEST_NAME = "manifest.json"
USER_AGENT = f"dallas-calls/{__version__} (geodata fetch)"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with entries, an empty zip


class FetchError(Exception):
    """A source could not be downloaded (after retries) or was refused (status, not a zip)."""


class ChecksumError(FetchError):
    """The downloaded bytes are not the expected ones (size or SHA-256)."""


def geodata_dir(data_dir: Path) -> Path:
    return data_dir / "geodata"


# -- manifest ------------------------------------------------------------------------------------


@dataclass
class Manifest:
    """What was downloaded, from where, when, and its size and SHA-256: ``DATA_DIR/geodata/manifest.json``."""

    path: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The last failed fetch of a source, until it is fetched again: {"at", "error"}.
    failures: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_NAME
        if not path.is_file():
            return cls(path)
        data = json.loads(path.read_text("utf-8"))
        return cls(path, dict(data.get("files", {})), dict(data.get("failures", {})))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        body: dict[str, Any] = {"format": 1, "files": dict(sorted(self.entries.items()))}
        if self.failures:
            body["failures"] = dict(sorted(self.failures.items()))
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", "utf-8")
        os.replace(tmp, self.path)

    def record(self, source: Source, size: int, sha256: str) -> None:
        self.entries[source.name] = {
            "url": source.url,
            "file": source.filename,
            "size": size,
            "sha256": sha256,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "pinned": source.sha256 is not None,
        }
        self.failures.pop(source.name, None)

    def record_failure(self, source: Source, error: str) -> None:
        self.failures[source.name] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "error": error}


# -- verification --------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


CheckState = Literal["ok", "recorded", "mismatch", "missing", "unverified", "no-url"]


@dataclass(frozen=True, slots=True)
class FileCheck:
    """The state of one source's file on disk.

    ``ok``: matches a pinned checksum; ``recorded``: matches the checksum recorded at its download
    (trust on first use); ``mismatch``: differs from either; ``unverified``: present but nothing to
    compare with (not downloaded by ``fetch``); ``missing``; ``no-url``: nothing to download.
    """

    source: Source
    state: CheckState
    path: Path
    size: int | None = None
    sha256: str | None = None
    fetched_at: str | None = None
    detail: str = ""


def check_file(source: Source, folder: Path, manifest: Manifest) -> FileCheck:
    path = folder / source.filename
    entry = manifest.entries.get(source.name, {})
    if not path.is_file():
        state: CheckState = "no-url" if source.url is None else "missing"
        return FileCheck(source, state, path, detail=source.note)
    size = path.stat().st_size
    digest = sha256_file(path)
    fetched_at = entry.get("fetched_at")
    problem = _mismatch(source, size, digest, entry)
    if problem:
        return FileCheck(source, "mismatch", path, size, digest, fetched_at, problem)
    if source.sha256 is not None:
        return FileCheck(source, "ok", path, size, digest, fetched_at, "matches the pinned SHA-256")
    if entry.get("sha256"):
        return FileCheck(source, "recorded", path, size, digest, fetched_at, "matches the recorded SHA-256")
    return FileCheck(source, "unverified", path, size, digest, fetched_at, "not in the manifest")


def _mismatch(source: Source, size: int, digest: str, entry: dict[str, Any]) -> str:
    """Why ``size``/``digest`` are not what is expected of ``source`` ('' when they are)."""
    if source.size is not None and size != source.size:
        return f"size {size} != pinned {source.size}"
    if source.sha256 is not None:
        return (
            ""
            if digest == source.sha256.lower()
            else f"SHA-256 {digest[:12]}… != pinned {source.sha256[:12]}…"
        )
    recorded = entry.get("sha256")
    if recorded and entry.get("url") == source.url and digest != recorded:
        return f"SHA-256 {digest[:12]}… != recorded {str(recorded)[:12]}…"
    return ""


# -- download ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchResult:
    source: Source
    outcome: Literal["downloaded", "cached", "skipped", "failed"]
    path: Path | None = None
    size: int | None = None
    sha256: str | None = None
    detail: str = ""


class _Retryable(Exception):
    pass


class Fetcher:
    """Downloads sources into ``folder`` and keeps ``manifest.json`` there up to date.

    ``backoff_s`` is the first retry's delay (doubled each time); tests set it to 0.
    """

    def __init__(
        self,
        folder: Path,
        client: httpx.Client | None = None,
        progress: Progress | None = None,
        attempts: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.folder = folder
        self.manifest = Manifest.load(folder)
        self._own_client = client is None
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=15.0),
            follow_redirects=True,
            # identity: byte ranges must count the same bytes we store (no transparent gzip).
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )
        self.progress: Progress = progress or TextProgress()
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.sleep = sleep

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch_all(self, sources: Iterable[Source], force: bool = False) -> list[FetchResult]:
        """Every source, one after the other; a failure is reported and the others still run."""
        results = []
        for source in sources:
            try:
                results.append(self.fetch(source, force=force))
            except FetchError as exc:
                results.append(FetchResult(source, "failed", detail=str(exc)))
                self.manifest.record_failure(source, str(exc))
                self.manifest.save()
        return results

    def fetch(self, source: Source, force: bool = False) -> FetchResult:
        if source.url is None:
            return FetchResult(source, "skipped", detail=source.note or "no URL")
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / source.filename
        part = final.with_name(final.name + ".part")
        if final.is_file() and not force:
            check = check_file(source, self.folder, self.manifest)
            if check.state in ("ok", "recorded"):
                return FetchResult(source, "cached", final, check.size, check.sha256, check.detail)
            # Present but wrong or unknown: download it again rather than trust it.
        if force:
            part.unlink(missing_ok=True)
        if source.paging is not None:
            from dallas_calls.geodata.paged import download_pages  # it imports this module

            size, digest = download_pages(self, source, part)
        else:
            size, digest = self._download(source, part)
        entry = self.manifest.entries.get(source.name, {})
        problem = _mismatch(source, size, digest, {} if source.mutable else entry)
        if problem:
            part.unlink(missing_ok=True)
            hint = (
                ""
                if source.sha256
                else " (if the publisher really changed it, remove its manifest.json entry)"
            )
            raise ChecksumError(f"{source.name}: {problem}; the download was deleted{hint}")
        os.replace(part, final)
        self.manifest.record(source, size, digest)
        self.manifest.save()
        how = "pinned" if source.sha256 else ("re-recorded" if entry and source.mutable else "recorded")
        return FetchResult(source, "downloaded", final, size, digest, f"SHA-256 {digest[:16]}… ({how})")

    def _download(self, source: Source, part: Path) -> tuple[int, str]:
        """Bytes into ``part`` until complete, resuming after errors; returns (size, sha256)."""
        assert source.url is not None
        last_error = ""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return self._attempt(source, part)
            except _Retryable as exc:
                last_error = str(exc)
        raise FetchError(f"{source.name}: gave up after {self.attempts} attempts: {last_error}")

    def _attempt(self, source: Source, part: Path) -> tuple[int, str]:
        assert source.url is not None
        have = part.stat().st_size if part.is_file() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with self.client.stream("GET", source.url, headers=headers) as response:
                if response.status_code == 416 and have:
                    # Our partial file is not a prefix the server can continue: start over.
                    part.unlink(missing_ok=True)
                    raise _Retryable("range not satisfiable; restarting from zero")
                if response.status_code >= 500 or response.status_code == 429:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code not in (200, 206):
                    raise FetchError(f"{source.name}: HTTP {response.status_code} from {source.url}")
                resumed = response.status_code == 206 and have > 0 and _range_start(response) == have
                if not resumed:
                    have = 0  # the server sent the whole file (or a range we did not ask for)
                total = _total_size(response, have)
                h = hashlib.sha256()
                if resumed:
                    with part.open("rb") as f:
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            h.update(chunk)
                self.progress.start(source.name, total, have)
                done = have
                with part.open("ab" if resumed else "wb") as out:
                    for chunk in response.iter_bytes():  # as received: a cut loses nothing
                        out.write(chunk)
                        h.update(chunk)
                        done += len(chunk)
                        self.progress.advance(done)
                if total is not None and done != total:
                    raise _Retryable(f"connection ended at {done} of {total} bytes")
        except (httpx.TransportError, httpx.DecodingError) as exc:
            self.progress.finish(source.name, f"interrupted ({type(exc).__name__}); will resume")
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        except FetchError:
            part.unlink(missing_ok=True)
            raise
        if source.is_zip and not _looks_like_zip(part):
            part.unlink(missing_ok=True)
            raise FetchError(f"{source.name}: the server did not send a zip file")
        self.progress.finish(source.name, f"{megabytes(done)} received")
        return done, h.hexdigest()


def _range_start(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Range", "")  # "bytes 100-999/1000"
    with contextlib.suppress(ValueError, IndexError):
        return int(value.split()[1].split("-")[0])
    return None


def _total_size(response: httpx.Response, have: int) -> int | None:
    """The full size of the file, when the server says (Content-Range total, else Content-Length)."""
    if response.status_code == 206:
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        if total.isdigit():
            return int(total)
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and "Content-Encoding" not in response.headers:
        return int(length) + (have if response.status_code == 206 else 0)
    return None


def _looks_like_zip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) in ZIP_MAGIC
