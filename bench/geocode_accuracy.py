"""Geocoding benchmark on the real Dallas data in ../shared/data (no network).

    .venv/bin/python bench/geocode_accuracy.py [--shared-data ../shared/data] [--json]

Prints:
1. normalization coverage: every distinct location in feed/ and every distinct incident address;
   % that become a valid query; failures listed.
2. leave-one-address-out accuracy of the shipped local chain over every distinct address with the
   city's own point (shuyizhang3, DMN homicides, apwheele, the 10 OpenAddresses points): each is
   queried at block level with its beat, as the feed gives it, located from the shipped table less
   that address and its duplicates (same number on a same-core street, or any point within 10 m).
   Coverage, % within 250 m, median / p90 error, overall and by precision; exact answers outside
   Dallas. Queries carry the reporting area too (its centre is the fallback before the beat's,
   computed from the same reduced table). Then the precision every distinct feed location ends at
   (share at beat level, and at a beat or reporting-area centre).
3. choose-don't-trust: the recorded third-party candidates (Nominatim cache in baselines/, Google
   geocodes in original/): how many fall outside the call's area and what share of those the chooser
   rejects. "Outside the area" is judged two ways: outside the city limits (the city's own polygon),
   and farther than 2 km from the call's beat's centroid (a yardstick independent of the chooser's own
   beat-area rule).
4. lookup latency of the local chain per distinct feed key.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from dallas_calls.geocoding.address_points import AddressPointIndex
from dallas_calls.geocoding.candidate import MATCH_PRECISIONS, Candidate
from dallas_calls.geocoding.choose import judge
from dallas_calls.geocoding.holdout import held_out_addresses, locate_held_out
from dallas_calls.geocoding.locator import default_locator
from dallas_calls.geocoding.normalize import normalize_address, normalize_location
from dallas_calls.geodata.beats import BeatAreas, default_areas
from dallas_calls.geodata.distance import distance_m
from dallas_calls.geodata.samples import city_truth_points, normalize_beat, openaddresses_points
from dallas_calls.model import PRECISIONS

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
INCIDENT_COLUMNS = (
    ("shuyizhang3_police_incidents_2016-2017_sample_trimmed.csv", "incident_address"),
    ("dmn_homicides_2014_2025_locations.csv", "incident_address"),
    ("apwheele_DallasSample_2025_addr_latlon.csv", "address"),
    ("dmn_dpd_response_to_resistance_2014_addr_beat_geocoded.csv", "ARC_Street"),
    ("dmn_dpd_response_to_resistance_2015_addr_beat_geocoded.csv", "ARC_Street"),
)
FAR_FROM_BEAT_M = 2000.0


def feed_rows(shared: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((shared / "feed").glob("*.json")):
        rows.extend(json.loads(path.read_text()))
    return rows


def normalization_coverage(shared: Path) -> dict[str, Any]:
    feed = {(r.get("block"), r["location"]) for r in feed_rows(shared)}
    addresses: set[str] = set()
    for name, column in INCIDENT_COLUMNS:
        with (shared / "incidents" / name).open(newline="") as f:
            addresses.update(row[column] for row in csv.DictReader(f))
    blank = {a for a in addresses if not a.strip()}
    addresses -= blank
    failures = sorted(f"{b or ''} {loc}".strip() for b, loc in feed if not normalize_location(b, loc).valid)
    failures += sorted(a for a in addresses if not normalize_address(a).valid)
    total = len(feed) + len(addresses)
    return {
        "distinct_feed_locations": len(feed),
        "distinct_incident_addresses": len(addresses),
        "blank_incident_addresses_skipped": len(blank),
        "valid_pct": round(100 * (total - len(failures)) / total, 2),
        "failures": failures,
    }


def _summary(errors: list[float], total: int) -> dict[str, Any]:
    errors = sorted(errors)
    n = len(errors)
    return {
        "n": n,
        "share_pct": round(100 * n / total, 1) if total else None,
        "within_250m_pct": round(100 * sum(e <= 250 for e in errors) / n, 1) if n else None,
        "median_m": round(errors[n // 2]) if n else None,
        "p90_m": round(errors[int(n * 0.9)]) if n else None,
    }


def leave_one_address_out(shared: Path) -> dict[str, Any]:
    """The shipped local chain on every distinct address with the city's own point, queried at block
    level as the feed gives it ("4300" + "INDEPENDENCE DR" for 4302 INDEPENDENCE DR, with the
    call's beat), the address and its duplicates removed from the table that locates it
    (``dallas_calls.geocoding.holdout``)."""
    incidents = shared / "incidents"
    held = held_out_addresses([*city_truth_points(incidents), *openaddresses_points(incidents)])
    areas = default_areas()
    index = AddressPointIndex.seed()
    errors: dict[str, list[float]] = {}
    on_known_streets: list[float] = []
    outside_city = unplaced = street_unknown = 0
    for r in locate_held_out(index, areas, held):
        street_unknown += not r.street_known
        if r.street_known and r.error_m is not None:
            on_known_streets.append(r.error_m)
        if r.error_m is None or r.geo.lat is None or r.geo.lon is None:
            unplaced += 1
            continue
        if r.geo.precision in MATCH_PRECISIONS and not areas.in_city(r.geo.lat, r.geo.lon):
            outside_city += 1
        errors.setdefault(r.geo.precision, []).append(r.error_m)
    placed = [e for es in errors.values() for e in es]
    return {
        "table_points": len(index),
        "distinct_addresses": len(held),
        "street_unknown_to_table": street_unknown,
        "unplaced": unplaced,
        "all": _summary(placed, len(held)),
        "street_known": _summary(on_known_streets, len(held)),
        "by_precision": {p: _summary(errors[p], len(held)) for p in (*PRECISIONS,) if p in errors},
        "exact_points_outside_dallas": outside_city,
    }


def feed_precision(shared: Path) -> dict[str, Any]:
    """Which precision each distinct feed location ends at, with the shipped local chain."""
    locator = default_locator()
    places: dict[str, tuple[str | None, str, str | None, str | None, str | None]] = {}
    for r in feed_rows(shared):
        key = normalize_location(r.get("block"), r["location"]).key
        places.setdefault(
            key, (r.get("block"), r["location"], r.get("beat"), r.get("division"), r.get("reporting_area"))
        )
    counts = Counter(locator.locate(*place).precision for place in places.values())
    return {
        "distinct_locations": len(places),
        "precision": dict(sorted(counts.items())),
        "beat_share_pct": round(100 * counts["beat"] / len(places), 1),
        # Not placed on their street: a reporting area's centre or a beat's.
        "approximate_share_pct": round(100 * (counts["beat"] + counts["reporting_area"]) / len(places), 1),
    }


def third_party_candidates(shared: Path) -> list[dict[str, Any]]:
    """(location, beat, division, candidate) of every recorded third-party geocode with a point."""
    out: list[dict[str, Any]] = []
    beats_by_key: dict[str, tuple[str | None, str | None]] = {}
    for r in feed_rows(shared):
        beats_by_key[normalize_location(r.get("block"), r["location"]).key] = (
            r.get("beat"),
            r.get("division"),
        )
    cache = json.loads((shared / "baselines" / "sk8ter-kevin_nominatim_geocode-cache.json").read_text())
    for text, entry in sorted(cache.items()):
        if entry.get("lat") is None:
            continue
        key = normalize_address(text).key
        beat, division = beats_by_key.get(key, (None, None))
        out.append(
            {
                "location": text,
                "beat": beat,
                "division": division,
                "candidate": Candidate(float(entry["lat"]), float(entry["lon"]), "address", "nominatim", 0.5),
            }
        )
    seen: set[tuple[str, str, str]] = set()
    for path in sorted((shared / "original").glob("agaricide_*_geocoded.json")):
        for item in json.loads(path.read_text()):
            inc, point = item["incident"], item.get("location") or {}
            if point.get("lat") is None:
                continue
            location = f"{inc.get('block') or ''} {inc['location']}".strip()
            beat = normalize_beat(str(inc.get("beat", "")))
            ident = (location, beat or "", f"{point['lat']},{point['lng']}")
            if ident in seen:
                continue
            seen.add(ident)
            out.append(
                {
                    "location": location,
                    "beat": beat,
                    "division": inc.get("division"),
                    "candidate": Candidate(
                        float(point["lat"]), float(point["lng"]), "address", "google", 0.5
                    ),
                }
            )
    return out


def choose_dont_trust(shared: Path) -> dict[str, Any]:
    areas = BeatAreas.load()
    rows = third_party_candidates(shared)
    outside_city = far = rejected_outside_city = rejected_far = rejected_total = 0
    listed = []
    for row in rows:
        c: Candidate = row["candidate"]
        (j,) = judge([c], row["beat"], row["division"], areas)
        rejected_total += not j.accepted
        centroid = areas.beat_centroid(row["beat"])
        is_far = centroid is not None and distance_m(c.lat, c.lon, *centroid) > FAR_FROM_BEAT_M
        if not j.in_city:
            outside_city += 1
            rejected_outside_city += not j.accepted
        if is_far:
            far += 1
            rejected_far += not j.accepted
        if not j.accepted or is_far:
            listed.append(
                f"{c.source}: {row['location']!r} beat {row['beat']} -> ({c.lat:.5f}, {c.lon:.5f}): "
                f"{'rejected' if not j.accepted else 'ACCEPTED'} ({j.reason})"
            )
    return {
        "candidates": len(rows),
        "with_known_beat": sum(1 for r in rows if areas.beat_centroid(r["beat"]) is not None),
        "outside_city": outside_city,
        "outside_city_rejected_pct": round(100 * rejected_outside_city / outside_city, 1)
        if outside_city
        else None,
        "far_from_beat": far,
        "far_from_beat_rejected_pct": round(100 * rejected_far / far, 1) if far else None,
        "rejected_total": rejected_total,
        "beat_check": areas.check,
        "rejected_or_far": listed,
    }


def latency(shared: Path) -> dict[str, Any]:
    locator = default_locator()
    keys = {
        (r.get("block"), r["location"], r.get("beat"), r.get("division"), r.get("reporting_area"))
        for r in feed_rows(shared)
    }
    locator.locate(None, "Elm St / N Harwood St", "134", "Central")  # load tables
    t0 = time.perf_counter()
    precisions: dict[str, int] = {}
    for block, location, beat, division, area in sorted(keys, key=str):
        geo = locator.locate(block, location, beat, division, area)
        precisions[geo.precision] = precisions.get(geo.precision, 0) + 1
    per_key_ms = 1000 * (time.perf_counter() - t0) / len(keys)
    return {
        "distinct_feed_keys": len(keys),
        "local_chain_ms_per_key": round(per_key_ms, 3),
        "precision": precisions,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared-data", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    shared = args.shared_data
    if not (shared / "incidents").is_dir():
        parser.exit(
            2,
            f"no shared data at {shared}: this benchmark reads the project's real Dallas data set "
            "(shared/data beside the checkout). Pass --shared-data DIR, or run it where that folder is.\n",
        )
    result = {
        "normalization": normalization_coverage(shared),
        "located_loao": leave_one_address_out(shared),
        "feed_precision": feed_precision(shared),
        "choose_dont_trust": choose_dont_trust(shared),
        "latency": latency(shared),
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    n, a, f, c, lat = (
        result[k] for k in ("normalization", "located_loao", "feed_precision", "choose_dont_trust", "latency")
    )
    print("1. normalization coverage")
    print(
        f"   {n['distinct_feed_locations']} feed locations + {n['distinct_incident_addresses']} incident addresses:"
        f" {n['valid_pct']}% valid ({len(n['failures'])} failures; {n['blank_incident_addresses_skipped']} blank skipped)"
    )
    for fail in n["failures"]:
        print(f"     failed: {fail!r}")
    print(
        f"2. located, leave-one-address-out, block-level queries with the call's beat "
        f"({a['distinct_addresses']} addresses; table of {a['table_points']} points less each one)"
    )
    for name, row in [("all", a["all"]), *a["by_precision"].items(), ("street known", a["street_known"])]:
        print(
            f"   {name:<14} n {row['n']:>5} ({row['share_pct']}%)  within 250 m {row['within_250m_pct']}%"
            f"  median {row['median_m']} m  p90 {row['p90_m']} m"
        )
    print(
        f"   no point: {a['unplaced']}; exact points outside Dallas: {a['exact_points_outside_dallas']};"
        f" street with no other point in the table: {a['street_unknown_to_table']}"
    )
    print(
        f"   feed: {f['distinct_locations']} distinct locations, precision {f['precision']},"
        f" beat level {f['beat_share_pct']}%, beat or reporting-area centre {f['approximate_share_pct']}%"
    )
    print(
        f"3. choose-don't-trust ({c['beat_check']} beats): {c['candidates']} third-party candidates, {c['with_known_beat']} with a known beat"
    )
    print(f"   outside Dallas: {c['outside_city']}, rejected {c['outside_city_rejected_pct']}%")
    print(
        f"   > {FAR_FROM_BEAT_M:.0f} m from their beat's centroid: {c['far_from_beat']}, rejected {c['far_from_beat_rejected_pct']}%"
    )
    print(f"   rejected in all: {c['rejected_total']}")
    for line in c["rejected_or_far"]:
        print(f"     {line}")
    print(
        f"4. local chain latency: {lat['local_chain_ms_per_key']} ms per key over {lat['distinct_feed_keys']} feed keys;"
        f" precision {lat['precision']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
