"""Runtime wiring: approximate geocodes get another chance when better sources appear."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dallas_calls.cli import main as cli_main
from dallas_calls.config import Settings
from dallas_calls.feed.source import ReplaySource
from dallas_calls.runtime import build_components

TIGER = Path(__file__).resolve().parent / "fixtures" / "tiger"


async def test_building_the_street_index_expires_beat_level_answers(
    tmp_path: Path, feed_sequence: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    parts = build_components(settings)
    await parts.pipeline.poll(ReplaySource(feed_sequence))
    await parts.pipeline.locate_pending()
    now = datetime.now(UTC).isoformat()
    assert parts.store.location_keys_needing_geocode(now) == []
    approximate = {
        c.location_key
        for c in parts.store.open_calls().values()
        if c.geo is None or c.geo.precision == "beat"
    }
    assert approximate  # without street data many keys are only placed at their beat
    parts.close()

    assert (
        build_components(settings).store.get_meta("locator_signature") is not None
    )  # same sources: no change
    assert cli_main(["geodata", "build", "--from", str(TIGER), "--data-dir", str(tmp_path)]) == 0
    rebuilt = build_components(settings)
    retry = set(rebuilt.store.location_keys_needing_geocode(now))
    assert approximate <= retry
    exact = {
        c.location_key for c in rebuilt.store.open_calls().values() if c.geo and c.geo.precision == "address"
    }
    assert exact and not (exact & retry)  # good answers are kept
