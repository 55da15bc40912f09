"""``geodata fetch`` against a real HTTP server on loopback (stdlib ThreadingHTTPServer).

The server serves files, honours ``Range: bytes=N-`` (or ignores it, on request), can cut the
connection part-way through a body, answer with error statuses, or serve a wrong body. Nothing here
touches the real Census or City of Dallas URLs.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dallas_calls.cli import main
from dallas_calls.geodata.fetch import (
    ChecksumError,
    Fetcher,
    FetchError,
    Manifest,
    check_file,
)
from dallas_calls.geodata.progress import NoProgress, TextProgress
from dallas_calls.geodata.sources import Source, select_sources


def make_zip(size: int = 200_000) -> bytes:
    """A real zip whose body does not compress away (so cuts land mid-body)."""
    payload = hashlib.sha256(b"seed").digest() * (size // 32)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("tl_2025_48113_edges.dbf", payload)
    return buf.getvalue()


@dataclass
class Behaviour:
    files: dict[str, bytes] = field(default_factory=dict)
    wrong: dict[str, bytes] = field(default_factory=dict)  # path -> body served instead
    cut_after: dict[str, list[int]] = field(default_factory=dict)  # path -> bytes sent before each cut
    statuses: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses answered first
    ignore_range: set[str] = field(default_factory=set)
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        b = self.behaviour
        path = self.path
        b.requests.append((path, self.headers.get("Range")))
        if b.statuses.get(path):
            status = b.statuses[path].pop(0)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path not in b.files:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b.wrong.get(path, b.files[path])
        start = 0
        rng = self.headers.get("Range")
        if rng and path not in b.ignore_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Content-Type", "application/zip")
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        data = body[start:]
        cuts = b.cut_after.get(path)
        if cuts:
            n = cuts.pop(0)
            self.wfile.write(data[:n])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour()
    handler = type("BoundHandler", (Handler,), {"behaviour": behaviour})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", behaviour
    finally:
        httpd.shutdown()
        httpd.server_close()


def source(base: str, path: str = "/tl_2025_48113_edges.zip", **kw: object) -> Source:
    defaults: dict[str, object] = {
        "name": "tiger-48113-edges",
        "group": "tiger",
        "url": base + path,
        "filename": path.lstrip("/"),
        "description": "test",
        "is_zip": True,
    }
    return Source(**{**defaults, **kw})  # type: ignore[arg-type]


def fetcher(folder: Path, **kw: object) -> Fetcher:
    options: dict[str, object] = {"backoff_s": 0.0, "timeout_s": 5.0, "progress": NoProgress()}
    return Fetcher(folder, **{**options, **kw})  # type: ignore[arg-type]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_lands_in_place_and_records_its_checksum(
    server: tuple[str, Behaviour], tmp_path: Path
) -> None:
    base, b = server
    body = b.files["/tl_2025_48113_edges.zip"] = make_zip()
    with fetcher(tmp_path) as f:
        result = f.fetch(source(base))
    assert result.outcome == "downloaded"
    assert (tmp_path / "tl_2025_48113_edges.zip").read_bytes() == body
    assert not list(tmp_path.glob("*.part"))
    entry = json.loads((tmp_path / "manifest.json").read_text())["files"]["tiger-48113-edges"]
    assert entry["sha256"] == sha(body)
    assert entry["size"] == len(body)
    assert entry["pinned"] is False


def test_cut_connection_resumes_with_a_range_request(server: tuple[str, Behaviour], tmp_path: Path) -> None:
    base, b = server
    body = b.files["/tl_2025_48113_edges.zip"] = make_zip()
    b.cut_after["/tl_2025_48113_edges.zip"] = [70_000]
    with fetcher(tmp_path) as f:
        result = f.fetch(source(base, sha256=sha(body)))
    assert result.outcome == "downloaded"
    assert (tmp_path / "tl_2025_48113_edges.zip").read_bytes() == body
    ranges = [r for _, r in b.requests]
    assert ranges[0] is None
    assert ranges[1] == "bytes=70000-"
    assert len(ranges) == 2


def test_partial_file_survives_giving_up_and_the_next_run_resumes_it(
    server: tuple[str, Behaviour], tmp_path: Path
) -> None:
    base, b = server
    body = b.files["/tl_2025_48113_edges.zip"] = make_zip()
    b.cut_after["/tl_2025_48113_edges.zip"] = [30_000, 30_000, 30_000]
    with fetcher(tmp_path, attempts=3) as f, pytest.raises(FetchError, match="gave up after 3 attempts"):
        f.fetch(source(base))
    assert (tmp_path / "tl_2025_48113_edges.zip.part").stat().st_size == 90_000
    assert not (tmp_path / "tl_2025_48113_edges.zip").exists()
    with fetcher(tmp_path) as f:
        result = f.fetch(source(base, sha256=sha(body)))
    assert result.outcome == "downloaded"
    assert b.requests[-1][1] == "bytes=90000-"
    assert (tmp_path / "tl_2025_48113_edges.zip").read_bytes() == body


def test_server_ignoring_range_restarts_from_zero(server: tuple[str, Behaviour], tmp_path: Path) -> None:
    base, b = server
    body = b.files["/tl_2025_48113_edges.zip"] = make_zip()
    b.cut_after["/tl_2025_48113_edges.zip"] = [50_000]
    b.ignore_range.add("/tl_2025_48113_edges.zip")
    with fetcher(tmp_path) as f:
        result = f.fetch(source(base, sha256=sha(body)))
    assert result.outcome == "downloaded"
    assert (tmp_path / "tl_2025_48113_edges.zip").read_bytes() == body


def test_wrong_body_fails_the_pinned_checksum_and_is_deleted(
    server: tuple[str, Behaviour], tmp_path: Path
) -> None:
    base, b = server
    good = b.files["/tl_2025_48113_edges.zip"] = make_zip()
    b.wrong["/tl_2025_48113_edges.zip"] = make_zip(100_000)
    with fetcher(tmp_path) as f, pytest.raises(ChecksumError, match="pinned"):
        f.fetch(source(base, sha256=sha(good)))
    assert not (tmp_path / "tl_2025_48113_edges.zip").exists()
    assert not list(tmp_path.glob("*.part"))


def test_recorded_checksum_guards_a_refetch_and_keeps_the_good_file(
    server: tuple[str, Behaviour], tmp_path: Path
) -> None:
    base, b = server
    good = b.files["/tl_2025_48113_edges.zip"] = make_zip()
    with fetcher(tmp_path) as f:
        f.fetch(source(base))  # trust on first use: recorded
        b.wrong["/tl_2025_48113_edges.zip"] = make_zip(100_000)
        results = f.fetch_all([source(base)], force=True)
    assert results[0].outcome == "failed"
    assert "recorded" in results[0].detail
    assert (tmp_path / "tl_2025_48113_edges.zip").read_bytes() == good
    assert Manifest.load(tmp_path).entries["tiger-48113-edges"]["sha256"] == sha(good)


def test_verified_file_is_not_downloaded_again(server: tuple[str, Behaviour], tmp_path: Path) -> None:
    base, b = server
    b.files["/tl_2025_48113_edges.zip"] = make_zip()
    with fetcher(tmp_path) as f:
        f.fetch(source(base))
        again = f.fetch(source(base))
    assert again.outcome == "cached"
    assert len(b.requests) == 1


def test_corrupted_file_on_disk_is_downloaded_again(server: tuple[str, Behaviour], tmp_path: Path) -> None:
    base, b = server
    body = b.files["/tl_2025_48113_edges.zip"] = make_zip()
    with fetcher(tmp_path) as f:
        f.fetch(source(base))
    target = tmp_path / "tl_2025_48113_edges.zip"
    target.write_bytes(body[:1000])
    manifest = Manifest.load(tmp_path)
    assert check_file(source(base), tmp_path, manifest).state == "mismatch"
    with fetcher(tmp_path) as f:
        assert f.fetch(source(base)).outcome == "downloaded"
    assert target.read_bytes() == body
    assert check_file(source(base), tmp_path, Manifest.load(tmp_path)).state == "recorded"


def test_html_error_page_with_status_200_is_not_taken_for_a_zip(
    server: tuple[str, Behaviour], tmp_path: Path
) -> None:
    base, b = server
    b.files["/tl_2025_48113_edges.zip"] = b"<html><body>Error: the file is unavailable</body></html>"
    with fetcher(tmp_path) as f:
        [result] = f.fetch_all([source(base)])
    assert result.outcome == "failed"
    assert "not send a zip" in result.detail
    assert not list(tmp_path.glob("tl_*"))


def test_server_errors_are_retried_and_a_404_is_not(server: tuple[str, Behaviour], tmp_path: Path) -> None:
    base, b = server
    b.files["/tl_2025_48113_edges.zip"] = make_zip()
    b.statuses["/tl_2025_48113_edges.zip"] = [503, 502]
    with fetcher(tmp_path) as f:
        assert f.fetch(source(base)).outcome == "downloaded"
        assert len(b.requests) == 3
        [missing] = f.fetch_all([source(base, "/nope.zip", name="tiger-48113-featnames")])
    assert missing.outcome == "failed"
    assert "HTTP 404" in missing.detail
    assert len(b.requests) == 4


def test_mutable_source_is_re_recorded_when_it_changes(server: tuple[str, Behaviour], tmp_path: Path) -> None:
    base, b = server
    beats = source(base, "/beats.geojson", name="police-beats", group="police", is_zip=False, mutable=True)
    b.files["/beats.geojson"] = b'{"type": "FeatureCollection", "features": []}'
    with fetcher(tmp_path) as f:
        f.fetch(beats)
        b.files["/beats.geojson"] = b'{"type": "FeatureCollection", "features": [{}]}'
        result = f.fetch(beats, force=True)
    assert result.outcome == "downloaded"
    assert Manifest.load(tmp_path).entries["police-beats"]["sha256"] == sha(b.files["/beats.geojson"])


def test_source_without_url_is_skipped(tmp_path: Path) -> None:
    no_url = Source("somewhere", "city", None, "x.geojson", "test", note="no public URL confirmed")
    with fetcher(tmp_path) as f:
        result = f.fetch(no_url)
    assert result.outcome == "skipped"
    assert "no public URL" in result.detail


def test_text_progress_reports_start_resume_and_end(server: tuple[str, Behaviour], tmp_path: Path) -> None:
    base, b = server
    b.files["/tl_2025_48113_edges.zip"] = make_zip()
    b.cut_after["/tl_2025_48113_edges.zip"] = [60_000]
    out = io.StringIO()
    with fetcher(tmp_path, progress=TextProgress(out)) as f:
        f.fetch(source(base))
    text = out.getvalue()
    assert "tiger-48113-edges: downloading" in text
    assert "interrupted" in text
    assert "resuming at 0.1 MB" in text
    assert "received" in text


def test_pinned_list_covers_five_counties_and_three_layers() -> None:
    tiger = select_sources(["tiger"])
    assert len(tiger) == 15
    assert {s.url for s in select_sources(["48113"])} == {
        "https://www2.census.gov/geo/tiger/TIGER2025/EDGES/tl_2025_48113_edges.zip",
        "https://www2.census.gov/geo/tiger/TIGER2025/ADDRFEAT/tl_2025_48113_addrfeat.zip",
        "https://www2.census.gov/geo/tiger/TIGER2025/FEATNAMES/tl_2025_48113_featnames.zip",
    }
    assert [s.name for s in select_sources(["police-beats"])] == ["police-beats"]
    with pytest.raises(ValueError, match="no geodata source"):
        select_sources(["nonsense"])


def test_cli_fetch_rejects_an_unknown_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["geodata", "fetch", "--only", "nonsense", "--data-dir", str(tmp_path)]) == 2
    assert "no geodata source matches" in capsys.readouterr().err
    assert main(["geodata", "fetch", "--only", "police", "--list", "--data-dir", str(tmp_path)]) == 0
    assert "police-beats" in capsys.readouterr().out
