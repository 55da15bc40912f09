"""Docs that match the code: the README's tables of settings, commands and endpoints, and the
error format it promises, are checked against the code itself."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import httpx
import pytest

from dallas_calls.api.app import create_app
from dallas_calls.cli import build_parser
from dallas_calls.config import Settings
from dallas_calls.events.bus import LocalBus
from dallas_calls.storage.sqlite import SqliteStore
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_readme_lists_every_setting() -> None:
    missing = [name for name in Settings.model_fields if f"`DALLAS_CALLS_{name.upper()}`" not in README]
    assert missing == []


def test_readme_lists_no_setting_the_code_lacks() -> None:
    table = _section("Configuration")
    listed = set(re.findall(r"^\| `DALLAS_CALLS_([A-Z0-9_]+)`", table, flags=re.M))
    assert listed == {name.upper() for name in Settings.model_fields}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_readme_command_table_lists_every_command_and_its_flags() -> None:
    table = _section("Command line")
    rows = re.findall(r"^\| `dallas-calls ([a-z-]+)((?:[^|\\]|\\\|)*)` \|", table, flags=re.M)
    documented: dict[str, str] = {}
    for name, usage in rows:
        documented[name] = documented.get(name, "") + usage
    commands = _subcommands()
    assert set(documented) == set(commands), "the README's command table and the CLI differ"
    common = {
        "--data-dir",
        "--archive-uri",
        "--verbose",
        "--debug",
        "--help",
    }  # described once, below the table
    for name, sub in commands.items():
        flags = {o for a in sub._actions for o in a.option_strings if o.startswith("--")} - common
        missing = sorted(f for f in flags if f not in documented[name])
        assert missing == [], f"`dallas-calls {name}` flags missing from the README: {missing}"
    for flag in ("--data-dir", "--archive-uri", "--verbose", "--debug"):
        assert f"`{flag}" in table


@pytest.fixture
def app_routes(tmp_path: Path) -> set[str]:
    store = SqliteStore(tmp_path / "s.sqlite3")
    app = create_app(Settings(data_dir=tmp_path), store, LocalBus())
    paths = set()
    for route in app.routes:
        path = getattr(route, "path", "")
        if path and not path.startswith(("/openapi", "/docs", "/redoc", "/static")):
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    paths.add(f"{method} {path}")
    store.close()
    return paths


def test_readme_endpoint_table_matches_the_app(app_routes: set[str]) -> None:
    table = _section("HTTP API")
    documented = set()
    for methods, paths in re.findall(r"^\| ((?:GET|POST|PUT|DELETE)(?:/\w+)*) ([^|]+)\|", table, flags=re.M):
        for path in re.findall(r"`([^`]+)`", paths):
            for method in methods.split("/"):
                documented.add(f"{method} {path.split('?')[0]}")
    assert app_routes - documented == set(), "routes the README does not list"
    assert documented - app_routes - {"GET /docs"} == set(), "README lists routes the app lacks"


def test_the_error_format_the_readme_promises_is_the_one_served(tmp_path: Path) -> None:
    promised = re.search(r"Every error is JSON: `(\{[^`]+\})`", README)
    assert promised, "the README states the error body format"
    keys = set(re.findall(r'"(\w+)":', promised.group(1)))
    store = SqliteStore(tmp_path / "s.sqlite3")
    app = create_app(Settings(data_dir=tmp_path), store, LocalBus())
    transport = httpx.ASGITransport(app=app)

    async def fetch() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return [
                await http.get("/calls/nope"),
                await http.get("/history?start=tomorrow"),
                await http.get("/no/such/path"),
            ]

    import asyncio

    for response in asyncio.run(fetch()):
        assert 400 <= response.status_code < 500
        body = json.loads(response.text)
        assert keys <= set(body) <= keys | {"errors"}, body
    store.close()


def test_readme_gives_the_two_setup_commands() -> None:
    assert "make run" in README and "make test" in README
    makefile = (REPO / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
