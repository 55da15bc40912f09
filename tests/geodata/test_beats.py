from __future__ import annotations

import json
from pathlib import Path

from dallas_calls.geodata import beats
from dallas_calls.geodata.beats import BeatAreas
from dallas_calls.geodata.build_tables import build_beat_areas, city_feature_collection, read_city_outline
from dallas_calls.geodata.samples import city_truth_points, geocoded_beat_points

GEO_DATA = Path(beats.__file__).resolve().parent / "data"


def test_held_out_city_points_fall_in_their_own_approximate_beat(real_data: Path) -> None:
    incidents = real_data / "incidents"
    city = read_city_outline(real_data)
    points = [*city_truth_points(incidents), *geocoded_beat_points(incidents)]
    held_out = [p for p in points if p.source == "dmn_homicides" and p.beat]
    training = [p for p in points if p.source != "dmn_homicides" and p.beat]
    areas = BeatAreas.from_geojson(build_beat_areas(training, city), city_feature_collection(city), "approx")
    verdicts = [areas.point_in_beat(p.lat, p.lon, p.beat) for p in held_out]
    known = [v for v in verdicts if v is not None]
    assert len(known) > 900
    assert sum(known) / len(known) >= 0.9
    assert (
        sum(bool(areas.point_in_division(p.lat, p.lon, p.division)) for p in held_out) / len(held_out) >= 0.95
    )


def test_city_points_are_in_the_city_and_suburbs_are_not(real_data: Path) -> None:
    truth = city_truth_points(real_data / "incidents")
    assert sum(beats.in_city(p.lat, p.lon) for p in truth) / len(truth) >= 0.99
    # Nominatim's "dallas pkwy & plano" answer lies in Plano; Highland Park is an enclave.
    cache = json.loads((real_data / "baselines" / "sk8ter-kevin_nominatim_geocode-cache.json").read_text())
    plano = cache["dallas pkwy & plano, dallas, tx"]
    assert not beats.in_city(plano["lat"], plano["lon"])
    assert not beats.in_city(32.8335, -96.7960)  # Highland Park town hall area


def test_beat_centroid_lies_in_its_own_beat_for_every_shipped_beat() -> None:
    areas = beats.default_areas()
    assert areas.check == "approx"
    assert len(areas.beats) > 200
    for name in areas.beats:
        centroid = areas.beat_centroid(name)
        assert centroid is not None
        assert areas.point_in_beat(centroid[0], centroid[1], name), name


def test_unknown_beat_answers_none_not_false() -> None:
    assert beats.point_in_beat(32.78, -96.80, "99999") is None
    assert beats.point_in_beat(32.78, -96.80, None) is None
    assert beats.beat_area("99999") is None
    assert beats.beat_centroid(None) is None


def test_real_beat_polygons_are_used_and_recorded_as_polygon_check(tmp_path: Path) -> None:
    # A constructed one-beat polygon file stands in for the city's downloaded beats.
    square = [[-96.81, 32.77], [-96.79, 32.77], [-96.79, 32.79], [-96.81, 32.79], [-96.81, 32.77]]
    path = tmp_path / "beats.geojson"
    feature = {
        "type": "Feature",
        "properties": {"BEAT": "134", "DIVISION": "Central"},
        "geometry": {"type": "Polygon", "coordinates": [square]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    areas = BeatAreas.load(path)
    assert areas.check == "polygon"
    assert areas.point_in_beat(32.78, -96.80, "134") is True
    assert (
        areas.point_in_beat(32.78, -96.788, "134") is False
    )  # ~190 m outside: no tolerance for real polygons
    assert areas.division_of("134") == "CENTRAL"


def test_shipped_geo_tables_are_small() -> None:
    total = sum(p.stat().st_size for p in GEO_DATA.iterdir() if p.is_file())
    assert 0 < total < 1_000_000


def test_build_is_deterministic(real_data: Path, tmp_path: Path) -> None:
    from dallas_calls.geodata.build_tables import build_all

    build_all(real_data, tmp_path / "a", tmp_path / "a")
    build_all(real_data, tmp_path / "b", tmp_path / "b")
    for name in ("city.geojson", "beats_approx.geojson", "address_points_seed.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() == (
            (GEO_DATA if name.endswith("geojson") else GEO_DATA.parent.parent / "geocoding" / "data") / name
        ).read_bytes(), f"shipped {name} is stale: rebuild with python -m dallas_calls.geodata.build_tables"


def test_the_address_table_keeps_each_points_source_and_only_force_points_in_their_beat(
    real_data: Path,
) -> None:
    import csv

    from dallas_calls.geodata.build_tables import points_in_their_beat
    from dallas_calls.geodata.samples import CITY_CENTRE_FALLBACK

    force = geocoded_beat_points(real_data / "incidents")
    areas = beats.default_areas()
    kept = points_in_their_beat(force, areas)
    assert 0.8 * len(force) < len(kept) < len(force)
    assert all(areas.point_in_beat(p.lat, p.lon, p.beat) for p in kept)
    table = GEO_DATA.parent.parent / "geocoding" / "data" / "address_points_seed.csv"
    with table.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {
        "shuyizhang3",
        "dmn_homicides",
        "openaddresses",
        "dpd_force_2014",
        "dpd_force_2015_city_portal",
    } <= {r["source"] for r in rows}
    fallback = [
        r
        for r in rows
        if (round(float(r["lat"]), 3), round(float(r["lon"]), 3))
        == (round(CITY_CENTRE_FALLBACK[0], 3), round(CITY_CENTRE_FALLBACK[1], 3))
    ]
    assert fallback == []
    assert table.stat().st_size < 400_000
    # Each row keeps the reporting area its source recorded (the locator's fallback finer than the
    # beat); the 2025 sample and the OpenAddresses points have none.
    with_area = [r for r in rows if r["source"] not in ("apwheele", "openaddresses")]
    assert sum(bool(r["reporting_area"]) for r in with_area) > 0.99 * len(with_area)
    assert all(r["reporting_area"].isdigit() for r in with_area if r["reporting_area"])
    assert not any(r["reporting_area"] for r in rows if r["source"] in ("apwheele", "openaddresses"))
    assert {r["reporting_area"] for r in rows if r["address"] == "4302 INDEPENDENCE DR"} == {"4359"}
