"""Response headers, /docs from local assets, the metrics token and a self-contained OpenAPI
document, on a real server on loopback."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import httpx
import pytest

from dallas_calls.api.security import tile_source
from tests.api.conftest import SseClient


def _policy(response: httpx.Response) -> dict[str, str]:
    directives = (d.strip() for d in response.headers["content-security-policy"].split(";"))
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in directives if d}


def _assert_safe_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff", response.url
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"
    policy = _policy(response)
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'self'"
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]


async def test_every_kind_of_response_carries_the_security_headers(make_server: Any) -> None:
    server = make_server(rate_limit_per_min=12, tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    async with httpx.AsyncClient(base_url=server.url) as http:
        responses = [
            await http.get("/"),
            await http.get("/current-calls/"),
            await http.get("/static/js/main.js"),
            await http.get("/static/vendor/leaflet/leaflet.js"),
            await http.get("/no/such/page"),
            await http.get("/history?start=nope"),
            await http.get("/openapi.json"),
        ]
        etag = responses[1].headers["etag"]
        responses.append(await http.get("/current-calls/", headers={"If-None-Match": etag}))
        assert responses[-1].status_code == 304
        async with http.stream("GET", "/get-events/") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            responses.append(stream)
        while (limited := await http.get("/config.json")).status_code != 429:
            pass
        responses.append(limited)
        for response in responses:
            _assert_safe_headers(response)
        img = _policy(responses[0])["img-src"].split()
        assert img == ["'self'", "data:", "https://*.tiles.example.org"]


async def test_the_stream_still_streams_through_the_header_layer(make_server: Any) -> None:
    """The headers are added without buffering: the first bytes of the stream arrive at once."""
    server = make_server()
    async with httpx.AsyncClient() as http:
        client = SseClient(server.url + "/get-events/")
        with pytest.raises(TimeoutError):
            await client.collect_until(http, 10**9, timeout=1.0)
        assert client.retry == 3000


@pytest.mark.parametrize(
    ("template", "source"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.basemaps.example.com/{z}/{x}/{y}.png", "https://*.basemaps.example.com"),
        ("http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png", "http://127.0.0.1:8080"),
        ("/tiles/{z}/{x}/{y}.png", None),
        ("https://tiles.{s}.example.com/{z}.png", None),
    ],
)
def test_the_tile_host_becomes_one_csp_source(template: str, source: str | None) -> None:
    assert tile_source(template) == source


def test_docs_uses_only_local_assets_and_they_are_served(make_server: Any) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url) as http:
        docs = http.get("/docs")
        assert docs.status_code == 200
        _assert_safe_headers(docs)
        html = docs.text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert len(urls) >= 3
        assert all(u.startswith("/static/vendor/swagger-ui/") for u in urls), urls
        assert "http://" not in html and "https://" not in html and "//cdn" not in html
        for url in urls:
            asset = http.get(url)
            assert asset.status_code == 200 and len(asset.content) > 500, url
        # the one inline script (Swagger UI's initialisation) is allowed by its hash, nothing else
        scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
        assert len(scripts) == 1
        digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
        assert _policy(docs)["script-src"] == f"'self' 'sha256-{digest}'"
        assert "'sha256-" not in _policy(http.get("/"))["script-src"], "the hash is for /docs only"
        assert http.get("/openapi.json").status_code == 200
        assert http.get("/redoc").status_code == 404, "no ReDoc page (it would load from a CDN)"


def test_metrics_are_open_without_a_token_and_need_it_when_one_is_set(make_server: Any) -> None:
    open_server = make_server()
    assert httpx.get(open_server.url + "/metrics").status_code == 200
    server = make_server(metrics_token="scrape-me")
    with httpx.Client(base_url=server.url) as http:
        refused = http.get("/metrics")
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
        assert refused.headers["www-authenticate"] == "Bearer"
        assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        scraped = http.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert scraped.status_code == 200 and "dallas_calls_" in scraped.text


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for key, value in node.items() if key != "$ref" for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref}"
        node = node[part]
    return node


def test_the_openapi_document_resolves_and_documents_every_response(make_server: Any) -> None:
    server = make_server()
    document = httpx.get(server.url + "/openapi.json").json()
    refs = _refs(document)
    assert refs
    for ref in refs:
        _resolve(document, ref)
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert "200" in answers and answers["200"].get("content"), f"{method} {path}"
            assert {"429", "500"} <= set(answers), f"{method} {path}"
            for status, answer in answers.items():
                if status.startswith(("4", "5")) and not (
                    path in ("/readyz", "/healthz") and status == "503"
                ):
                    assert answer["content"] == {"application/json": {"schema": error}}, (
                        f"{method} {path} {status}"
                    )
            assert "HTTPValidationError" not in str(answers), "FastAPI's own 422 shape is not what we send"
    ingest = document["paths"]["/events/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = _resolve(document, ingest["$ref"])
    assert "events" in body["properties"]
    event = _resolve(document, body["properties"]["events"]["items"]["$ref"])
    assert event["properties"]["id"]["maximum"] == 2**53 - 1


def test_an_unexpected_error_is_a_json_500_with_the_headers_too(make_server: Any) -> None:
    server = make_server()
    server.store.close()  # the store fails under the next request that reads it
    response = httpx.get(server.url + "/history?start=2019-06-18T00:00:00Z&end=2019-06-19T00:00:00Z")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "internal server error"}
    _assert_safe_headers(response)
