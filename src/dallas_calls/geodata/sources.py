"""The pinned list of geodata that ``dallas-calls geodata fetch`` downloads into ``DATA_DIR/geodata/``.

Why a list in code: what the local geocoder knows about Dallas streets and police areas must be
reproducible, so every file has one fixed URL (a fixed vintage, never "latest") and, where it can be
known, a size and a SHA-256.

Checksums. None of these files could be downloaded where this list was written (no network), so no
SHA-256 or size is pinned yet (``sha256=None``, ``size=None``). The fetcher then works "trust on first
use": the first download's size and SHA-256 are recorded in ``DATA_DIR/geodata/manifest.json``, and
every later check (``geodata status``, a re-fetch, ``geodata build``) verifies the file against that
record. Once a vintage has been downloaded and checked by hand, paste the recorded values here to pin
them for everyone: a pinned checksum is always enforced, whatever the manifest says.

Sources, and how sure we are of each URL:

- US Census TIGER/Line 2025, per county, for the five counties Dallas spans: EDGES (all lines, with
  topology: node ids at both ends of every edge), ADDRFEAT (every address range with its street name)
  and FEATNAMES (primary and alternate names per edge). The ``TIGER2025/<LAYER>/tl_2025_<fips>_<layer>
  .zip`` layout is the Census Bureau's published one; 2025 is the newest vintage we could confirm in
  public references (EDGES, FEATNAMES, ADDR, ROADS... under ``/geo/tiger/TIGER2025/``). TIGER
  vintages never change once published, so their checksums, once recorded, are enforced on
  re-download. The Census Bureau has been seen to answer a missing file with an HTML error page and
  status 200; the fetcher rejects a "zip" that does not start like one.
- The City of Dallas' own layers (the services listed in the project's notes on Dallas GIS sources):
  address points, street centerlines with address ranges, police beats, divisions and city limits
  (ArcGIS ``query``, read page by page), and the police incidents the city geocoded (Socrata
  ``qv6i-rri7``). None could be reached where this was written, so their attribute names are the
  documented ones, checked on the first page of every fetch (a fetch fails naming the fields it
  found). They are generated on request and change whenever the city edits them: ``mutable``, their
  checksum is re-recorded on every fetch rather than enforced. Every URL is a setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

TIGER_YEAR = 2025
TIGER_SERVER = "https://www2.census.gov/geo/tiger"
TIGER_BASE = f"{TIGER_SERVER}/TIGER{TIGER_YEAR}"

# The counties the City of Dallas spans, by 5-digit FIPS code.
COUNTIES: dict[str, str] = {
    "48113": "Dallas",
    "48085": "Collin",
    "48121": "Denton",
    "48397": "Rockwall",
    "48257": "Kaufman",
}

TigerLayer = Literal["edges", "addrfeat", "featnames"]
TIGER_LAYERS: tuple[TigerLayer, ...] = ("edges", "addrfeat", "featnames")

DALLAS_CRM_LAYERS = "https://gis.dallascityhall.com/arcgis/rest/services/Crm_public/CrmLayers/MapServer"

SourceKind = Literal["tiger", "police", "city"]
# How a source is read: one file (None), or page by page from an ArcGIS layer's ``query`` or a
# Socrata resource (see :mod:`dallas_calls.geodata.paged`).
Paging = Literal["arcgis", "socrata"]


@dataclass(frozen=True, slots=True)
class Source:
    """One downloadable file.

    ``name`` is what ``--only`` matches (also by ``group``); ``filename`` is where it lands in
    ``DATA_DIR/geodata/``. ``size``/``sha256`` are pinned expectations (None: not known yet, recorded
    on first download). ``mutable``: the server generates it on request, so a new download may
    legitimately differ from the last one. ``is_zip``: reject anything that is not a zip archive.
    """

    name: str
    group: SourceKind
    url: str | None
    filename: str
    description: str
    size: int | None = None
    sha256: str | None = None
    mutable: bool = False
    is_zip: bool = False
    note: str = ""
    paging: Paging | None = None
    page_size: int = 2000
    where: str | None = None  # the filter of a paged query (ArcGIS ``where``, Socrata ``$where``)
    # Paged sources: the attributes a feature must have (any letter case; the first page is checked
    # and the fetch fails naming the fields it found) and the ones kept when present. Empty: keep all.
    required_fields: tuple[str, ...] = ()
    required_any: tuple[str, ...] = ()  # at least one of these must be there too
    optional_fields: tuple[str, ...] = ()

    def matches(self, selector: str) -> bool:
        """``--only`` accepts a source name, its group ("tiger", "police"), a county FIPS code or a
        TIGER layer name ("edges")."""
        s = selector.strip().lower()
        return s in (self.name.lower(), self.group) or s in self.name.lower().split("-")


def tiger_filename(fips: str, layer: TigerLayer, year: int = TIGER_YEAR) -> str:
    return f"tl_{year}_{fips}_{layer}.zip"


def tiger_url(fips: str, layer: TigerLayer, year: int = TIGER_YEAR, server: str = TIGER_SERVER) -> str:
    return f"{server.rstrip('/')}/TIGER{year}/{layer.upper()}/{tiger_filename(fips, layer, year)}"


def _tiger_sources(server: str = TIGER_SERVER) -> list[Source]:
    what = {
        "edges": "all lines with topology (TLID, TNIDF/TNIDT, FULLNAME, ROADFLG)",
        "addrfeat": "address ranges per street name (LFROMHN..RTOHN, ZIPL/ZIPR)",
        "featnames": "primary and alternate names per edge (NAME, PREDIRABRV, SUFTYPABRV, ...)",
    }
    return [
        Source(
            name=f"tiger-{fips}-{layer}",
            group="tiger",
            url=tiger_url(fips, layer, server=server),
            filename=tiger_filename(fips, layer),
            description=f"TIGER/Line {TIGER_YEAR} {layer.upper()}, {county} County: {what[layer]}",
            is_zip=True,
        )
        for fips, county in COUNTIES.items()
        for layer in TIGER_LAYERS
    ]


# The City of Dallas' own services (see the module docstring and docs/geodata.md). Each default can
# be replaced by a setting (``DALLAS_CALLS_GEODATA_*_URL``): the city moves its services now and then.
CITY_ARCGIS = "https://services2.arcgis.com/rwnOSbfKSwyTBcwN/ArcGIS/rest/services"
CITY_ADDRESS_POINTS_URL = f"{CITY_ARCGIS}/AddressPoints/FeatureServer/0"
CITY_STREETS_URL = f"{CITY_ARCGIS}/DallasAreaRoads/FeatureServer/2"
CITY_INCIDENTS_URL = "https://www.dallasopendata.com/resource/qv6i-rri7.json"
POLICE_BEATS_URL = f"{DALLAS_CRM_LAYERS}/14"
POLICE_DIVISIONS_URL = f"{CITY_ARCGIS}/Dallasbaselayers/FeatureServer/9"
CITY_LIMITS_URL = f"{CITY_ARCGIS}/Dallas_base_layers_view/FeatureServer/0"
CITY_GEOCODER_URL = (
    "https://gis.dallascityhall.com/wwwgis/rest/services/ToolServices/DallasStreetsLocator/GeocodeServer"
)

# Setting name -> (source name, default URL): what ``city_sources(settings)`` reads.
CITY_URL_SETTINGS: dict[str, tuple[str, str]] = {
    "geodata_address_points_url": ("city-address-points", CITY_ADDRESS_POINTS_URL),
    "geodata_streets_url": ("city-streets", CITY_STREETS_URL),
    "geodata_incidents_url": ("city-incidents", CITY_INCIDENTS_URL),
    "geodata_beats_url": ("police-beats", POLICE_BEATS_URL),
    "geodata_divisions_url": ("police-divisions", POLICE_DIVISIONS_URL),
    "geodata_city_limits_url": ("city-limits", CITY_LIMITS_URL),
}


def city_sources(settings: object = None) -> tuple[Source, ...]:
    """The city's layers, paged. URLs come from ``settings`` (any object with the
    ``geodata_*_url`` attributes of :data:`CITY_URL_SETTINGS`), else the defaults."""
    url = {
        name: str(getattr(settings, attr, None) or default)
        for attr, (name, default) in CITY_URL_SETTINGS.items()
    }

    def layer(name: str, group: SourceKind, filename: str, description: str, **extra: Any) -> Source:
        """A city layer: generated on request (``mutable``), read page by page (ArcGIS unless said)."""
        options: dict[str, Any] = {"mutable": True, "paging": "arcgis", **extra}
        return Source(
            name=name, group=group, url=url[name], filename=filename, description=description, **options
        )

    return (
        layer(
            "city-address-points",
            "city",
            "city_address_points.jsonl.gz",
            "City of Dallas address points (every address), ArcGIS layer, WGS84",
            required_fields=("HOUSENUMBER", "FULLSTREETNAME"),
            optional_fields=("ADDRESSID", "HOUSESUFFIX", "ZIPCODE", "ADDRESSTYPE"),
        ),
        layer(
            "city-streets",
            "city",
            "city_streets.jsonl.gz",
            "City of Dallas street centerlines with address ranges (DallasAreaRoads), WGS84",
            # The name: FULLSTREETNAME on the service, FULLSTREET in the city's shapefile export, or parts.
            required_fields=("L_F_ADD", "L_T_ADD", "R_F_ADD", "R_T_ADD"),
            required_any=("FULLSTREETNAME", "FULLSTREET", "NAME"),
            optional_fields=(
                *("SEGMENT_ID", "CLASS", "ONE_WAY", "POSTAL_L", "POSTAL_R", "F_ZLEV", "T_ZLEV"),
                *("PREFIX", "TYPE", "SUFFIX"),
                *("ALT_PREFIX", "ALT_NAME", "ALT_TYPE", "ALT_SUFFIX"),
            ),
        ),
        layer(
            "city-incidents",
            "city",
            "city_incidents.jsonl.gz",
            "Dallas police incidents geocoded by the city (Socrata qv6i-rri7)",
            paging="socrata",
            page_size=50_000,
            where="geocoded_column IS NOT NULL",
            required_fields=("incident_address", "geocoded_column"),
            optional_fields=("beat", "division"),
        ),
        layer(
            "police-beats",
            "police",
            "city_beats.jsonl.gz",
            "Dallas police beats (city GIS, Crm_public/CrmLayers layer 14 'Beats'), WGS84",
            note="attribute names not documented: any field named like 'beat' is used",
        ),
        layer(
            "police-divisions",
            "police",
            "city_divisions.jsonl.gz",
            "Dallas police divisions (Dallasbaselayers layer 9 'Police_Division'), WGS84",
        ),
        layer(
            "city-limits",
            "city",
            "city_limits.jsonl.gz",
            "City of Dallas limits (Dallas_base_layers_view layer 0 'City_Limit'), WGS84",
        ),
    )


def all_sources(settings: object = None) -> tuple[Source, ...]:
    """TIGER (from ``settings.geodata_tiger_url`` when set) and the city's layers."""
    server = str(getattr(settings, "geodata_tiger_url", None) or TIGER_SERVER)
    return (*_tiger_sources(server), *city_sources(settings))


SOURCES: tuple[Source, ...] = all_sources()


def select_sources(only: list[str] | None = None, sources: tuple[Source, ...] = SOURCES) -> list[Source]:
    """The sources ``--only`` names (all when None). An unknown selector is an error, not a no-op."""
    if not only:
        return list(sources)
    chosen: list[Source] = []
    for selector in only:
        hits = [s for s in sources if s.matches(selector)]
        if not hits:
            names = ", ".join(s.name for s in sources)
            raise ValueError(f"no geodata source matches {selector!r} (known: {names})")
        chosen.extend(s for s in hits if s not in chosen)
    return chosen


def tiger_sources(sources: tuple[Source, ...] = SOURCES) -> list[Source]:
    return [s for s in sources if s.group == "tiger"]
