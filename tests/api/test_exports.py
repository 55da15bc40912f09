"""Exports over a real server: `/current-calls/?format=csv|geojson` (row by row against the JSON,
which stays byte-identical), `/history?format=` (every call of the window, paged from the store),
bad input as 4xx JSON; the paging itself when many calls share one `first_seen`."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest

from dallas_calls.config import Settings
from dallas_calls.export.formats import CSV_COLUMNS
from dallas_calls.export.window import iter_calls_between
from dallas_calls.feed.source import ReplaySource
from dallas_calls.model import Call
from dallas_calls.pipeline import Pipeline
from dallas_calls.runtime import build_locator

DAY = {"start": "2019-06-18T00:00:00Z", "end": "2019-06-19T00:00:00Z"}


def located_server(make_server: Any, replay: ReplaySource, polls: int = 3) -> Any:
    """A server whose calls were polled and located (the local sources only: no network)."""
    server = make_server()
    server.pipeline = Pipeline(
        server.store,
        server.archive,
        bus=server.bus,
        locator=build_locator(Settings(data_dir=server.settings.data_dir)),
    )
    for _ in range(polls):
        server.poll(replay)
        server.call(server.pipeline.locate_pending(1000))
    return server


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def expected_geo(call: dict[str, Any]) -> tuple[str, str, str, str]:
    g = call.get("geo") or {}
    if g.get("lat") is None or g.get("precision") == "none":
        return ("", "", g.get("precision") or "none", g.get("source") or "")
    return (str(g["lat"]), str(g["lon"]), g["precision"], g["source"])


def test_current_calls_as_csv_match_the_json_row_by_row(make_server: Any, replay: ReplaySource) -> None:
    server = located_server(make_server, replay)
    with httpx.Client(base_url=server.url) as http:
        body = http.get("/current-calls/").json()
        res = http.get("/current-calls/", params={"format": "csv"})
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/csv")
    assert "attachment" in res.headers["content-disposition"]
    calls = {c["incident_number"]: c for c in body["current_active_calls"]}
    rows = csv_rows(res.text)
    assert [r["incident_number"] for r in rows] == sorted(calls)
    precisions = set()
    for row in rows:
        call = calls[row["incident_number"]]
        assert (row["lat"], row["lon"], row["precision"], row["source"]) == expected_geo(call)
        assert row["nature_of_call"] == (call["nature_of_call"] or "")
        assert row["priority"] == ("" if call["priority"] is None else str(call["priority"]))
        assert int(row["unit_count"]) == len(call["units"])
        for unit in call["units"]:
            assert unit["unit_number"] in row["units"]
        precisions.add(row["precision"])
    assert precisions & {"address", "intersection", "street"}, "some calls are located"


def test_current_calls_as_geojson_keep_precision_and_source(make_server: Any, replay: ReplaySource) -> None:
    server = located_server(make_server, replay)
    with httpx.Client(base_url=server.url) as http:
        body = http.get("/current-calls/").json()
        res = http.get("/current-calls/", params={"format": "geojson"})
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/geo+json")
    fc = res.json()
    assert fc["type"] == "FeatureCollection" and fc["last_event_id"] == body["last_event_id"]
    calls = {c["incident_number"]: c for c in body["current_active_calls"]}
    assert sorted(f["id"] for f in fc["features"]) == sorted(calls)
    for f in fc["features"]:
        call = calls[f["id"]]
        lat, _lon, precision, source = expected_geo(call)
        assert f["properties"]["precision"] == precision
        assert (f["properties"]["source"] or "") == source
        if lat:
            assert f["geometry"] == {"type": "Point", "coordinates": [call["geo"]["lon"], call["geo"]["lat"]]}
        else:
            assert f["geometry"] is None
        assert f["properties"]["units"] == call["units"]


def test_current_calls_without_format_are_unchanged(make_server: Any, replay: ReplaySource) -> None:
    server = make_server()
    server.poll(replay)
    with httpx.Client(base_url=server.url) as http:
        plain = http.get("/current-calls/", headers={"Accept-Encoding": "identity"})
        assert http.get("/current-calls/", params={"format": "csv"}).status_code == 200
        again = http.get("/current-calls/", headers={"Accept-Encoding": "identity"})
        zipped = http.get("/current-calls/", headers={"Accept-Encoding": "gzip"})
    assert plain.content == again.content == server.view.rendered().body
    assert plain.headers["etag"] == again.headers["etag"] == server.view.rendered().etag
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content


def test_history_exports_every_call_of_the_window(make_server: Any, replay: ReplaySource) -> None:
    server = located_server(make_server, replay, polls=5)
    want = server.store.calls_between(DAY["start"], DAY["end"], 100_000)
    assert len(want) > 38, "closed and open calls alike"
    with httpx.Client(base_url=server.url) as http:
        as_csv = http.get("/history", params={**DAY, "format": "csv"})
        as_geojson = http.get("/history", params={**DAY, "format": "geojson"})
        capped = http.get("/history", params={**DAY, "limit": "5"}).json()
    assert as_csv.status_code == 200 and as_geojson.status_code == 200
    rows = csv_rows(as_csv.text)
    assert [r["incident_number"] for r in rows] == [c.incident_number for c in want]
    by_number = {c.incident_number: c.to_dict() for c in want}
    for row in rows:
        assert (row["lat"], row["lon"], row["precision"], row["source"]) == expected_geo(
            by_number[row["incident_number"]]
        )
        assert row["closed_at"] == (by_number[row["incident_number"]]["closed_at"] or "")
    fc = as_geojson.json()
    assert (fc["start"], fc["end"]) == (DAY["start"], DAY["end"])
    assert [f["id"] for f in fc["features"]] == [c.incident_number for c in want]
    assert capped["count"] == 5, "the JSON form keeps its limit"


@pytest.mark.parametrize(
    "path",
    [
        "/current-calls/?format=xml",
        "/current-calls/?format=",
        "/history?start=2019-06-18T00:00:00Z&end=2019-06-19T00:00:00Z&format=parquet",
        "/history?start=2019-06-19T00:00:00Z&end=2019-06-18T00:00:00Z&format=csv",
        "/history?start=nope&end=2019-06-18T00:00:00Z&format=csv",
        "/history?start=2019-01-01T00:00:00Z&end=2019-06-18T00:00:00Z&format=geojson",
    ],
)
def test_bad_export_requests_are_4xx_json(make_server: Any, path: str) -> None:
    server = make_server()
    res = httpx.get(server.url + path)
    assert res.status_code in (400, 422)  # 422: a format that is not csv or geojson
    body = res.json()
    assert {"error", "message"} <= set(body) <= {"error", "message", "errors"}
    assert body["error"] == ("bad_request" if res.status_code == 400 else "invalid_request")


class _Store:
    """calls_between over a list, ordered by first_seen only (ties in list order), like SQLite."""

    def __init__(self, calls: list[Call]) -> None:
        self.calls = sorted(calls, key=lambda c: c.first_seen)
        self.queries = 0

    def calls_between(self, start: str, end: str, limit: int = 1000) -> list[Call]:
        self.queries += 1
        return [c for c in self.calls if start <= c.first_seen < end][:limit]


def _call(number: int, first_seen: str) -> Call:
    return Call(
        incident_number=f"19-{number:06d}",
        division=None,
        nature_of_call=None,
        priority=None,
        received_at=None,
        block=None,
        location="MAIN ST",
        beat=None,
        reporting_area=None,
        status=None,
        units=(),
        location_key="MAIN ST",
        first_seen=first_seen,
        last_seen=first_seen,
    )


def test_paging_gives_each_call_once_when_many_share_a_first_seen() -> None:
    times = ["2019-06-18T05:00:00Z"] * 7 + ["2019-06-18T05:01:00Z"] * 2 + ["2019-06-18T05:02:00Z"] * 12
    calls = [_call(i, t) for i, t in enumerate(times)]
    calls.append(_call(99, "2019-06-18T06:00:00Z"))  # outside the window
    store = _Store(calls)
    got = list(iter_calls_between(store, "2019-06-18T05:00:00Z", "2019-06-18T06:00:00Z", page_size=3))
    assert [c.incident_number for c in got] == [c.incident_number for c in calls[:-1]]
    assert store.queries > 3, "read in pages"


def test_beats_geojson_is_the_shipped_areas_until_real_ones_are_fetched(make_server: Any) -> None:
    server = make_server()
    shipped = httpx.get(server.url + "/geo/beats.geojson")
    assert shipped.status_code == 200
    features = shipped.json()["features"]
    assert len(features) > 200 and all(f["properties"]["beat"] for f in features)
    fetched = server.settings.data_dir / "geodata" / "beats.geojson"
    fetched.parent.mkdir(parents=True, exist_ok=True)
    real = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"BEAT": "111"}, "geometry": None}],
    }
    fetched.write_text(json.dumps(real))
    assert httpx.get(server.url + "/geo/beats.geojson").json() == real


def test_the_openapi_document_lists_the_export_formats_and_geocode(make_server: Any) -> None:
    doc = httpx.get(make_server().url + "/openapi.json").json()
    for path in ("/current-calls/", "/history"):
        op = doc["paths"][path]["get"]
        fmt = next(p for p in op["parameters"] if p["name"] == "format")
        assert set(fmt["schema"]["anyOf"][0]["enum"]) == {"csv", "geojson"}
        assert {"application/json", "text/csv", "application/geo+json"} <= set(
            op["responses"]["200"]["content"]
        )
    geocode = doc["paths"]["/geocode"]["get"]["responses"]
    assert {"200", "400", "404", "409"} <= set(geocode)
