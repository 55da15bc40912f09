from __future__ import annotations

import json
from pathlib import Path

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.locator import AddressPointProvider, Locator, default_locator
from dallas_calls.geocoding.normalize import NormalizedLocation
from dallas_calls.model import PRECISIONS
from tests.geocoding.conftest import feed_rows


class RecordingProvider:
    def __init__(self, name: str, result: list[Candidate] | Exception) -> None:
        self.name = name
        self.result = result
        self.calls = 0

    def candidates(self, location: NormalizedLocation, near: tuple[float, float] | None) -> list[Candidate]:
        self.calls += 1
        if isinstance(self.result, Exception):
            raise self.result
        return list(self.result)


def test_every_real_feed_row_is_placed_in_dallas_or_not_at_all(real_data: Path) -> None:
    locator = default_locator()
    areas = locator.areas
    for row in feed_rows():
        geo = locator.locate(row.get("block"), row["location"], row.get("beat"), row.get("division"))
        assert geo.precision in PRECISIONS
        if geo.lat is not None and geo.lon is not None:
            assert areas.in_city(geo.lat, geo.lon) or geo.precision == "beat", row


def test_frankford_and_midway_is_not_put_downtown(real_data: Path) -> None:
    # The prototype put "Frankford Rd / Midway Rd" (far north) at 300 S Riverfront Blvd downtown.
    downtown = Candidate(32.7745, -96.8094, "intersection", "paid_api", 1.0)
    locator = Locator([RecordingProvider("paid_api", [downtown])])
    geo = locator.locate(None, "Frankford Rd / Midway Rd", "613", "North Central")
    assert geo.lat is not None and geo.lat > 32.9
    assert geo.precision == "beat"


def test_a_failing_provider_does_not_stop_the_chain() -> None:
    locator = default_locator()
    lat, lon = locator.areas.beat_centroid("452") or (0.0, 0.0)
    broken = RecordingProvider("broken", RuntimeError("down"))
    good = RecordingProvider("good", [Candidate(lat, lon, "address", "good", 0.8)])
    geo = Locator([broken, good], locator.areas).locate("4300", "W Camp Wisdom Rd", "452", "Southwest")
    assert (geo.source, geo.precision, geo.in_beat) == ("good", "address", True)
    assert broken.calls == 1


def test_the_chain_stops_once_a_local_answer_is_good() -> None:
    base = default_locator()
    online = RecordingProvider("online", [])
    locator = Locator([*base.providers, online], base.areas)
    explanation = locator.explain(None, "W Camp Wisdom Rd / Independence Dr", "452", "Southwest")
    assert explanation.choice.geo.precision == "intersection"
    assert explanation.providers_asked == ("address_points",)
    assert online.calls == 0


def test_explanation_is_json_with_key_candidates_and_check() -> None:
    explanation = default_locator().explain("4300", "W Camp Wisdom Rd", "452", "Southwest")
    data = json.loads(json.dumps(explanation.to_dict()))
    assert data["key"] == "4300 W CAMP WISDOM RD | DALLAS TX"
    assert data["beat_check"] == "approx"
    assert data["candidates"] and data["geo"]["source"] == "address_points"


def test_address_point_provider_is_a_provider() -> None:
    provider = AddressPointProvider(default_locator().providers[0].index)  # type: ignore[attr-defined]
    assert provider.name == "address_points"
