"""The REST endpoints over a real server: current calls (ETag, gzip), calls, stats, history,
readiness, ingest, rate limiting, errors."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dallas_calls.feed.source import ReplaySource
from tests.api.conftest import TOKEN, SseClient, event_dict, wait_for


def test_current_calls_has_a_strong_etag_and_answers_304(make_server: Any, replay: ReplaySource) -> None:
    server = make_server()
    server.poll(replay)
    with httpx.Client(base_url=server.url) as http:
        first = http.get("/current-calls/", headers={"Accept-Encoding": "identity"})
        assert first.status_code == 200
        body = first.json()
        assert set(body) == {
            "current_active_calls",
            "last_event_id",
            "as_of",
            "store_id",
            "mode",
            "recording",
            "fallback_reason",
        }
        assert body["mode"] == "live" and body["recording"] is None
        assert body["last_event_id"] == server.store.last_event_id()
        assert len(body["current_active_calls"]) == len(server.store.open_calls())
        call = body["current_active_calls"][0]
        assert "units" in call and "geo" in call
        etag = first.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        again = http.get("/current-calls/", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        zipped = http.get("/current-calls/", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert json.loads(zipped.content) == body  # httpx decodes gzip
        raw = http.get(
            "/current-calls/", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
        )
        assert raw.status_code == 304
        server.poll(replay)
        changed = http.get("/current-calls/", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert changed.json()["last_event_id"] == server.store.last_event_id()


def test_gzip_body_is_precompressed(make_server: Any, replay: ReplaySource) -> None:
    server = make_server()
    server.poll(replay)
    with (
        httpx.Client(base_url=server.url) as http,
        http.stream("GET", "/current-calls/", headers={"Accept-Encoding": "gzip"}) as response,
    ):
        raw = b"".join(response.iter_raw())
    assert json.loads(gzip.decompress(raw))["last_event_id"] == server.store.last_event_id()


def test_call_detail_stats_and_history(make_server: Any, replay: ReplaySource) -> None:
    server = make_server()
    for _ in range(5):
        server.poll(replay)
    open_calls = server.store.open_calls()
    number = sorted(open_calls)[0]
    with httpx.Client(base_url=server.url) as http:
        detail = http.get(f"/calls/{number}")
        assert detail.status_code == 200
        assert detail.json()["call"]["incident_number"] == number
        assert detail.json()["events"][0]["type"] == "call.opened"
        missing = http.get("/calls/NOPE-1")
        assert missing.status_code == 404 and "message" in missing.json()

        stats = http.get("/stats").json()
        assert stats["open_calls"] == len(open_calls)
        assert sum(stats["by_division"].values()) == len(open_calls)
        assert set(stats["by_priority"]) >= {"1", "2", "3", "4", "unknown"}
        assert sum(stats["by_priority"].values()) == len(open_calls)
        assert sum(stats["by_status"].values()) == sum(stats["by_nature"].values()) == len(open_calls)
        assert len(stats["opened_per_hour"]) == 24
        hours = [h["hour"] for h in stats["opened_per_hour"]]
        assert hours == sorted(hours)
        assert sum(h["count"] for h in stats["opened_per_hour"]) >= 1
        assert stats["oldest_open"]["age_s"] >= 0
        assert stats["located"] + stats["unlocated"] == len(open_calls)

        history = http.get(
            "/history", params={"start": "2019-06-18T00:00:00Z", "end": "2019-06-19T00:00:00Z"}
        )
        assert history.status_code == 200
        assert history.json()["count"] >= len(open_calls)
        for params, word in [
            ({"start": "yesterday", "end": "2019-06-19T00:00:00Z"}, "start"),
            ({"start": "2019-06-18T00:00:00Z"}, "end"),
            ({"start": "2019-06-19T00:00:00Z", "end": "2019-06-18T00:00:00Z"}, "after"),
            ({"start": "2019-01-01T00:00:00Z", "end": "2019-06-18T00:00:00Z"}, "31 days"),
        ]:
            bad = http.get("/history", params=params)
            assert bad.status_code == 400 and word in bad.json()["message"], bad.text
        assert (
            http.get(
                "/history", params={"start": "2019-06-18", "end": "2019-06-19", "limit": "x"}
            ).status_code
            == 422
        )


def test_readiness_flips_when_the_feed_stalls(make_server: Any, replay: ReplaySource) -> None:
    async def poller() -> None:  # stands in for the scheduler; the test drives the polls
        await asyncio.sleep(3600)

    server = make_server(poll_interval_s=0.2, background=poller)
    with httpx.Client(base_url=server.url) as http:
        before = http.get("/readyz")
        assert before.status_code == 503 and before.json()["reason"] == "no successful poll yet"
        server.poll(replay)
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["ready"] is True and body["poll_interval_s"] == 0.2
        assert set(body) >= {
            "ready",
            "last_good_poll_at",
            "last_good_poll_age_s",
            "poll_interval_s",
            "reason",
        }
        time.sleep(0.7)  # more than 3 intervals without a good poll: the feed stalled
        stale = http.get("/readyz")
        assert stale.status_code == 503 and "older than" in stale.json()["reason"]
        server.poll(replay)
        assert http.get("/readyz").status_code == 200
        assert http.get("/healthz").json()["ok"] is True


def test_ingest_requires_a_token_and_is_disabled_without_one(make_server: Any) -> None:
    closed = make_server()
    with httpx.Client(base_url=closed.url) as http:
        off = http.post(
            "/events/", json={"events": [event_dict(1)]}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert off.status_code == 404 and "disabled" in off.json()["message"]
    server = make_server(ingest_token=TOKEN, ingest_max_bytes=20_000)
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/events/", json={"events": []}).status_code == 401
        wrong = http.post("/events/", json={"events": []}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert http.post("/events/", json={"events": []}, headers={"Authorization": TOKEN}).status_code == 401


def test_ingest_rejects_oversized_and_malformed_bodies(make_server: Any) -> None:
    server = make_server(ingest_token=TOKEN, ingest_max_bytes=20_000)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url) as http:
        big = {"events": [event_dict(i, number=f"2019-{i}") for i in range(1, 80)]}
        assert len(json.dumps(big, separators=(",", ":"))) > 20_000
        too_big = http.post("/events/", json=big, headers=auth)
        assert too_big.status_code == 413 and "message" in too_big.json()

        def chunks() -> Any:  # no Content-Length: the streamed size is what counts
            body = json.dumps(big).encode()
            for i in range(0, len(body), 4096):
                yield body[i : i + 4096]

        streamed = http.post(
            "/events/", content=chunks(), headers={**auth, "Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        for body in [
            b"not json",
            b'{"events": "x"}',
            b'{"evts": []}',
            json.dumps({"events": [{**event_dict(1), "type": "call.exploded"}]}).encode(),
            json.dumps({"events": [{**event_dict(1), "id": "7"}]}).encode(),
            json.dumps({"events": [{**event_dict(1), "id": 0}]}).encode(),
            json.dumps({"events": [{**event_dict(1), "at": "soon"}]}).encode(),
            json.dumps({"events": [{**event_dict(1), "data": {"call": {"incident_number": "1"}}}]}).encode(),
            json.dumps(
                {"events": [{"id": 1, "type": "location.resolved", "at": "2019-06-18T05:17:00Z", "data": {}}]}
            ).encode(),
        ]:
            bad = http.post("/events/", content=body, headers={**auth, "Content-Type": "application/json"})
            assert bad.status_code == 422, (body, bad.text)
            assert bad.json()["message"]


async def test_ingest_is_idempotent_and_reaches_the_view_and_streams(make_server: Any) -> None:
    server = make_server(ingest_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    base = 5000  # ids given elsewhere (DynamoDB)
    batch = {
        "events": [
            event_dict(base + 1, number="2019-A"),
            event_dict(base + 2, number="2019-B"),
            {
                "id": base + 3,
                "type": "location.resolved",
                "at": "2019-06-18T05:18:00Z",
                "data": {
                    "location_key": "100 MAIN ST|DALLAS",
                    "geo": {
                        "lat": 32.78,
                        "lon": -96.8,
                        "precision": "address",
                        "source": "test",
                        "in_beat": True,
                    },
                    "incident_numbers": ["2019-A", "2019-B"],
                },
            },
        ]
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        stream = SseClient(server.url + "/get-events/")
        reader = asyncio.create_task(stream.collect_until(http, base + 4))
        assert await wait_for(lambda: server.view.clients == 1)
        first = await http.post("/events/", json=batch, headers=auth)
        assert first.status_code == 200 and first.json()["accepted"] == 3
        again = await http.post("/events/", json=batch, headers=auth)
        assert again.json() == {"accepted": 0, "duplicates": 3, "last_event_id": base + 3}
        closing = {
            "events": [event_dict(base + 2, number="2019-B"), event_dict(base + 4, "call.closed", "2019-B")]
        }
        assert (await http.post("/events/", json=closing, headers=auth)).json()["accepted"] == 1
        await reader
        assert stream.ids == [base + 1, base + 2, base + 3, base + 4]
        current = (await http.get("/current-calls/")).json()
        assert current["last_event_id"] == base + 4
        assert [c["incident_number"] for c in current["current_active_calls"]] == ["2019-A"]
        assert current["current_active_calls"][0]["geo"]["lat"] == 32.78
        # resume of ingested events (not in the local store) comes from the in-memory ring
        resumed = SseClient(server.url + f"/get-events/?last_event_id={base + 1}")
        await resumed.collect_until(http, base + 4)
        assert resumed.ids == [base + 2, base + 3, base + 4]
        detail = await http.get("/calls/2019-A")
        assert detail.status_code == 200 and [e["id"] for e in detail.json()["events"]] == [
            base + 1,
            base + 3,
        ]


def test_errors_are_json_and_the_small_routes_work(make_server: Any) -> None:
    server = make_server(cors_origins="https://example.org", tile_url="https://tiles.test/{z}/{x}/{y}.png")
    with httpx.Client(base_url=server.url) as http:
        unknown = http.get("/nope")
        assert unknown.status_code == 404 and unknown.json()["message"]
        wrong_method = http.delete("/current-calls/")
        assert wrong_method.status_code == 405 and wrong_method.json()["message"]
        config = http.get("/config.json").json()
        assert config == {
            "tile_url": "https://tiles.test/{z}/{x}/{y}.png",
            "tile_attribution": server.settings.tile_attribution,
            "poll_interval_s": server.settings.poll_interval_s,
            "mode": "live",
            "recording": None,
            "fallback_reason": None,
            "geodata": None,
        }
        assert http.get("/").headers["content-type"].startswith("text/html")
        assert http.get("/docs").status_code == 200
        assert "/get-events/" in http.get("/openapi.json").json()["paths"]
        for name in ("city", "beats"):
            geo = http.get(f"/geo/{name}.geojson")
            assert geo.status_code in (200, 404)
            if geo.status_code == 404:
                assert "message" in geo.json()
        assert http.get("/geo/moon.geojson").status_code == 404
        metrics_text = http.get("/metrics").text
        assert (
            "dallas_calls_sse_clients" in metrics_text and "dallas_calls_http_request_seconds" in metrics_text
        )
        cors = http.get("/stats", headers={"Origin": "https://example.org"})
        assert cors.headers["access-control-allow-origin"] == "https://example.org"
        assert (
            "access-control-allow-origin"
            not in http.get("/stats", headers={"Origin": "https://evil.test"}).headers
        )


@pytest.mark.parametrize("path", ["/calls/" + "x" * 500, "/calls/%00", "/history?start=%00&end=%ff"])
def test_odd_input_never_gives_a_500(make_server: Any, path: str) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url) as http:
        assert http.get(path).status_code in (400, 404, 422)


def test_config_and_readiness_carry_the_geodata_download(tmp_path: Path) -> None:
    import asyncio

    from dallas_calls.api.app import create_app
    from dallas_calls.config import Settings
    from dallas_calls.events.bus import LocalBus
    from dallas_calls.storage.sqlite import SqliteStore

    status = {"state": "downloading", "source": "city streets", "percent": 10.0}
    store = SqliteStore(tmp_path / "s.sqlite3")
    app = create_app(Settings(data_dir=tmp_path), store, LocalBus(), geodata_status=lambda: status)

    async def fetch() -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return [(await http.get(path)).json() for path in ("/config.json", "/readyz")]

    for body in asyncio.run(fetch()):
        assert body["geodata"] == status
    store.close()
