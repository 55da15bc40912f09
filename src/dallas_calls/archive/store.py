"""The object-store port and its two adapters: a local folder (default) and Amazon S3.

Raw snapshots and change records are written here before and after processing, so the whole
history can be rebuilt from the archive alone.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from dallas_calls.events.encode import event_json
from dallas_calls.feed.body import decode_json
from dallas_calls.model import Event

# Archive objects are written on every poll: level 6 compresses JSON nearly as well as 9 in a
# fraction of the time (any level reads back the same).
GZIP_LEVEL = 6


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` in lexicographic (hence time) order."""
        ...

    def describe(self) -> str: ...


class LocalObjectStore:
    """A folder; writes are atomic (temp file in the same folder + rename), so a reader or a crash
    never sees half an object."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"archive key escapes the archive folder: {key!r}")
        return path

    def put(self, key: str, body: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        if not self.root.exists():
            return iter(())
        keys = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )
        return iter(sorted(k for k in keys if k.startswith(prefix)))

    def describe(self) -> str:
        return str(self.root)


class S3ObjectStore:
    """An S3 bucket and key prefix, through boto3 (endpoint configurable for emulators)."""

    def __init__(
        self, bucket: str, prefix: str = "", client: Any = None, endpoint_url: str | None = None
    ) -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url)

    def put(self, key: str, body: bytes) -> None:
        content_type = "application/gzip" if key.endswith(".gz") else "application/octet-stream"
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        body: bytes = response["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix) :]

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def open_object_store(uri: str, endpoint_url: str | None = None) -> ObjectStore:
    """``s3://bucket/prefix`` → S3; anything else is a local folder path."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"archive URI has no bucket: {uri!r}")
        return S3ObjectStore(parsed.netloc, parsed.path, endpoint_url=endpoint_url)
    if parsed.scheme not in ("", "file"):
        raise ValueError(
            f"unsupported archive URI scheme {parsed.scheme!r} (use a folder or s3://bucket/prefix)"
        )
    return LocalObjectStore(parsed.path if parsed.scheme == "file" else uri)


def encode_pages(pages: Sequence[bytes]) -> bytes:
    """The raw archive's form of a snapshot: each response body exactly as received, byte for byte,
    as one gzip member (a snapshot read in several pages has several members). Storing bytes means
    no content can fail the archive, and the archive holds what the feed really sent."""
    return b"".join(gzip.compress(page, compresslevel=GZIP_LEVEL, mtime=0) for page in pages)


def encode_snapshot(rows: list[Any]) -> bytes:
    """Rows that have no received body (a rebased demo replay, a test) as a one-page snapshot.
    ASCII-escaped JSON, so any text, even a lone surrogate, encodes."""
    return encode_pages([json.dumps(rows).encode("ascii")])


def _gzip_members(body: bytes) -> Iterator[bytes]:
    while body:
        member = zlib.decompressobj(wbits=31)  # one gzip member
        yield member.decompress(body)
        if not member.eof:
            raise ValueError("truncated gzip member in snapshot")
        body = member.unused_data


def decode_snapshot(body: bytes) -> Any:
    """The rows of an archived or recorded snapshot: plain JSON, gzipped JSON (older archives: one
    member holding the re-encoded array) or byte-exact pages (one member per response body; their
    arrays are joined). Sniffed by the gzip magic bytes, not by the name."""
    if body[:2] != b"\x1f\x8b":
        return decode_json(body)
    pages = [decode_json(page) for page in _gzip_members(body)]
    if len(pages) == 1:
        return pages[0]
    if not all(isinstance(page, list) for page in pages):
        raise ValueError("a page of the snapshot does not hold a JSON array")
    return [row for page in pages for row in page]


def encode_changes(events: Iterable[Event]) -> bytes:
    """One event per line (JSONL), gzipped."""
    text = "".join(event_json(e) + "\n" for e in events)
    return gzip.compress(text.encode("utf-8"), compresslevel=GZIP_LEVEL, mtime=0)


def decode_changes(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).decode("utf-8").splitlines() if line]
