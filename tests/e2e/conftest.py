"""Browser fixtures for the dashboard's end-to-end tests (headless Debian Chromium via Playwright).

The `live_server` fixture (tests/conftest.py) runs `dallas-calls serve --replay` on loopback and
gives `.url`, `.stop()`, `.start()` and `.advance()`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("DALLAS_CALLS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _loopback_only(route: Any) -> None:
    """Base-map tiles and anything else off this machine are refused: the page must cope."""
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]", "data:", "blob:")):
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme="light")
    pg = context.new_page()
    pg.route("**/*", _loopback_only)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.page_errors = errors  # type: ignore[attr-defined]
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):  # the page may be gone
            pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"))
    context.close()


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Pages of their own contexts (a viewport, a colour scheme, permissions, a geolocation...):
    loopback only, page errors collected, a screenshot of each when the test fails."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def make(width: int = 1440, height: int = 900, color_scheme: str = "light", **options: Any) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=color_scheme, **options
        )
        contexts.append(context)
        pg = context.new_page()
        pg.route("**/*", _loopback_only)
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.page_errors = errors
        pages.append(pg)
        return pg

    yield make
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for i, pg in enumerate(pages):
            with contextlib.suppress(Exception):
                pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}-{i}.png"))
    for context in contexts:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
