"""`dallas-calls geocode "Frankford Rd / Midway Rd" [--block N] [--beat 613] [--division D]
[--reporting-area R] [--json]`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from dallas_calls.geocoding.locator import default_locator


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser(
        "geocode", help="locate one location the way calls are located, with the candidates"
    )
    common(parser)
    parser.add_argument("location", help='feed location text: "Elm St / N Harwood St", "N Central Serv Nb"')
    parser.add_argument("--block", help="the feed's block number")
    parser.add_argument("--beat", help="the call's beat")
    parser.add_argument("--division", help="the call's division")
    parser.add_argument(
        "--reporting-area", help="the call's reporting area (the fallback when nothing places it)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dallas_calls.config import Settings

    settings = Settings(**({"data_dir": args.data_dir} if getattr(args, "data_dir", None) else {}))
    explanation = default_locator(settings, blocking=True).explain(
        args.block, args.location, args.beat, args.division, args.reporting_area
    )
    data = explanation.to_dict()
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    geo = data["geo"]
    print(f"key:       {data['key']} ({data['kind']})")
    print(
        f"chosen:    {geo['lat']}, {geo['lon']}  precision={geo['precision']} source={geo['source']} in_beat={geo['in_beat']}"
    )
    print(f"beat check: {data['beat_check']}; providers asked: {', '.join(data['providers_asked']) or '-'}")
    for c in data["candidates"]:
        verdict = "ok " if c["accepted"] else "REJ"
        print(
            f"  {verdict} {c['lat']:.5f}, {c['lon']:.5f} {c['precision']:<12} {c['source']:<15} {c['points']:>6}  {c['reason']}; {c['detail']}"
        )
    for note in data["notes"]:
        print(f"note: {note}")
    return 0
