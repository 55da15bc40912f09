"""The installable dashboard's server side: /manifest.webmanifest (its type, fields, colours and
icons) and /sw.js (headers, and a precache list derived from the files under web/, every entry of
which the server answers, versioned by the files' bytes). The browser side is tests/e2e/test_pwa.py."""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from dallas_calls.api.errors import install_error_handlers
from dallas_calls.api.pwa import add_pwa_routes, render_worker, shell_files
from dallas_calls.api.routes_dashboard import WEB_DIR

SHELL_LINE = re.compile(r"^const SHELL = (\{.*\});\n")


def _shell_of(worker: str) -> dict[str, Any]:
    found = SHELL_LINE.match(worker)
    assert found, worker[:200]
    shell: dict[str, Any] = json.loads(found.group(1))
    return shell


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _light(css: str, var: str) -> str:
    found = re.search(rf"--{var}: light-dark\((#[0-9a-f]{{6}})", css)
    assert found, var
    return found.group(1)


async def test_the_manifest_makes_an_installable_app_in_the_light_theme_colours(make_server: Any) -> None:
    server = make_server()
    async with httpx.AsyncClient(base_url=server.url) as http:
        res = await http.get("/manifest.webmanifest")
        assert res.status_code == 200
        assert res.headers["content-type"] == "application/manifest+json"
        manifest = res.json()
        assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/", "/", "standalone")
        assert manifest["name"] and manifest["short_name"] and len(manifest["short_name"]) <= 12
        css = (WEB_DIR / "css" / "app.css").read_text()
        assert manifest["background_color"] == _light(css, "bg")
        assert manifest["theme_color"] == _light(css, "panel")  # the top bar
        sizes = {}
        for icon in manifest["icons"]:
            got = await http.get(icon["src"])
            assert got.status_code == 200, icon["src"]
            assert got.headers["content-type"].startswith(icon["type"])
            if icon["type"] == "image/png":
                w, h = _png_size(got.content)
                assert f"{w}x{h}" == icon["sizes"]
                assert len(got.content) < 20_000, "icons stay small"
                sizes[(icon["sizes"], icon["purpose"])] = True
            else:
                assert icon["type"] == "image/svg+xml" and b"<svg" in got.content
        assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= set(sizes)
        page = (await http.get("/")).text
        assert '<link rel="manifest" href="/manifest.webmanifest">' in page


async def test_the_worker_is_served_from_the_root_with_a_shell_the_server_answers(make_server: Any) -> None:
    server = make_server()
    async with httpx.AsyncClient(base_url=server.url) as http:
        res = await http.get("/sw.js")
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/javascript")
        assert res.headers["cache-control"] == "no-cache"
        assert res.headers["service-worker-allowed"] == "/"
        policy = res.headers["content-security-policy"]
        assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy
        page_policy = (await http.get("/")).headers["content-security-policy"]
        assert "worker-src 'self'" in page_policy and "manifest-src 'self'" in page_policy
        shell = _shell_of(res.text)
        files = shell["files"]
        # derived from web/: every module is there, with no list to keep up to date
        modules = sorted(f"/static/js/{p.name}" for p in (WEB_DIR / "js").glob("*.js"))
        assert modules and set(modules) <= set(files)
        assert {
            "/",
            "/manifest.webmanifest",
            "/static/css/app.css",
            "/static/vendor/leaflet/leaflet.js",
        } <= set(files)
        assert {"/geo/city.geojson", "/geo/beats.geojson", "/static/geo/city-limits.geojson"} <= set(files)
        assert not [f for f in files if "swagger" in f or f.endswith(("sw.js", ".md")) or "get-events" in f]
        # cache.addAll fails as a whole on one missing file: the server answers every one
        for url in files:
            assert (await http.get(url)).status_code == 200, url
        assert re.fullmatch(r"[0-9a-f]{16}", shell["version"])
        again = await http.get("/sw.js")
        assert again.text == res.text, "the same files give the same worker (no needless update)"


def _copy_web(tmp_path: Path) -> Path:
    web = tmp_path / "web"
    for rel in ("index.html", "manifest.webmanifest", "sw.js", "css/app.css", "js/main.js", "js/state.js"):
        (web / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(WEB_DIR / rel, web / rel)
    return web


def test_a_new_module_or_a_changed_file_is_a_new_version(tmp_path: Path) -> None:
    web = _copy_web(tmp_path)
    first = shell_files(web)
    assert "/static/js/main.js" in first.urls and "/static/js/history.js" not in first.urls
    (web / "js" / "history.js").write_text("export const x = 1;\n")
    added = shell_files(web)
    assert "/static/js/history.js" in added.urls
    assert added.version != first.version
    (web / "js" / "history.js").write_text("export const x = 2;\n")
    changed = shell_files(web)
    assert changed.urls == added.urls and changed.version != added.version
    # a new caching rule alone is a new version too
    assert shell_files(web, b"// another worker").version != changed.version
    # hidden files and the worker itself are not in the shell
    (web / "js" / ".scratch.js").write_text("x")
    assert shell_files(web) == changed
    assert "/static/sw.js" not in changed.urls
    rendered = render_worker("self.x = 1;\n", changed)
    assert _shell_of(rendered) == {"version": changed.version, "files": list(changed.urls)}
    assert rendered.endswith("self.x = 1;\n")


async def test_the_served_worker_follows_the_files_on_disk(tmp_path: Path) -> None:
    web = _copy_web(tmp_path)
    app = FastAPI()
    install_error_handlers(app)
    add_pwa_routes(app, web)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        before = _shell_of((await http.get("/sw.js")).text)
        (web / "js" / "analytics.js").write_text("export const y = 1;\n")
        after = _shell_of((await http.get("/sw.js")).text)
        assert "/static/js/analytics.js" in after["files"] and after["version"] != before["version"]
        # no dashboard in the package: JSON 404s, never a 500
        (web / "sw.js").unlink()
        (web / "manifest.webmanifest").unlink()
        for path in ("/sw.js", "/manifest.webmanifest"):
            res = await http.get(path)
            assert res.status_code == 404
            assert res.json()["error"] == "not_found"
