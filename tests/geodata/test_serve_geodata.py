"""`dallas-calls serve` (a real process) fetches and builds the city's geodata by itself, from a
loopback fake of the city's services, without holding up start-up; with the opt-out it fetches
nothing."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.fakes import city_data
from tests.fakes.city_gis import CityGis
from tests.fakes.data import load_feed_snapshot


def point_geodata_at(monkeypatch: pytest.MonkeyPatch, gis: CityGis, auto: bool) -> None:
    monkeypatch.setenv("DALLAS_CALLS_GEODATA_AUTO", "true" if auto else "false")
    monkeypatch.setenv("DALLAS_CALLS_GEODATA_TIGER_URL", gis.url)  # TIGER files: 404 here
    for name, url in city_data.settings_for(gis.url).items():
        monkeypatch.setenv(f"DALLAS_CALLS_{name.upper()}", url)


def test_serve_fetches_and_builds_the_city_geodata_in_the_background(
    gis: CityGis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_geodata_at(monkeypatch, gis, auto=True)
    server = LiveServer(tmp_path / "data", [load_feed_snapshot("2025-02-17T16-00-00Z")])
    server.start()
    try:
        built = tmp_path / "data" / "geodata" / "city_points.sqlite3"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "geocoding sources changed" not in server.log_path.read_text():
            time.sleep(0.2)
        log = server.log_path.read_text()
        assert built.is_file(), log[-3000:]
        assert "geodata: downloading city address points 0%" in log
        assert "geodata: downloading city address points 100%" in log
        assert "geocoding sources changed" in log  # the running locator switched to the new sources
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
    finally:
        server.stop()


def test_serve_with_the_opt_out_fetches_nothing(
    gis: CityGis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_geodata_at(monkeypatch, gis, auto=False)
    server = LiveServer(tmp_path / "data", [load_feed_snapshot("2025-02-17T16-00-00Z")])
    server.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "automatic download is off" not in server.log_path.read_text():
            time.sleep(0.1)
        assert "automatic download is off" in server.log_path.read_text()  # the updater ran, and stopped
        assert gis.requests == []
        assert not (tmp_path / "data" / "geodata" / "city_points.sqlite3").exists()
    finally:
        server.stop()
