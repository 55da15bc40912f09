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
- City of Dallas police beats: layer 14 ("Beats", Dallas Police Department Compstat / Crime Analysis
  Unit) of the city's public ArcGIS map service ``Crm_public/CrmLayers``, exported as GeoJSON in
  WGS84 by a standard ArcGIS REST ``query``. Confirmed: the layer's metadata page names it "Beats".
  Not confirmed: its attribute names (the beat number field), and whether every beat fits under the
  service's record limit in one answer (about 240 beats; the limit is 1000-2000 on the city's
  services). An export like this is generated on request, so it can change whenever the city edits
  the beats: it is ``mutable``, its checksum is re-recorded on every fetch rather than enforced.
- Police divisions and city limits: NO public URL could be confirmed (no layer id for either was
  found on the city's services). They are listed with ``url=None``; ``fetch`` skips them and says so.
  Until a URL is confirmed: divisions are derived from the beats (each beat carries its division),
  and the city limits come from the outline shipped in ``geodata/data/city.geojson`` (built from the city
  GIS "CITY" layer, see that folder's README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TIGER_YEAR = 2025
TIGER_BASE = f"https://www2.census.gov/geo/tiger/TIGER{TIGER_YEAR}"

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

# ArcGIS REST: every feature of a layer, all attributes, as GeoJSON in WGS84.
_ARCGIS_GEOJSON = "query?where=1%3D1&outFields=*&outSR=4326&f=geojson"
DALLAS_CRM_LAYERS = "https://gis.dallascityhall.com/arcgis/rest/services/Crm_public/CrmLayers/MapServer"

SourceKind = Literal["tiger", "police", "city"]


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

    def matches(self, selector: str) -> bool:
        """``--only`` accepts a source name, its group ("tiger", "police"), a county FIPS code or a
        TIGER layer name ("edges")."""
        s = selector.strip().lower()
        return s in (self.name.lower(), self.group) or s in self.name.lower().split("-")


def tiger_filename(fips: str, layer: TigerLayer, year: int = TIGER_YEAR) -> str:
    return f"tl_{year}_{fips}_{layer}.zip"


def tiger_url(fips: str, layer: TigerLayer, year: int = TIGER_YEAR) -> str:
    return (
        f"https://www2.census.gov/geo/tiger/TIGER{year}/{layer.upper()}/{tiger_filename(fips, layer, year)}"
    )


def _tiger_sources() -> list[Source]:
    what = {
        "edges": "all lines with topology (TLID, TNIDF/TNIDT, FULLNAME, ROADFLG)",
        "addrfeat": "address ranges per street name (LFROMHN..RTOHN, ZIPL/ZIPR)",
        "featnames": "primary and alternate names per edge (NAME, PREDIRABRV, SUFTYPABRV, ...)",
    }
    return [
        Source(
            name=f"tiger-{fips}-{layer}",
            group="tiger",
            url=tiger_url(fips, layer),
            filename=tiger_filename(fips, layer),
            description=f"TIGER/Line {TIGER_YEAR} {layer.upper()}, {county} County: {what[layer]}",
            is_zip=True,
        )
        for fips, county in COUNTIES.items()
        for layer in TIGER_LAYERS
    ]


SOURCES: tuple[Source, ...] = (
    *_tiger_sources(),
    Source(
        name="police-beats",
        group="police",
        url=f"{DALLAS_CRM_LAYERS}/14/{_ARCGIS_GEOJSON}",
        filename="beats.geojson",
        description="Dallas police beats (city GIS, Crm_public/CrmLayers layer 14 'Beats'), GeoJSON WGS84",
        mutable=True,
        note="layer confirmed by its metadata page; attribute names not confirmed",
    ),
    Source(
        name="police-divisions",
        group="police",
        url=None,
        filename="divisions.geojson",
        description="Dallas police divisions",
        note="no public URL confirmed; divisions are derived from the beats' division attribute",
    ),
    Source(
        name="city-limits",
        group="city",
        url=None,
        filename="city.geojson",
        description="City of Dallas limits",
        note="no public URL confirmed; the outline shipped in geodata/data/city.geojson is used",
    ),
)


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
