from __future__ import annotations

import json
from pathlib import Path

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geocoding.choose import choose
from dallas_calls.geodata.beats import default_areas


def _google_rows(real_data: Path) -> list[dict[str, object]]:
    path = real_data / "original" / "agaricide_dump_2019-06-18T0109_geocoded.json"
    rows: list[dict[str, object]] = json.loads(path.read_text())
    return rows


def test_a_point_outside_dallas_is_never_published(real_data: Path) -> None:
    cache = json.loads((real_data / "baselines" / "sk8ter-kevin_nominatim_geocode-cache.json").read_text())
    plano = cache["dallas pkwy & plano, dallas, tx"]
    cand = Candidate(plano["lat"], plano["lon"], "intersection", "nominatim", 1.0)
    for beat in (None, "622"):
        geo = choose([cand], beat, None, default_areas()).geo
        assert (geo.lat, geo.lon) != (cand.lat, cand.lon)
        assert geo.precision in ("beat", "none")


def test_a_far_away_recorded_google_geocode_falls_back_to_the_beat_centroid(real_data: Path) -> None:
    areas = default_areas()
    far = []
    for item in _google_rows(real_data):
        inc, point = item["incident"], item["location"]
        assert isinstance(inc, dict) and isinstance(point, dict)
        beat = str(inc["beat"])
        gap = areas.distance_to_beat_m(point["lat"], point["lng"], beat)
        if gap is not None and gap > 3000:
            far.append((beat, Candidate(point["lat"], point["lng"], "address", "google", 1.0)))
    assert far, "the recorded Google geocodes include some far outside the call's beat"
    for beat, cand in far:
        choice = choose([cand], beat, None, areas)
        assert choice.geo.precision == "beat"
        assert (choice.geo.lat, choice.geo.lon) == areas.beat_centroid(beat)
        assert choice.geo.candidates_considered == 1
        assert not choice.judged[0].accepted


def test_a_candidate_in_the_beat_beats_a_better_match_outside_it() -> None:
    areas = default_areas()
    lat, lon = areas.beat_centroid("134") or (0.0, 0.0)
    elsewhere = areas.beat_centroid("746") or (0.0, 0.0)
    inside = Candidate(lat, lon, "street", "a", 0.3)
    outside = Candidate(elsewhere[0], elsewhere[1], "address", "b", 1.0)
    choice = choose([outside, inside], "134", "Central", areas)
    assert (choice.geo.lat, choice.geo.lon, choice.geo.source) == (lat, lon, "a")
    assert choice.geo.in_beat is True
    assert choice.geo.candidates_considered == 2


def test_agreeing_candidates_outrank_a_lone_one_of_the_same_kind() -> None:
    areas = default_areas()
    lat, lon = areas.beat_centroid("134") or (0.0, 0.0)
    lone = Candidate(lat + 0.002, lon, "address", "x", 0.9)
    pair = [Candidate(lat, lon, "address", "y", 0.9), Candidate(lat + 0.0003, lon, "address", "z", 0.9)]
    choice = choose([lone, *pair], "134", None, areas)
    assert choice.geo.source in ("y", "z")


def test_no_candidates_and_no_beat_gives_precision_none() -> None:
    geo = choose([], None, None, default_areas()).geo
    assert (geo.lat, geo.lon, geo.precision, geo.in_beat) == (None, None, "none", None)


def test_the_choice_records_which_beat_check_was_used() -> None:
    choice = choose([], "134", None, default_areas())
    assert choice.beat_check == "approx"
    assert choice.to_dict()["beat_check"] == "approx"
