"""What makes the dashboard installable and usable offline: ``/manifest.webmanifest`` and the
service worker at ``/sw.js``.

The service worker (``web/sw.js``) precaches the app shell. Its list of files is not written by
hand: ``shell_files`` lists what is under ``web/`` when the worker is served (a JS module added
next month is in the list with no edit), and the shell's version is a hash of those files' bytes,
so a release that changes any of them changes ``/sw.js`` and the browser installs the new worker,
which replaces the old cache. The list and the version go in front of the worker's code as one
``const SHELL = {...};`` line.

Both are served from the root: a worker's scope is at most the folder it is served from, and the
dashboard is ``/``. ``/sw.js`` is ``no-cache`` so that the browser's update check sees a release at
once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from dallas_calls.api.errors import ApiError

MANIFEST_MEDIA_TYPE = "application/manifest+json"
SHELL_SUFFIXES = frozenset({".html", ".css", ".js", ".png", ".svg", ".geojson", ".webmanifest"})
# Under web/ but not the dashboard's: Swagger UI is /docs' alone; the worker is not in its own cache.
NOT_SHELL_DIRS = ("vendor/swagger-ui/",)
NOT_SHELL_FILES = frozenset({"sw.js"})
# Data the map draws that routes serve (not files under web/): cached so the map has its outlines
# offline, fetched network-first like the other data.
SHELL_ROUTES = ("/geo/city.geojson", "/geo/beats.geojson")


@dataclass(frozen=True)
class Shell:
    """The precache list (URLs) and its version (a hash of the files' paths and bytes)."""

    version: str
    urls: tuple[str, ...]


def _url_of(rel: str) -> str:
    if rel == "index.html":
        return "/"
    if rel == "manifest.webmanifest":
        return "/manifest.webmanifest"
    return f"/static/{rel}"


def shell_paths(web_dir: Path) -> list[Path]:
    """The files of the app shell under ``web_dir``, sorted (so the version does not depend on the
    order the file system lists them in)."""
    found = []
    for path in sorted(web_dir.rglob("*")):
        rel = path.relative_to(web_dir).as_posix()
        if not path.is_file() or path.suffix not in SHELL_SUFFIXES or rel in NOT_SHELL_FILES:
            continue
        if rel.startswith(NOT_SHELL_DIRS) or any(part.startswith(".") for part in path.parts):
            continue
        found.append(path)
    return found


def shell_files(web_dir: Path, worker: bytes = b"") -> Shell:
    """The shell as it is on disk now. ``worker`` (the worker's own code) is hashed in too: a new
    caching rule is a new version even when no shell file changed."""
    digest = hashlib.sha256(worker)
    urls = []
    for path in shell_paths(web_dir):
        rel = path.relative_to(web_dir).as_posix()
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
        urls.append(_url_of(rel))
    return Shell(version=digest.hexdigest()[:16], urls=(*urls, *SHELL_ROUTES))


def render_worker(worker: str, shell: Shell) -> str:
    """The served ``/sw.js``: the shell's list and version in front of the worker's code."""
    head = json.dumps({"version": shell.version, "files": list(shell.urls)}, separators=(",", ":"))
    return f"const SHELL = {head};\n{worker}"


class _WorkerCache:
    """The rendered worker, rebuilt only when a shell file (or the worker) changes on disk: the
    browser asks for ``/sw.js`` at every navigation, and hashing the shell each time is waste."""

    def __init__(self, web_dir: Path) -> None:
        self.web_dir = web_dir
        self.lock = threading.Lock()
        self.key: tuple[tuple[str, int, int], ...] | None = None
        self.body = ""

    def get(self) -> str:
        source = self.web_dir / "sw.js"
        paths = [source, *shell_paths(self.web_dir)]
        key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
        with self.lock:
            if key != self.key:
                worker = source.read_bytes()
                self.body = render_worker(worker.decode(), shell_files(self.web_dir, worker))
                self.key = key
            return self.body


def add_pwa_routes(app: FastAPI, web_dir: Path) -> None:
    """``/manifest.webmanifest`` and ``/sw.js`` (outside the OpenAPI document: not API)."""
    worker = _WorkerCache(web_dir)

    @app.get("/manifest.webmanifest", include_in_schema=False)
    async def manifest() -> Response:
        path = web_dir / "manifest.webmanifest"
        if not path.is_file():
            raise ApiError(404, "not_found", "the dashboard is not built into this package")
        return FileResponse(path, media_type=MANIFEST_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})

    @app.get("/sw.js", include_in_schema=False)
    async def service_worker() -> Response:
        if not (web_dir / "sw.js").is_file():
            raise ApiError(404, "not_found", "the dashboard is not built into this package")
        return Response(
            await run_in_threadpool(worker.get),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )
