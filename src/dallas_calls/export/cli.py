"""`dallas-calls export --start T --end T --format csv|geojson|parquet [--output FILE]`: every call
first seen in the window, from the SQLite store of ``--data-dir``, read a page at a time. CSV and
GeoJSON go to standard output unless ``--output`` names a file; Parquet needs ``--output``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

FORMATS = ("csv", "geojson", "parquet")


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser("export", help="calls first seen in a time window, as CSV, GeoJSON or Parquet")
    common(parser)
    parser.add_argument("--start", required=True, help="ISO 8601 time, e.g. 2019-06-18T05:00:00Z")
    parser.add_argument("--end", required=True, help="ISO 8601 time (exclusive)")
    parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default), geojson or parquet")
    parser.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    parser.set_defaults(handler=run)


def _fail(message: str) -> int:
    print(f"dallas-calls export: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from dallas_calls.api.stats import parse_time
    from dallas_calls.config import Settings
    from dallas_calls.export.formats import export_chunks
    from dallas_calls.export.window import iter_calls_between
    from dallas_calls.model import iso_utc
    from dallas_calls.runtime import open_store

    begin, finish = parse_time(args.start), parse_time(args.end)
    if begin is None or finish is None:
        return _fail("--start and --end must be ISO 8601 times (e.g. 2019-06-18T05:00:00Z)")
    if finish <= begin:
        return _fail("--end must be after --start")
    if args.format == "parquet" and args.output is None:
        return _fail("--format parquet needs --output FILE")
    settings = Settings(**({"data_dir": args.data_dir} if getattr(args, "data_dir", None) else {}))
    if not settings.db_path.is_file():
        return _fail(f"no store at {settings.db_path} (run `dallas-calls poll` or `serve` first)")
    start, end = iso_utc(begin), iso_utc(finish)
    store = open_store(settings)
    counted = [0]

    def calls() -> Iterator[dict[str, Any]]:
        for call in iter_calls_between(store, start, end):
            counted[0] += 1
            yield call.to_dict()

    try:
        if args.format == "parquet":
            try:
                from dallas_calls.export.parquet import write_parquet
            except ImportError:
                return _fail("Parquet needs pyarrow: pip install 'dallas-calls[parquet]'")
            write_parquet(calls(), args.output)
        else:
            chunks = export_chunks(args.format, calls(), {"start": start, "end": end})
            if args.output is None:
                sys.stdout.writelines(chunks)
            else:
                with args.output.open("w", encoding="utf-8", newline="") as out:
                    out.writelines(chunks)
    finally:
        store.close()
    print(f"dallas-calls export: {counted[0]} calls first seen in [{start}, {end})", file=sys.stderr)
    return 0
