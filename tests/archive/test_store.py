"""The archive adapters: a local folder (atomic writes) and S3 (boto3 over HTTP to moto's server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dallas_calls.archive.keys import changes_key, key_time, raw_key
from dallas_calls.archive.store import (
    LocalObjectStore,
    ObjectStore,
    S3ObjectStore,
    decode_snapshot,
    encode_snapshot,
    open_object_store,
)


def test_key_layout_is_utc_and_round_trips() -> None:
    at = datetime(2019, 6, 17, 23, 46, 5, tzinfo=UTC)
    assert raw_key(at) == "raw/2019/06/17/234605Z.json.gz"
    assert changes_key(at) == "changes/2019/06/17/234605Z.jsonl.gz"
    assert key_time(raw_key(at)) == at


def test_snapshot_encoding_keeps_rows_exactly(first_snapshot: list[dict[str, str]]) -> None:
    body = encode_snapshot(first_snapshot)
    assert body[:2] == b"\x1f\x8b"
    assert decode_snapshot(body) == first_snapshot
    assert decode_snapshot(b'[{"a": 1}]') == [{"a": 1}]  # plain JSON is read too


def test_local_put_is_atomic_and_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("raw/2019/06/18/051700Z.json.gz", b"first")

    def crash(src: str, dst: str) -> None:
        raise OSError("power cut (simulated)")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.put("raw/2019/06/18/051700Z.json.gz", b"second")
    assert store.get("raw/2019/06/18/051700Z.json.gz") == b"first"  # the old object is intact
    assert list(store.list()) == ["raw/2019/06/18/051700Z.json.gz"]
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_local_keys_cannot_escape_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="escapes"):
        LocalObjectStore(tmp_path / "archive").put("../outside.json", b"x")


def test_archive_uri_selects_the_adapter(tmp_path: Path) -> None:
    assert isinstance(open_object_store(str(tmp_path)), LocalObjectStore)
    with pytest.raises(ValueError, match="no bucket"):
        open_object_store("s3:///prefix")
    with pytest.raises(ValueError, match="unsupported"):
        open_object_store("ftp://host/x")


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.mark.aws
def test_s3_archive_over_http_lists_in_time_order(moto_endpoint: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket="calls-archive")
    store = open_object_store("s3://calls-archive/dallas", endpoint_url=moto_endpoint)
    assert isinstance(store, S3ObjectStore)
    assert store.describe() == "s3://calls-archive/dallas/"
    keys = [raw_key(datetime(2019, 6, 18, h, 0, tzinfo=UTC)) for h in (6, 5, 7)]
    for key in keys:
        store.put(key, encode_snapshot([{"k": key}]))
    assert list(store.list("raw/")) == sorted(keys)
    assert decode_snapshot(store.get(keys[0])) == [{"k": keys[0]}]
    checked: ObjectStore = store  # the S3 adapter satisfies the port
    assert list(checked.list("changes/")) == []


def test_many_snapshots_in_one_second_keep_that_second_and_their_order(tmp_path: Path) -> None:
    """Polls faster than one a second (tests, soaks, a short --poll-interval) never run out of keys
    nor move to a later second; the same snapshot again reuses its key."""
    from dallas_calls.archive.store import LocalObjectStore
    from dallas_calls.feed.source import list_snapshots
    from dallas_calls.pipeline import archive_raw

    archive = LocalObjectStore(tmp_path / "archive")
    at = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    bodies = [f'[{{"n": {i}}}]'.encode() for i in range(150)]
    keys = [archive_raw(archive, body, at)[1] for body in bodies]
    assert len(set(keys)) == 150 and all(key_time(k) == at for k in keys)
    assert archive_raw(archive, bodies[7], at) == (at, keys[7])
    assert sorted(keys) == keys, "a later snapshot of the second sorts after the earlier"
    replayed = [p for _, p in list_snapshots(tmp_path / "archive")]
    assert [p.relative_to(tmp_path / "archive").as_posix() for p in replayed] == keys
