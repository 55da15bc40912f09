from __future__ import annotations

import csv
import json

from tests.fakes.data import FEED_DIR, REAL_DATA

INCIDENTS = REAL_DATA / "incidents"

# (file, address column) of every incident file with a street address.
INCIDENT_ADDRESS_COLUMNS = (
    ("shuyizhang3_police_incidents_2016-2017_sample_trimmed.csv", "incident_address"),
    ("dmn_homicides_2014_2025_locations.csv", "incident_address"),
    ("apwheele_DallasSample_2025_addr_latlon.csv", "address"),
    ("dmn_dpd_response_to_resistance_2014_addr_beat_geocoded.csv", "ARC_Street"),
    ("dmn_dpd_response_to_resistance_2015_addr_beat_geocoded.csv", "ARC_Street"),
)


def feed_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(FEED_DIR.glob("*.json")):
        rows.extend(json.loads(path.read_text()))
    return rows


def incident_addresses() -> list[str]:
    out: list[str] = []
    for name, column in INCIDENT_ADDRESS_COLUMNS:
        with (INCIDENTS / name).open(newline="") as f:
            out.extend(row[column] for row in csv.DictReader(f))
    return out
