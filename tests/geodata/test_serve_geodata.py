"""`dallas-calls serve` (a real process) fetches and builds the city's geodata by itself, from a
loopback fake of the city's services, without holding up start-up; with the opt-out it fetches
nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.fakes import city_data
from tests.fakes.city_gis import CityGis
from tests.fakes.data import load_feed_snapshot


@contextmanager
def serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gis: CityGis, auto: bool
) -> Iterator[LiveServer]:
    """A live `serve` whose geodata sources are all the fake (TIGER files: 404 there)."""
    monkeypatch.setenv("DALLAS_CALLS_GEODATA_AUTO", "true" if auto else "false")
    monkeypatch.setenv("DALLAS_CALLS_GEODATA_TIGER_URL", gis.url)
    for name, url in city_data.settings_for(gis.url).items():
        monkeypatch.setenv(f"DALLAS_CALLS_{name.upper()}", url)
    server = LiveServer(tmp_path / "data", [load_feed_snapshot("2025-02-17T16-00-00Z")])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def wait_for_log(server: LiveServer, text: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and text not in server.log_path.read_text():
        time.sleep(0.1)
    return server.log_path.read_text()


def test_serve_fetches_and_builds_the_city_geodata_in_the_background(
    gis: CityGis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path, monkeypatch, gis, auto=True) as server:
        log = wait_for_log(server, "geocoding sources changed")
        assert (tmp_path / "data" / "geodata" / "city_points.sqlite3").is_file(), log[-3000:]
        assert "geodata: downloading city address points 0%" in log
        assert "geodata: downloading city address points 100%" in log
        assert "geocoding sources changed" in log  # the running locator switched to the new sources
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


def test_serve_with_the_opt_out_fetches_nothing(
    gis: CityGis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path, monkeypatch, gis, auto=False) as server:
        assert "automatic download is off" in wait_for_log(server, "automatic download is off")  # it ran
        assert gis.requests == []
        assert not (tmp_path / "data" / "geodata" / "city_points.sqlite3").exists()
