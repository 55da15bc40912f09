"""A constructed miniature of the city's layers (not real data), with the documented field names.

Downtown-ish coordinates so every point is in Dallas; one police beat (134, Central) and a square
city limit around it. What is where, so tests can assert it:

- ELM ST runs east along lat 32.7810 from lon -96.8000, one 100-block per 0.001 degree: the N00
  block spans lon -96.8000 + 0.001 * (N - 1) to + 0.001 (left side odd, right side even).
- N HARWOOD ST runs north along lon -96.7950 from lat 32.7800 to 32.7830 in three segments; it
  meets ELM ST at (32.7810, -96.7950) (the end of ELM's 500 block).
- WOODALL RODGERS FWY crosses over N HARWOOD ST at lat 32.7820 on z-level 1: no intersection.
- Address points: the 600 block of ELM ST, odd numbers at lat 32.78115, even at 32.78085.
- Geocoded incidents: "MAIN ST / ERVAY ST" three times near (32.7805, -96.7970); one address.
"""

from __future__ import annotations

import json
from typing import Any

ELM_LAT = 32.7810
ELM_WEST = -96.8000
HARWOOD_LON = -96.7950
ELM_AT_HARWOOD = (32.7810, -96.7950)
MAIN_AT_ERVAY = (32.7805, -96.7970)
ODD_SIDE_LAT, EVEN_SIDE_LAT = 32.78115, 32.78085
BEAT = "134"


def _line(coords: list[tuple[float, float]], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": {"type": "LineString", "coordinates": coords}}


def _road(
    seg: int,
    name: str,
    coords: list[tuple[float, float]],
    ranges: tuple[int, int, int, int],
    z: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    lf, lt, rf, rt = ranges
    return _line(
        coords,
        SEGMENT_ID=seg,
        FULLSTREETNAME=name,
        ONE_WAY="B",
        SPEED=30,
        CLASS="LOCAL",
        L_F_ADD=lf,
        L_T_ADD=lt,
        R_F_ADD=rf,
        R_T_ADD=rt,
        POSTAL_L="75202",
        POSTAL_R="75202",
        F_ZLEV=z[0],
        T_ZLEV=z[1],
    )


def centerlines() -> list[dict[str, Any]]:
    out = []
    for block in range(1, 10):  # ELM ST 100..900 blocks
        west = ELM_WEST + 0.001 * (block - 1)
        out.append(
            _road(
                block,
                "ELM ST",
                [(west, ELM_LAT), (west + 0.001, ELM_LAT)],
                (block * 100 + 1, block * 100 + 99, block * 100, block * 100 + 98),
            )
        )
    for i, (south, north) in enumerate([(32.7800, 32.7810), (32.7810, 32.7820), (32.7820, 32.7830)]):
        out.append(_road(100 + i, "N HARWOOD ST", [(HARWOOD_LON, south), (HARWOOD_LON, north)], (0, 0, 0, 0)))
    out.append(
        _road(200, "WOODALL RODGERS FWY", [(-96.7960, 32.7820), (HARWOOD_LON, 32.7820)], (0, 0, 0, 0), (0, 1))
    )
    out.append(
        _road(201, "WOODALL RODGERS FWY", [(HARWOOD_LON, 32.7820), (-96.7940, 32.7820)], (0, 0, 0, 0), (1, 0))
    )
    return out


def address_points() -> list[dict[str, Any]]:
    west = ELM_WEST + 0.005  # the 600 block
    out = []
    for i, number in enumerate(range(601, 700, 10)):
        for n, lat in ((number, ODD_SIDE_LAT), (number + 1, EVEN_SIDE_LAT)):
            out.append(
                {
                    "type": "Feature",
                    "properties": {
                        "ADDRESSID": n,
                        "HOUSENUMBER": n,
                        "HOUSESUFFIX": None,
                        "FULLSTREETNAME": "ELM ST",
                        "ZIPCODE": "75202",
                        "ADDRESSTYPE": "Residential",
                        "SUITE": None,
                    },
                    "geometry": {"type": "Point", "coordinates": [west + 0.0001 * (i + 0.5), lat]},
                }
            )
    return out


def incidents() -> list[dict[str, Any]]:
    def row(address: str, lat: float, lon: float) -> dict[str, Any]:
        human = json.dumps({"address": address, "city": "Dallas", "state": "TX", "zip": ""})
        return {
            "incident_address": address,
            "beat": BEAT,
            "division": "Central",
            "geocoded_column": {"latitude": f"{lat}", "longitude": f"{lon}", "human_address": human},
        }

    lat, lon = MAIN_AT_ERVAY
    return [
        row("MAIN ST / ERVAY ST", lat, lon),
        row("MAIN ST / ERVAY ST", lat + 0.00002, lon),
        row("ERVAY ST / MAIN ST", lat, lon - 0.00002),
        row("4302 INDEPENDENCE DR", 32.7840, -96.7990),
    ]


def _square(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


def beats() -> list[dict[str, Any]]:
    # Field names in mixed case on purpose: the reader matches them whatever their case.
    return [
        {
            "type": "Feature",
            "properties": {"OBJECTID": 1, "Beat": BEAT, "Division": "Central"},
            "geometry": _square(-96.81, 32.77, -96.78, 32.79),
        }
    ]


def divisions() -> list[dict[str, Any]]:
    return [
        {
            "type": "Feature",
            "properties": {"OBJECTID": 1, "DIVISION": "CENTRAL"},
            "geometry": _square(-96.82, 32.76, -96.77, 32.80),
        }
    ]


def city_limits() -> list[dict[str, Any]]:
    return [
        {
            "type": "Feature",
            "properties": {"OBJECTID": 1, "NAME": "DALLAS"},
            "geometry": _square(-96.83, 32.75, -96.76, 32.81),
        }
    ]


LAYERS = {
    "/AddressPoints/FeatureServer/0": address_points,
    "/DallasAreaRoads/FeatureServer/2": centerlines,
    "/CrmLayers/MapServer/14": beats,
    "/Dallasbaselayers/FeatureServer/9": divisions,
    "/Dallas_base_layers_view/FeatureServer/0": city_limits,
}
INCIDENTS_PATH = "/resource/qv6i-rri7.json"


def settings_for(url: str) -> dict[str, str]:
    """The ``geodata_*_url`` settings that point every city source at a fake served at ``url``."""
    return {
        "geodata_address_points_url": f"{url}/AddressPoints/FeatureServer/0",
        "geodata_streets_url": f"{url}/DallasAreaRoads/FeatureServer/2",
        "geodata_incidents_url": f"{url}{INCIDENTS_PATH}",
        "geodata_beats_url": f"{url}/CrmLayers/MapServer/14",
        "geodata_divisions_url": f"{url}/Dallasbaselayers/FeatureServer/9",
        "geodata_city_limits_url": f"{url}/Dallas_base_layers_view/FeatureServer/0",
    }


def centerlines_export_schema() -> list[dict[str, Any]]:
    """Two segments in the field layout of the city's "Streets" export (Dallas Open Data cvgm-fp24,
    as in a real 5-segment sample): lower-case names, ``fullstreet`` cut to 10 characters, the name
    also in parts (``prefix``, ``name``, ``type``, ``suffix``), an alternate name in ``alt_*``, ranges
    as floats. The values are invented; ROSS AVE runs east along lat 32.7900 from lon -96.8000."""

    def segment(seg: int, west: float, fullstreet: str, block: int) -> dict[str, Any]:
        return _line(
            [(west, 32.7900), (west + 0.001, 32.7900)],
            segment_id=float(seg),
            fullstreet=fullstreet,
            prefix="",
            name="ROSS",
            type="AVE",
            suffix="",
            alt_prefix="",
            alt_name="OLD ROSS",
            alt_type="RD",
            alt_suffix="",
            l_f_add=float(block + 1),
            l_t_add=float(block + 99),
            r_f_add=0.0,
            r_t_add=0.0,
            f_zlev=0.0,
            t_zlev=0.0,
            postal_l="75204",
            postal_r="75204",
            one_way="B",
            speed=30.0,
            class_="MINOR ARTERIAL",
        )

    return [segment(1, -96.8000, "ROSS AVE", 4200), segment(2, -96.7990, "", 4300)]
