"""The city's own layers: fetched page by page from a loopback fake of its services (tests/fakes/
city_gis.py), built into the local indexes, and used first by the locator. The data is the
constructed miniature in tests/fakes/city_data.py (real field names, invented places)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dallas_calls.config import Settings
from dallas_calls.geocoding.locator import default_locator
from dallas_calls.geodata.city_build import build_city_geodata
from dallas_calls.geodata.distance import distance_m
from dallas_calls.geodata.fetch import Fetcher, FetchError, Manifest
from dallas_calls.geodata.paged import FieldsError, read_features
from dallas_calls.geodata.progress import NoProgress
from dallas_calls.geodata.sources import Source, city_sources
from tests.fakes import city_data
from tests.fakes.city_gis import CityGis


def settings(tmp_path: Path, url: str, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {"data_dir": tmp_path, **city_data.settings_for(url), **extra}
    return Settings(**overrides)


def fetcher(folder: Path, **kw: Any) -> Fetcher:
    options: dict[str, Any] = {"backoff_s": 0.0, "timeout_s": 5.0, "progress": NoProgress()}
    return Fetcher(folder, **{**options, **kw})


def source(s: Settings, name: str, **changes: Any) -> Source:
    import dataclasses

    found = next(x for x in city_sources(s) if x.name == name)
    return dataclasses.replace(found, **changes)


def test_arcgis_layer_is_read_across_pages_until_the_transfer_limit_clears(
    gis: CityGis, tmp_path: Path
) -> None:
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path) as f:
        result = f.fetch(source(s, "city-address-points", page_size=1000))
    assert result.outcome == "downloaded"
    features = list(read_features(tmp_path / "city_address_points.jsonl.gz"))
    assert len(features) == len(city_data.address_points()) == 20
    pages = [q for q in gis.paths("/AddressPoints/FeatureServer/0/query") if "resultOffset" in q]
    assert [q["resultOffset"] for q in pages] == [str(i) for i in range(0, 20, 3)]  # capped at 3 a page
    assert all(q["outSR"] == "4326" for q in pages)
    assert set(features[0]["properties"]) == {
        "HOUSENUMBER",
        "FULLSTREETNAME",
        "ADDRESSID",
        "HOUSESUFFIX",
        "ZIPCODE",
        "ADDRESSTYPE",
    }
    entry = Manifest.load(tmp_path).entries["city-address-points"]
    assert entry["sha256"] == result.sha256 and entry["size"] == result.size


def test_a_server_without_geojson_is_read_in_esri_json(gis: CityGis, tmp_path: Path) -> None:
    gis.geojson = False
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path) as f:
        assert f.fetch(source(s, "city-streets")).outcome == "downloaded"
    features = list(read_features(tmp_path / "city_streets.jsonl.gz"))
    assert len(features) == len(city_data.centerlines())
    assert features[0]["geometry"]["type"] == "MultiLineString"
    assert [q["f"] for q in gis.paths("/DallasAreaRoads/FeatureServer/2/query") if "resultOffset" in q][
        :2
    ] == [
        "geojson",
        "json",
    ]


def test_esri_json_pages_are_read_like_geojson(gis: CityGis, tmp_path: Path) -> None:
    import dallas_calls.geodata.paged as paged

    body = {"features": [{"attributes": {"A": 1}, "geometry": {"x": -96.8, "y": 32.78}}]}
    [feature] = [paged._as_feature(f) for f in body["features"]]
    assert feature == {"properties": {"A": 1}, "geometry": {"type": "Point", "coordinates": [-96.8, 32.78]}}
    ring = [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]  # clockwise: an outer ring
    hole = [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8], [0.2, 0.2]]
    assert paged.esri_geometry({"rings": [ring, hole, ring]}) == {
        "type": "MultiPolygon",
        "coordinates": [[ring, hole], [ring]],
    }


def test_socrata_incidents_are_paged_in_id_order(gis: CityGis, tmp_path: Path) -> None:
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path) as f:
        f.fetch(source(s, "city-incidents", page_size=2))
    pages = [q for q in gis.paths(city_data.INCIDENTS_PATH) if "$offset" in q]
    assert [(q["$offset"], q["$limit"], q["$order"]) for q in pages] == [
        ("0", "2", ":id"),
        ("2", "2", ":id"),
        ("4", "2", ":id"),
    ]
    assert pages[0]["$where"] == "geocoded_column IS NOT NULL"
    assert pages[0]["$select"] == "incident_address,geocoded_column,beat,division"
    rows = list(read_features(tmp_path / "city_incidents.jsonl.gz"))
    assert [r["properties"]["incident_address"] for r in rows][:2] == ["MAIN ST / ERVAY ST"] * 2


def test_a_layer_without_the_documented_fields_fails_naming_the_fields_found(
    gis: CityGis, tmp_path: Path
) -> None:
    gis.layers["/AddressPoints/FeatureServer/0"] = [
        {"type": "Feature", "properties": {"HOUSE_NUM": 1, "STREET": "ELM ST"}, "geometry": None}
    ]
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path) as f, pytest.raises(FieldsError) as caught:
        f.fetch(source(s, "city-address-points"))
    message = str(caught.value)
    assert "HOUSENUMBER" in message and "fields found: HOUSE_NUM, STREET" in message
    assert not list(tmp_path.glob("city_address_points*"))


def test_socrata_without_the_documented_columns_fails_naming_the_columns_found(
    gis: CityGis, tmp_path: Path
) -> None:
    gis.socrata[city_data.INCIDENTS_PATH] = [{"incidentnum": "1", "address": "ELM ST", "geocoded_column": {}}]
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path) as f, pytest.raises(FieldsError) as caught:
        f.fetch(source(s, "city-incidents"))
    assert "no incident_address; fields found: address, geocoded_column, incidentnum" in str(caught.value)


def test_a_service_that_is_down_is_retried_then_fails_and_the_others_still_come(
    gis: CityGis, tmp_path: Path
) -> None:
    gis.statuses["/DallasAreaRoads"] = [503] * 10
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path, attempts=3) as f:
        streets, beats = f.fetch_all([source(s, "city-streets"), source(s, "police-beats")])
    assert streets.outcome == "failed" and "gave up after 3 attempts: HTTP 503" in streets.detail
    assert beats.outcome == "downloaded"
    assert "city-streets" in Manifest.load(tmp_path).failures


def test_a_slow_service_times_out_and_is_retried(gis: CityGis, tmp_path: Path) -> None:
    gis.hang_s["/Dallasbaselayers"] = 1.0
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path, attempts=2, timeout_s=0.2) as f, pytest.raises(FetchError, match="ReadTimeout"):
        f.fetch(source(s, "police-divisions"))
    assert len(gis.paths("/Dallasbaselayers/FeatureServer/9/query")) >= 2


def fetch_everything(gis: CityGis, tmp_path: Path) -> Settings:
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path / "geodata") as f:
        results = f.fetch_all(city_sources(s))
    assert [r.outcome for r in results] == ["downloaded"] * 6, [r.detail for r in results]
    return s


def test_built_sources_place_blocks_and_intersections_where_the_city_puts_them(
    gis: CityGis, tmp_path: Path
) -> None:
    s = fetch_everything(gis, tmp_path)
    report = build_city_geodata(tmp_path / "geodata", log=lambda _: None)
    assert not report.failed and set(report.built) == {
        "beats.geojson",
        "divisions.geojson",
        "city.geojson",
        "city_points.sqlite3",
        "city_streets.sqlite3",
    }
    locator = default_locator(s)
    areas = locator.areas
    assert areas.check == "polygon" and areas.division_of(city_data.BEAT) == "CENTRAL"
    assert areas.point_in_division(32.795, -96.815, "Central")  # the division's polygon, not its beat's
    assert not areas.in_city(32.90, -96.80)  # the fetched limits (Dallas only), not the shipped outline

    block = locator.locate("600", "ELM ST", city_data.BEAT, None)
    assert (block.precision, block.source, block.in_beat) == ("address", "city_address_points", True)
    assert block.lat is not None and block.lon is not None
    assert abs(block.lat - city_data.ELM_LAT) < 0.0002 and -96.7950 < block.lon < -96.7940

    odd_side = locator.locate(None, "615 ELM ST", city_data.BEAT, None)
    assert odd_side.lat == pytest.approx(city_data.ODD_SIDE_LAT)

    interpolated = locator.locate("800", "ELM ST", city_data.BEAT, None)
    assert (interpolated.precision, interpolated.source) == ("address", "city_centerlines")
    assert interpolated.lon == pytest.approx(-96.7925, abs=0.0002)

    crossing = locator.locate(None, "Elm St / N Harwood St", city_data.BEAT, None)
    assert (crossing.precision, crossing.source) == ("intersection", "city_centerlines")
    assert distance_m(crossing.lat or 0, crossing.lon or 0, *city_data.ELM_AT_HARWOOD) < 5

    spelled = locator.locate(None, "ERVAY ST / MAIN ST", city_data.BEAT, None)
    assert (spelled.precision, spelled.source) == ("intersection", "city_incidents")
    assert distance_m(spelled.lat or 0, spelled.lon or 0, *city_data.MAIN_AT_ERVAY) < 5


def test_an_overpass_does_not_meet_the_street_under_it(gis: CityGis, tmp_path: Path) -> None:
    from dallas_calls.geocoding.street_index import StreetIndex

    fetch_everything(gis, tmp_path)
    build_city_geodata(tmp_path / "geodata", log=lambda _: None)
    index = StreetIndex.open(tmp_path / "geodata" / "city_streets.sqlite3")
    assert index is not None
    assert index.intersection("WOODALL RODGERS FWY", "N HARWOOD ST") == []
    assert len(index.intersection("ELM ST", "N HARWOOD ST")) == 1


def test_beats_without_a_beat_field_are_an_error_naming_the_fields(gis: CityGis, tmp_path: Path) -> None:
    gis.layers["/CrmLayers/MapServer/14"] = [
        {
            "type": "Feature",
            "properties": {"OBJECTID": 1, "NAME": "x"},
            "geometry": city_data.beats()[0]["geometry"],
        }
    ]
    fetch_everything(gis, tmp_path)
    report = build_city_geodata(tmp_path / "geodata", log=lambda _: None)
    assert "no feature yields a police beat; fields found: NAME, OBJECTID" in report.failed["beats.geojson"]
    assert "city_points.sqlite3" in report.built  # the other outputs are still built


def test_status_reports_present_missing_stale_and_failed(
    gis: CityGis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from dallas_calls.cli import main

    s = settings(tmp_path, gis.url)
    gis.statuses["/DallasAreaRoads"] = [503] * 20
    with fetcher(tmp_path / "geodata", attempts=2) as f:
        f.fetch_all([source(s, "city-address-points"), source(s, "police-beats"), source(s, "city-streets")])
    manifest_path = tmp_path / "geodata" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["police-beats"]["fetched_at"] = "2020-01-01T00:00:00+00:00"
    manifest_path.write_text(json.dumps(manifest))

    env = {f"DALLAS_CALLS_{k.upper()}": v for k, v in city_data.settings_for(gis.url).items()}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        assert main(["geodata", "status", "--json", "--data-dir", str(tmp_path)]) == 0
        files = {f["name"]: f for f in json.loads(capsys.readouterr().out)["files"]}
        (tmp_path / "geodata" / "city_address_points.jsonl.gz").write_bytes(b"changed")
        assert main(["geodata", "status", "--data-dir", str(tmp_path)]) == 1
        assert "CHECKSUM MISMATCH" in capsys.readouterr().out
    assert files["city-address-points"]["state"] == "present" and files["city-address-points"]["checksum_ok"]
    assert files["police-beats"]["state"] == "stale"
    assert files["city-streets"]["state"] == "failed" and "HTTP 503" in files["city-streets"]["detail"]
    assert files["city-incidents"]["state"] == "missing"
    assert files["tiger-48113-edges"]["state"] == "missing"


def test_cli_build_makes_the_city_indexes_without_tiger(
    gis: CityGis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dallas_calls.cli import main

    fetch_everything(gis, tmp_path)
    assert main(["geodata", "build", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "built city_points.sqlite3" in out and "built city_streets.sqlite3" in out


def test_centerlines_in_the_open_data_export_layout_are_read(gis: CityGis, tmp_path: Path) -> None:
    from dallas_calls.geocoding.street_index import StreetIndex

    gis.layers["/DallasAreaRoads/FeatureServer/2"] = city_data.centerlines_export_schema()
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path) as f:
        f.fetch(source(s, "city-streets"))
    assert build_city_geodata(tmp_path, log=lambda _: None).built["city_streets.sqlite3"]["segments"] == 2
    index = StreetIndex.open(tmp_path / "city_streets.sqlite3")
    assert index is not None
    [by_parts] = index.address(4300, "ROSS AVE")  # its fullstreet is empty: named from its parts
    assert by_parts.lon == pytest.approx(-96.7985, abs=0.0002) and by_parts.source == "city_centerlines"
    [by_alternate] = index.address(4200, "OLD ROSS RD")
    assert by_alternate.lon == pytest.approx(-96.7995, abs=0.0002)


def test_centerlines_without_any_name_field_fail_naming_the_fields(gis: CityGis, tmp_path: Path) -> None:
    ranges = {"L_F_ADD": 1, "L_T_ADD": 99, "R_F_ADD": 2, "R_T_ADD": 98}
    line = {"type": "LineString", "coordinates": [[-96.8, 32.78], [-96.79, 32.78]]}
    gis.layers["/DallasAreaRoads/FeatureServer/2"] = [
        {"type": "Feature", "properties": {**ranges, "STNAME": "X"}, "geometry": line}
    ]
    s = settings(tmp_path, gis.url)
    with fetcher(tmp_path) as f, pytest.raises(FieldsError) as caught:
        f.fetch(source(s, "city-streets"))
    assert (
        "no FULLSTREETNAME or FULLSTREET or NAME; fields found: L_F_ADD, L_T_ADD, R_F_ADD, R_T_ADD, STNAME"
        in str(caught.value)
    )
