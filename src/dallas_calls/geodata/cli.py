"""``dallas-calls geodata fetch|build|status``: download, index and inspect the local geodata.

    dallas-calls geodata fetch [--only NAME] [--force]   # into DATA_DIR/geodata/, resumable, verified
    dallas-calls geodata build [--from DIR]              # TIGER files -> DATA_DIR/geodata/streets.sqlite3
    dallas-calls geodata status [--json]                 # what is present, how old, checksums OK

Registered into the main parser by :func:`register` (``dallas_calls.cli`` calls it with its
``--data-dir``/``--archive-uri`` helper). Each handler returns the process exit code: 0 all good,
1 something failed (a download, a checksum, a missing input), 2 a usage problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dallas_calls.config import Settings
from dallas_calls.geocoding.city_points import CITY_POINTS_DB
from dallas_calls.geocoding.street_index import StreetIndex
from dallas_calls.geodata.city_build import CITY_STREETS_DB, build_city_geodata
from dallas_calls.geodata.fetch import Fetcher, geodata_dir
from dallas_calls.geodata.freshness import source_states
from dallas_calls.geodata.sources import all_sources, select_sources
from dallas_calls.geodata.tiger import STREETS_DB, build_street_index, find_tiger_files


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    geodata = sub.add_parser("geodata", help="download and index local geodata (streets, police beats)")
    commands = geodata.add_subparsers(dest="geodata_command", required=True)

    fetch = commands.add_parser("fetch", help="download the pinned geodata into DATA_DIR/geodata/")
    common(fetch)
    fetch.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="a source name, a group (tiger, police), a county FIPS or a TIGER layer; repeatable",
    )
    fetch.add_argument("--force", action="store_true", help="download again even when present and verified")
    fetch.add_argument("--list", action="store_true", help="list the sources and exit")
    fetch.set_defaults(handler=run_fetch)

    build = commands.add_parser("build", help="build DATA_DIR/geodata/streets.sqlite3 from the TIGER files")
    common(build)
    build.add_argument(
        "--from", dest="source_dir", type=Path, help="folder with the TIGER files (default DATA_DIR/geodata)"
    )
    build.set_defaults(handler=run_build)

    status = commands.add_parser("status", help="what geodata is present, how old, and whether it verifies")
    common(status)
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(handler=run_status)


def _settings(args: argparse.Namespace) -> Settings:
    data_dir = getattr(args, "data_dir", None)
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir is not None else {}
    return Settings(**overrides)


def run_fetch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        sources = select_sources(args.only, all_sources(settings))
    except ValueError as exc:
        print(f"dallas-calls: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for s in sources:
            print(f"{s.name:28} {s.url or '(no confirmed URL)'}")
        return 0
    folder = geodata_dir(settings.data_dir)
    with Fetcher(folder) as fetcher:
        results = fetcher.fetch_all(sources, force=args.force)
    failed = 0
    for r in results:
        if r.outcome == "failed":
            failed += 1
        print(f"{r.outcome:10} {r.source.name:28} {r.detail}")
    print(f"{len(results)} sources: {failed} failed; files in {folder}")
    return 1 if failed else 0


def run_build(args: argparse.Namespace) -> int:
    folder = geodata_dir(_settings(args).data_dir)
    source_dir = args.source_dir or folder
    city = build_city_geodata(source_dir, log=lambda m: print(m, file=sys.stderr))
    for name, built in city.built.items():
        print(f"built {name}: " + ", ".join(f"{v} {k}" for k, v in built.items()))
    for name, why in city.failed.items():
        print(f"not built {name}: {why}")
    if not find_tiger_files(source_dir).counties:
        if city.built:
            return 1 if city.failed else 0
        print(
            f"dallas-calls: no TIGER EDGES files and no city layers in {source_dir}"
            " (run `dallas-calls geodata fetch` first)",
            file=sys.stderr,
        )
        return 1
    try:
        report = build_street_index(source_dir, folder / STREETS_DB, log=lambda m: print(m, file=sys.stderr))
    except (FileNotFoundError, ValueError) as exc:
        print(f"dallas-calls: {exc} (run `dallas-calls geodata fetch` first)", file=sys.stderr)
        return 1
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
    print(f"built {report.path}: counties {' '.join(report.counties)}; {counts}")
    if report.missing:
        print(f"missing (not indexed): {', '.join(report.missing)}")
    return 1 if city.failed else 0


def status_report(data_dir: Path, settings: Settings | None = None) -> dict[str, Any]:
    """The geodata folder's state, as data: each source's state (present, missing, stale, failed),
    size, age and checksum, and the street indexes."""
    overrides: dict[str, Any] = {"data_dir": data_dir}
    settings = settings or Settings(**overrides)
    folder = geodata_dir(data_dir)
    states = source_states(folder, all_sources(settings), settings.geodata_max_age_days)
    files = [s.to_dict() for s in states]
    index_path = folder / STREETS_DB
    index: dict[str, Any] = {"path": str(index_path), "present": index_path.is_file()}
    opened = StreetIndex.open(index_path)
    if opened is not None:
        try:
            index.update(opened.meta())
        finally:
            opened.close()
    elif index["present"]:
        index["problem"] = "unreadable or another schema version: rebuild it"
    city = {}
    for name in (CITY_POINTS_DB, CITY_STREETS_DB):
        path = folder / name
        city[name] = {"path": str(path), "present": path.is_file()}
    return {"folder": str(folder), "files": files, "street_index": index, "city_indexes": city}


def run_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    report = status_report(settings.data_dir, settings)
    bad = [f for f in report["files"] if f["checksum"] == "mismatch"]
    if args.json:
        print(json.dumps(report, indent=1, sort_keys=True))
        return 1 if bad else 0
    print(f"geodata in {report['folder']}")
    for f in report["files"]:
        age = f"{f['age_days']:>6} d" if f["age_days"] is not None else "      -"
        size = f"{f['size'] / 1e6:8.1f} MB" if f["size"] is not None else "        -"
        checksum = {True: "checksum ok", False: "CHECKSUM MISMATCH", None: ""}[f["checksum_ok"]]
        print(f"  {f['state']:8} {f['name']:28} {size} {age}  {checksum:17} {f['detail']}")
    idx = report["street_index"]
    if idx.get("built_at"):
        print(
            f"street index: {idx['path']} built {idx['built_at']}, counties {idx.get('counties', '?')}, "
            f"{idx.get('count_segments', '?')} segments, {idx.get('count_nodes', '?')} nodes"
        )
    else:
        print(
            f"street index: {idx.get('problem', 'not built')} ({idx['path']}; run `dallas-calls geodata build`)"
        )
    for name, info in report["city_indexes"].items():
        print(f"{name}: {'built' if info['present'] else 'not built'} ({info['path']})")
    return 1 if bad else 0
