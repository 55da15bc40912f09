"""Shared fixtures: the real recorded data, and paths."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.data import REAL_DATA, REPO, load_feed_snapshot
from tests.path_guard import GUARD

GUARD.install()
# `serve` would fetch the city's geodata from the internet in the background; tests (and the serve
# processes they start, which inherit this) never do. Tests of the updater turn it on explicitly.
os.environ.setdefault("DALLAS_CALLS_GEODATA_AUTO", "false")

FEED_SEQUENCE = REPO / "tests" / "fixtures" / "feed_sequence"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real Dallas files copied into tests/fixtures/real/ (same layout as the shared data set)."""
    return REAL_DATA


@pytest.fixture
def feed_sequence() -> Path:
    """14 snapshots (archive layout, gzipped) derived from the real 2019-06-18 pair."""
    return FEED_SEQUENCE


@pytest.fixture
def first_snapshot() -> list[dict[str, Any]]:
    return load_feed_snapshot("2019-06-18T05-17-00Z")


@pytest.fixture
def second_snapshot() -> list[dict[str, Any]]:
    return load_feed_snapshot("2019-06-18T06-09-00Z")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """`dallas-calls serve` as a real process on a loopback port, polling a fake Socrata feed that
    the test steps through the recorded sequence with ``advance()``."""

    def __init__(
        self,
        data_dir: Path,
        snapshots: list[list[dict[str, Any]]],
        poll_interval: float = 0.3,
        mode_args: tuple[str, ...] = ("--no-demo-fallback",),
    ) -> None:
        from tests.fakes.socrata import FakeSocrata

        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.poll_interval = poll_interval
        self.mode_args = mode_args
        self.feed = FakeSocrata(snapshots, auto_advance=False).start()
        self.proc: Any = None
        self.log_path = data_dir / "serve.log"

    def start(self) -> None:
        import os
        import subprocess
        import sys
        import time

        import httpx

        env = {**os.environ, "DALLAS_CALLS_FEED_MAX_ATTEMPTS": "1", "DALLAS_CALLS_FEED_TIMEOUT_S": "2"}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dallas_calls.cli",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--feed-url",
                self.feed.url,
                "--poll-interval",
                str(self.poll_interval),
                *self.mode_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        # The test process writes the log (a pipe, copied by a thread): the server's own file
        # limits, lowered by a test to fill the "disk", never silence its log.
        threading.Thread(target=self._copy_log, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited early: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not start: {self.log_path.read_text()[-2000:]}")

    def _copy_log(self, pipe: Any) -> None:
        with self.log_path.open("ab") as log:
            for line in iter(pipe.readline, b""):
                log.write(line)
                log.flush()

    def advance(self) -> int:
        """Serve the next recorded snapshot to the next poll."""
        index: int = self.feed.advance()
        return index

    def stop(self) -> None:
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a crash)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        self.feed.stop()


@pytest.fixture
def live_server(tmp_path: Path, feed_sequence: Path) -> Any:
    from dallas_calls.archive.store import decode_snapshot
    from dallas_calls.feed.source import list_snapshots

    snapshots = [decode_snapshot(p.read_bytes()) for _, p in list_snapshots(feed_sequence)]
    server = LiveServer(tmp_path / "serve", snapshots)
    server.start()
    yield server
    server.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main thread
    while its session-scoped browser lives, and asyncio tests cannot start their own loop then."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any test read a path outside the repository (tests/path_guard.py)."""
    if GUARD.violations:
        unique = sorted(set(GUARD.violations))
        print("\n\nTests read paths outside the repository (copy what they need into tests/fixtures/):")
        for path in unique[:50]:
            print(f"  {path}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def archive_verify(data_dir: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    """`dallas-calls archive verify --json` on ``data_dir``: (exit code, report)."""
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dallas_calls.cli",
            "archive",
            "verify",
            "--json",
            "--data-dir",
            str(data_dir),
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report
