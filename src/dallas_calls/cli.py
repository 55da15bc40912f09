"""`dallas-calls ...`: the command line. Flags override DALLAS_CALLS_* environment variables."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dallas_calls import __version__
from dallas_calls.config import Settings
from dallas_calls.feed.source import ReplayExhausted, ReplaySource, SnapshotSource
from dallas_calls.instances import InstanceBusy, claim_data_dir
from dallas_calls.runtime import Scheduler, build_bus, build_components, feed_source, open_store
from dallas_calls.serving import Kind
from dallas_calls.startup import StartupError
from dallas_calls.storage.port import ReadStore

log = logging.getLogger("dallas_calls")


class UsageError(Exception):
    """A problem with the command line or configuration: printed plainly, exit code 2."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("data_dir", "feed_url", "poll_interval_s", "host", "port", "bus", "archive_uri"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"invalid configuration: {problems}") from exc
    if settings.log_format == "json":
        from dallas_calls.logs import setup_json_logging

        setup_json_logging(settings.log_level)
    elif settings.log_format != "text":
        raise UsageError(f"DALLAS_CALLS_LOG_FORMAT must be text or json, got {settings.log_format!r}")
    return settings


def _replay_source(folder: Path, loop: bool = False, rebase: bool = False) -> ReplaySource:
    try:
        return ReplaySource(folder, loop=loop, rebase=rebase)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, sort_keys=True))
        return
    line = (
        f"{summary['outcome']}: {summary['rows']} rows ({summary['quarantined']} quarantined), "
        f"{summary['opened']} opened, {summary['updated']} updated, {summary['closed']} closed; "
        f"last event id {summary['last_event_id']}"
    )
    if summary.get("reason"):
        line += f" — {summary['reason']}"
    print(line)


async def _poll(args: argparse.Namespace) -> int:
    settings = _settings(args)
    lock = claim_data_dir(settings.data_dir, "poll")
    parts = build_components(settings)
    source: SnapshotSource
    if args.replay:
        source = _replay_source(Path(args.replay))
        done = {p.snapshot_key for p in parts.store.recent_polls(10_000) if p.snapshot_key}
        # Resume a replay where an earlier run stopped: skip snapshots already processed.
        while source.position < len(source.snapshots) and _replay_key(source) in done:
            source.position += 1
    else:
        source = feed_source(settings)
    scheduler = Scheduler(parts.pipeline, source, settings.poll_interval_s)
    try:
        while True:
            try:
                result = await scheduler.poll_once()
            except ReplayExhausted:
                if args.json:
                    print(json.dumps({"outcome": "finished", "last_event_id": parts.store.last_event_id()}))
                else:
                    print("replay finished: no snapshot left")
                return 0
            _print_summary(result.summary(), args.json)
            if args.once or not args.replay:
                return 0 if result.outcome != "failed" else 1
    finally:
        await source.aclose()
        parts.close()
        lock.release()


def _replay_key(source: ReplaySource) -> str:
    from dallas_calls.archive.keys import raw_key

    return raw_key(source.snapshots[source.position][0])


def _serve(args: argparse.Namespace) -> int:
    from dallas_calls.api.app import create_app
    from dallas_calls.api.server import serve_app
    from dallas_calls.serving import ServeController

    settings = _settings(args)
    if args.replay and not Path(args.replay).is_dir():
        raise UsageError(f"replay folder not found: {args.replay}")
    kind: Kind = (
        "demo" if args.demo else "replay" if args.replay else "live" if args.no_demo_fallback else "auto"
    )
    replay_dir = Path(args.replay) if args.replay else None
    bus = build_bus(settings)
    controller = ServeController(settings, bus, kind, replay_dir=replay_dir, speed=args.speed)
    try:
        store = controller.prepare()
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc
    mode = controller.mode.current
    app = create_app(
        settings,
        store,
        bus,
        background=controller.run,
        mode=controller.mode,
        liveness=controller.liveness,
        geodata_status=controller.geodata.status if controller.geodata else None,
    )
    controller.bind(app.state.replace_store)
    print(
        f"dallas-calls {__version__}: dashboard at http://{settings.host}:{settings.port}/ ({mode.mode})",
        file=sys.stderr,
    )
    try:
        serve_app(app, settings)
    finally:
        controller.close()
    return 0


def _api(args: argparse.Namespace) -> int:
    """API only (no poller): a replica behind a load balancer, fed by Redis and/or POST /events/."""
    from dallas_calls.api.app import create_app
    from dallas_calls.api.server import serve_app

    settings = _settings(args)
    store: ReadStore
    if settings.store == "dynamodb":
        from dallas_calls.aws.config import AwsConfig
        from dallas_calls.storage.dynamodb import DynamoStore

        aws = AwsConfig.from_env()
        store = DynamoStore(aws.tables, endpoint_url=aws.endpoint_url)
    elif settings.store == "sqlite":
        store = open_store(settings)
    else:
        raise UsageError(f"unknown store {settings.store!r}: use sqlite or dynamodb")
    app = create_app(settings, store, build_bus(settings))
    serve_app(app, settings)
    return 0


def _status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    parts = build_components(settings)
    polls = parts.store.recent_polls(args.limit)
    good = parts.store.last_good_poll()
    report = {
        "data_dir": str(settings.data_dir),
        "archive": parts.archive.describe(),
        "open_calls": len(parts.store.open_calls()),
        "last_event_id": parts.store.last_event_id(),
        "last_good_poll": good.started_at if good else None,
        "polls": [
            {
                "started_at": p.started_at,
                "outcome": p.outcome,
                "rows": p.rows,
                "quarantined": p.quarantined,
                "reason": p.reason,
                **p.counts,
            }
            for p in polls
        ],
    }
    parts.close()
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(f"data dir {report['data_dir']}, archive {report['archive']}")
    print(
        f"{report['open_calls']} open calls, last event id {report['last_event_id']}, "
        f"last good poll {report['last_good_poll'] or 'never'}"
    )
    for p in polls:
        print(
            f"  {p.started_at} {p.outcome:6} {p.rows:5} rows {p.quarantined:3} quarantined"
            + (f" — {p.reason}" if p.reason else "")
        )
    return 0


def _archive(args: argparse.Namespace) -> int:
    """`archive verify [--repair]`: the change archive against the event log."""
    from dallas_calls.archive.verify import verify_changes

    settings = _settings(args)
    lock = claim_data_dir(settings.data_dir, "archive verify --repair") if args.repair else None
    try:
        parts = build_components(settings)
        try:
            report = verify_changes(parts.pipeline.store, parts.archive, repair=args.repair)
        finally:
            parts.close()
    finally:
        if lock is not None:
            lock.release()
    if args.json:
        print(json.dumps(report.to_dict(), sort_keys=True))
    else:
        print(
            f"{report.checked_events} events in the log (ids {report.first_id}..{report.last_id}), "
            f"{len(report.missing)} without a change record"
            + (f", {report.repaired} written now" if args.repair else "")
        )
        if report.missing and not args.repair:
            print(f"  missing ids (first 20): {report.missing[:20]}; run with --repair to write them")
        for start, end in report.log_gaps:
            print(f"  ids {start}..{end} are missing from the event log itself: cannot be repaired")
        for key in report.unreadable:
            print(f"  change record {key} cannot be read: cannot be repaired")
        if report.unprocessed_raw:
            print(
                f"  {len(report.unprocessed_raw)} raw snapshots were fetched but never processed "
                f"(a newer poll superseded them), e.g. {report.unprocessed_raw[0]}"
            )
        print("ok" if report.ok else "gaps remain")
    return 0 if report.ok else 1


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="folder for the SQLite file and local archive (default ./data)"
    )
    parser.add_argument("--archive-uri", help="archive location: a folder or s3://bucket/prefix")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a start-up error")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dallas-calls", description="A live map of Dallas police activity.")
    parser.add_argument("--version", action="version", version=f"dallas-calls {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    poll = sub.add_parser("poll", help="poll the feed (or a recorded folder) and apply the changes")
    _common(poll)
    poll.add_argument(
        "--once", action="store_true", help="one poll, then exit (with --replay: the next snapshot)"
    )
    poll.add_argument("--feed-url", help="Socrata resource URL of the feed")
    poll.add_argument(
        "--replay", metavar="DIR", help="read recorded snapshots from DIR instead of the network"
    )
    poll.add_argument("--json", action="store_true", help="print one JSON object per poll")

    serve = sub.add_parser("serve", help="poller + API + dashboard in one process")
    _common(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--feed-url", help="Socrata resource URL of the feed")
    serve.add_argument("--poll-interval", dest="poll_interval_s", type=float, help="seconds between polls")
    serve.add_argument(
        "--replay", metavar="DIR", help="replay recorded snapshots from DIR instead of polling"
    )
    serve.add_argument(
        "--speed", type=float, help="replay pace: recorded time divided by this (default: poll interval)"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="serve the bundled offline demo (recorded calls, labelled as such; each loop a fresh run)",
    )
    serve.add_argument(
        "--no-demo-fallback",
        action="store_true",
        help="serve live data only (default: the demo while the feed cannot be read at start-up, then live)",
    )
    serve.add_argument("--bus", help="event bus: local (default) or redis://host:port/db")

    api = sub.add_parser("api", help="the API alone (a replica; events arrive by Redis or POST /events/)")
    _common(api)
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.add_argument("--bus", help="event bus: local (default) or redis://host:port/db")

    status = sub.add_parser("status", help="what the store holds and how recent polls went")
    _common(status)
    status.add_argument("--limit", type=int, default=10, help="polls to list")
    status.add_argument("--json", action="store_true")

    archive = sub.add_parser("archive", help="check the archive against the event log")
    archive_sub = archive.add_subparsers(dest="archive_command", required=True)
    verify = archive_sub.add_parser(
        "verify", help="find committed events missing from changes/ (and unprocessed raw snapshots)"
    )
    _common(verify)
    verify.add_argument("--repair", action="store_true", help="write the missing change records")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.set_defaults(handler=_archive)

    _register_geo_commands(sub)
    return parser


def _register_geo_commands(sub: Any) -> None:
    """`geocode` (geocoding.cli), `geodata` (geodata.cli) and `export` (export.cli), each registered
    by its own package."""
    import importlib

    for module_name in ("dallas_calls.geocoding.cli", "dallas_calls.geodata.cli", "dallas_calls.export.cli"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub, _common)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "poll":
            return asyncio.run(_poll(args))
        if args.command == "serve":
            return _serve(args)
        if args.command == "api":
            return _api(args)
        if args.command == "status":
            return _status(args)
        handler = getattr(args, "handler", None)
        if handler is not None:
            return int(handler(args))
        parser.error(f"unknown command {args.command}")
    except (UsageError, InstanceBusy, StartupError) as exc:
        if getattr(args, "debug", False):
            raise
        print(f"dallas-calls: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
