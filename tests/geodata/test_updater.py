"""The background updater `serve` starts: fetch and build from a loopback fake of the city's
services, progress as a status object and one log line per tenth, the sources-changed callback, the
opt-out, and saying "offline" once."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from dallas_calls.config import Settings
from dallas_calls.geodata.sources import city_sources
from dallas_calls.geodata.updater import GeodataUpdater, _StatusProgress
from tests.conftest import free_port
from tests.fakes import city_data
from tests.fakes.city_gis import CityGis


def settings(tmp_path: Path, url: str, auto: bool = True) -> Settings:
    overrides: dict[str, Any] = {"data_dir": tmp_path, "geodata_auto": auto, **city_data.settings_for(url)}
    return Settings(**overrides)


def updater(s: Settings, calls: list[str]) -> GeodataUpdater:
    return GeodataUpdater(s, lambda: calls.append("changed"), sources=city_sources(s), backoff_s=0.0)


def test_missing_geodata_is_fetched_built_and_announced(
    gis: CityGis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    u = updater(settings(tmp_path, gis.url), calls)
    with caplog.at_level(logging.INFO, logger="dallas_calls.geodata.updater"):
        assert asyncio.run(u.update_once()) is True
    assert calls == ["changed"]
    assert u.status()["state"] == "ready"
    assert (tmp_path / "geodata" / "city_points.sqlite3").is_file()
    assert (tmp_path / "geodata" / "city_streets.sqlite3").is_file()
    lines = [r.getMessage() for r in caplog.records]
    assert "geodata: downloading city address points 0%" in lines
    assert "geodata: downloading city address points 100%" in lines
    assert len(lines) < 60  # one line per step and tenth, not per page

    # Nothing is due any more: no download, no callback.
    before = len(gis.requests)
    assert asyncio.run(u.update_once()) is False
    assert calls == ["changed"] and len(gis.requests) == before


def test_progress_is_a_status_object_for_the_dashboard(tmp_path: Path) -> None:
    u = GeodataUpdater(settings(tmp_path, "http://127.0.0.1:9"), sources=[])
    progress = _StatusProgress(u)
    progress.start("city-address-points", 1000, 0, unit="records")
    progress.advance(420)
    status = u.status()
    assert {k: status[k] for k in ("state", "source", "percent")} == {
        "state": "downloading",
        "source": "city address points",
        "percent": 42,
    }


def test_opting_out_fetches_nothing(gis: CityGis, tmp_path: Path) -> None:
    calls: list[str] = []
    u = updater(settings(tmp_path, gis.url, auto=False), calls)
    asyncio.run(u.run())  # returns at once
    assert asyncio.run(u.update_once()) is False
    assert gis.requests == [] and calls == []
    assert u.status()["state"] == "disabled"
    assert not (tmp_path / "geodata").exists()


def test_offline_says_so_once_and_carries_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    u = updater(settings(tmp_path, f"http://127.0.0.1:{free_port()}"), calls)
    with caplog.at_level(logging.INFO, logger="dallas_calls.geodata.updater"):
        assert asyncio.run(u.update_once()) is False
        assert asyncio.run(u.update_once()) is False
    assert u.status()["state"] == "offline"
    assert [r.getMessage() for r in caplog.records if "offline" in r.getMessage()] != []
    assert len([r for r in caplog.records if "offline" in r.getMessage()]) == 1
    assert calls == []


def test_a_failing_source_is_reported_and_the_rest_is_built(gis: CityGis, tmp_path: Path) -> None:
    gis.statuses["/DallasAreaRoads"] = [500] * 50
    calls: list[str] = []
    u = updater(settings(tmp_path, gis.url), calls)
    assert asyncio.run(u.update_once()) is True
    status = u.status()
    assert status["state"] == "ready" and status["failed"] == ["city streets"]
    assert (tmp_path / "geodata" / "city_points.sqlite3").is_file()
    assert not (tmp_path / "geodata" / "city_streets.sqlite3").exists()


def test_serve_wiring_relocates_when_sources_change(gis: CityGis, tmp_path: Path) -> None:
    """The serve controller's hook: a new locator that uses the built sources, approximate cached
    answers expired."""
    from dallas_calls.events.bus import LocalBus
    from dallas_calls.runtime import build_components
    from dallas_calls.serving import ServeController

    s = settings(tmp_path, gis.url)
    controller = ServeController(s, LocalBus(), "live")
    assert controller.geodata is not None
    controller.geodata.sources = city_sources(s)
    controller.geodata.backoff_s = 0.0
    parts = build_components(s, LocalBus())
    controller._live_parts = parts
    try:
        parts.pipeline.store.set_meta("locator_signature", "before")
        assert asyncio.run(controller.geodata.update_once()) is True
        names = [p.name for p in parts.pipeline.locator.providers]  # type: ignore[union-attr]
        assert names[:2] == ["city_points", "city_centerlines"]
        assert parts.pipeline.store.get_meta("locator_signature") != "before"
    finally:
        parts.close()
    assert ServeController(s, LocalBus(), "demo").geodata is None


def test_inputs_without_an_index_are_built_without_fetching(gis: CityGis, tmp_path: Path) -> None:
    """A server stopped during a build: the next pass builds from what is on disk, fetching nothing."""
    calls: list[str] = []
    assert asyncio.run(updater(settings(tmp_path, gis.url), calls).update_once()) is True
    (tmp_path / "geodata" / "city_points.sqlite3").unlink()
    again = updater(settings(tmp_path, gis.url), calls)  # every source is present: nothing to fetch
    before = len(gis.requests)
    assert asyncio.run(again.update_once()) is True
    assert len(gis.requests) == before and calls == ["changed", "changed"]
    assert (tmp_path / "geodata" / "city_points.sqlite3").is_file()


def test_an_output_that_fails_to_build_is_not_rebuilt_on_every_pass(gis: CityGis, tmp_path: Path) -> None:
    gis.layers["/CrmLayers/MapServer/14"] = [
        {"type": "Feature", "properties": {"OBJECTID": 1}, "geometry": city_data.beats()[0]["geometry"]}
    ]
    calls: list[str] = []
    u = updater(settings(tmp_path, gis.url), calls)
    assert asyncio.run(u.update_once()) is True  # the rest was built
    assert not (tmp_path / "geodata" / "beats.geojson").exists()
    assert asyncio.run(u.update_once()) is False and calls == ["changed"]
