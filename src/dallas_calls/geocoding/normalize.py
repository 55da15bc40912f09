"""Normalize Dallas CAD location text into one canonical, typed form.

Pure functions, no I/O beyond reading the two shipped tables once (``data/usps_suffixes.csv``: USPS
Publication 28 Appendix C1 street suffixes; ``data/freeway_aliases.csv``: the names Dallas uses for
its freeways). The feed writes the same place many ways ("L B J FWY EB", "Lbj Fwy Wb", "I635";
"N Central Serv Nb" for the northbound service road of N Central Expressway); every form of one
place becomes one :class:`NormalizedLocation` with one ``key``.

usaddress was tried as the street parser and left out: it mis-tags bare street names, which is most of
what the feed holds ("S ST PAUL ST" -> PlaceName + StateName, "WEBB CHAPEL EXT" -> Recipient), so the
street grammar here is the small deterministic one the city's own data follows:
``[pre-directional] name [suffix] [post-directional]`` plus freeway decorations
(``SERV``/``ACRD`` service road, ``RAMP``, travel direction ``NB|SB|EB|WB``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

from dallas_calls.geocoding.street_names import canonical_core

CITY_SUFFIX = "DALLAS TX"

LocationKind = Literal["address", "intersection", "street", "none"]

DIRECTIONALS: dict[str, str] = {
    "N": "N",
    "S": "S",
    "E": "E",
    "W": "W",
    "NE": "NE",
    "NW": "NW",
    "SE": "SE",
    "SW": "SW",
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
}
TRAVEL_DIRECTIONS: dict[str, str] = {
    "NB": "NB",
    "SB": "SB",
    "EB": "EB",
    "WB": "WB",
    "NORTHBOUND": "NB",
    "SOUTHBOUND": "SB",
    "EASTBOUND": "EB",
    "WESTBOUND": "WB",
}
# The side of a road a service road runs on, as the city writes it ("N CENTRAL SERV E"), gives the
# direction of its traffic (Texas drives on the right): east side northbound, north side westbound.
SIDE_TO_TRAVEL = {"E": "NB", "W": "SB", "N": "WB", "S": "EB"}
ORDINAL_WORDS = {
    "FIRST": "1ST",
    "SECOND": "2ND",
    "THIRD": "3RD",
    "FOURTH": "4TH",
    "FIFTH": "5TH",
    "SIXTH": "6TH",
    "SEVENTH": "7TH",
    "EIGHTH": "8TH",
    "NINTH": "9TH",
    "TENTH": "10TH",
}
SERVICE_WORDS = frozenset({"SERV", "SERVICE", "SRV", "ACRD", "ACCESS", "FRONTAGE", "FRTG", "SVC"})
FREEWAY_SUFFIXES = frozenset({"FWY", "EXPY", "TPKE", "TOLLWAY", "HWY"})
_UNIT = re.compile(r"(?<=\S)\s(?:APT|APARTMENT|STE|SUITE|UNIT|BLDG|BUILDING|RM|ROOM|SPC)\b.*$")
_CITY_TAIL = re.compile(r",?\s*DALLAS(?:\s*,?\s*(?:TX|TEXAS))?(?:\s+\d{5})?\s*$")
_ROUTE = re.compile(
    r"\b(?:(I|IH|INTERSTATE)|(US|USHWY)|(SH|STHWY|STATE HWY|STATE HIGHWAY))\s*-?\s*(\d{1,3}[EW]?)\b"
)
_SEPARATORS = re.compile(r"\s*(?:/|&|\bAND\b|\bAT\b|@)\s*")
_LEADING_NUMBER = re.compile(r"^(\d{1,6})(?:\s*-\s*\d{1,6})?\s+(?=\S*[A-Z])")
_NON_WORD = re.compile(r"[^A-Z0-9&/@ -]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FreewayAlias:
    canonical: str
    route: str
    needs_freeway_context: bool


@dataclass(frozen=True, slots=True)
class Street:
    """One street, canonical: ``name`` is how the city's own address data writes it."""

    name: str  # "N CENTRAL EXPY", "E ILLINOIS AVE", "L B J FWY", "SPUR 408"
    core: str  # the name without directional and suffix: "CENTRAL", "ILLINOIS", "L B J", "SPUR 408"
    predir: str | None = None
    suffix: str | None = None
    postdir: str | None = None
    freeway: bool = False
    route: str | None = None  # "US-75", "I-635" for freeways in the alias table
    service_road: bool = False
    ramp: bool = False
    direction: str | None = None  # direction of travel: NB, SB, EB, WB

    @property
    def label(self) -> str:
        """The name plus the freeway decorations: "N CENTRAL EXPY SERV NB"."""
        parts = [self.name]
        if self.service_road:
            parts.append("SERV")
        if self.ramp:
            parts.append("RAMP")
        if self.direction:
            parts.append(self.direction)
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class NormalizedLocation:
    """A feed location in canonical form. ``key`` is the same for every spelling of one place."""

    kind: LocationKind
    number: int | None
    streets: tuple[Street, ...]
    key: str
    raw: str
    notes: tuple[str, ...] = ()

    @property
    def street(self) -> Street | None:
        return self.streets[0] if self.streets else None

    @property
    def block(self) -> int | None:
        """The hundred block of ``number`` (6123 -> 6100)."""
        return None if self.number is None else self.number // 100 * 100

    @property
    def valid(self) -> bool:
        return self.kind != "none"

    def query_text(self) -> str:
        """A one-line query for a text geocoder: "6100 N CENTRAL EXPY, DALLAS, TX"."""
        if self.kind == "intersection":
            body = " & ".join(s.name for s in self.streets)
        elif self.kind == "address" and self.street is not None:
            body = f"{self.number} {self.street.name}"
        elif self.street is not None:
            body = self.street.name
        else:
            body = ""
        return f"{body}, DALLAS, TX" if body else ""


@lru_cache(maxsize=1)
def usps_suffixes() -> dict[str, str]:
    """Street types, every variant -> its USPS Pub 28 standard abbreviation (the shipped table)."""
    text = resources.files("dallas_calls.geocoding").joinpath("data/usps_suffixes.csv").read_text("utf-8")
    return {row["variant"]: row["standard"] for row in csv.DictReader(text.splitlines())}


@lru_cache(maxsize=1)
def freeway_aliases() -> dict[str, FreewayAlias]:
    """The freeway alias table: alias (normalized tokens) -> canonical name, route."""
    text = resources.files("dallas_calls.geocoding").joinpath("data/freeway_aliases.csv").read_text("utf-8")
    return {
        row["alias"]: FreewayAlias(row["canonical"], row["route"], row["context"] == "freeway")
        for row in csv.DictReader(text.splitlines())
    }


def clean_text(text: str) -> str:
    """Upper case, punctuation to spaces, routes as "I-35E"/"US-75"/"SH-183", single spaces."""
    text = text.upper().replace("'", "").replace("’", "")
    text = _NON_WORD.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()

    def route(m: re.Match[str]) -> str:
        kind = "I" if m.group(1) else "US" if m.group(2) else "SH"
        return f"{kind}-{m.group(4)}"

    return _ROUTE.sub(route, text)


def _split_grammar(tokens: list[str]) -> tuple[str | None, list[str], str | None, str | None]:
    """``[predir] name [suffix] [postdir]``; a name is never left empty."""
    suffixes = usps_suffixes()
    name = list(tokens)
    postdir = suffix = predir = None
    if len(name) >= 3 and name[-1] in DIRECTIONALS and name[-2] in suffixes:
        postdir = DIRECTIONALS[name.pop()]
    # A doubled suffix ("BONNIEVIEW RD RD", "N CENTRAL EXPY EXPY") is one suffix.
    while len(name) >= 3 and name[-1] in suffixes and suffixes.get(name[-2]) == suffixes[name[-1]]:
        name.pop()
    if len(name) >= 2 and name[-1] in suffixes:
        suffix = suffixes[name.pop()]
    if len(name) >= 2 and name[0] in DIRECTIONALS:
        predir = DIRECTIONALS[name.pop(0)]
    return predir, name, suffix, postdir


def _compose(predir: str | None, core: str, suffix: str | None, postdir: str | None) -> str:
    return " ".join(p for p in (predir, core, suffix, postdir) if p)


def _lookup_freeway(tokens: list[str], has_context: bool) -> FreewayAlias | None:
    table = freeway_aliases()
    forms = [tokens]
    if tokens and usps_suffixes().get(tokens[-1]) in FREEWAY_SUFFIXES:
        forms.append(tokens[:-1])
        has_context = True
    if tokens and tokens[-1] == "TOLLWAY":
        has_context = True
    for form in list(forms):
        if len(form) >= 2 and form[0] in DIRECTIONALS:
            forms.append([DIRECTIONALS[form[0]], *form[1:]])
            forms.append(form[1:])
    for form in forms:
        alias = table.get(" ".join(form))
        if alias is not None and (has_context or not alias.needs_freeway_context):
            return alias
    return None


@lru_cache(maxsize=65536)
def normalize_street(text: str) -> Street | None:
    """One street name in canonical form, or None when nothing usable is left (e.g. a bare "AVE")."""
    tokens = clean_text(text).replace("/", " ").replace("&", " ").split()
    tokens = [t for t in tokens if t != "-"]
    suffixes = usps_suffixes()
    direction: str | None = None
    # "N CENTRAL SB EXPWY": a travel direction written before the suffix.
    if len(tokens) >= 3 and tokens[-2] in TRAVEL_DIRECTIONS and tokens[-1] in suffixes:
        direction = TRAVEL_DIRECTIONS[tokens.pop(-2)]
    # "C F HAWN FWY FRWY", "BONNIEVIEW RD RD": one suffix written twice.
    while len(tokens) >= 3 and tokens[-1] in suffixes and suffixes.get(tokens[-2]) == suffixes[tokens[-1]]:
        tokens.pop()
    service = ramp = False
    # Travel direction, service road and ramp markers sit at the end: "L B J SERV EB", "BRYAN RAMP EB".
    changed = True
    while changed and tokens:
        changed = False
        last = tokens[-1]
        if last in TRAVEL_DIRECTIONS:
            direction = direction or TRAVEL_DIRECTIONS[tokens.pop()]
            changed = True
        elif last == "RAMP" and len(tokens) >= 2:
            tokens.pop()
            ramp = changed = True
        elif last in SERVICE_WORDS and len(tokens) >= 2:
            tokens.pop()
            service = changed = True
        elif last in ("RD", "ROAD") and len(tokens) >= 3 and tokens[-2] in SERVICE_WORDS:
            tokens.pop()  # "L B J SERV RD", "ACCESS RD"
            changed = True
        elif last in ("N", "S", "E", "W") and len(tokens) >= 3 and tokens[-2] in SERVICE_WORDS:
            direction = direction or SIDE_TO_TRAVEL[tokens.pop()]  # "N CENTRAL SERV E"
            changed = True
    if not tokens:
        return None
    has_context = service or ramp or direction is not None
    alias = _lookup_freeway(tokens, has_context)
    if alias is not None:
        predir, core_tokens, suffix, postdir = _split_grammar(alias.canonical.split())
        return Street(
            name=alias.canonical,
            core=" ".join(core_tokens),
            predir=predir,
            suffix=suffix,
            postdir=postdir,
            freeway=True,
            route=alias.route,
            service_road=service,
            ramp=ramp,
            direction=direction,
        )
    predir, name, suffix, postdir = _split_grammar(tokens)
    name = canonical_core(name)  # "MLK" -> "MARTIN LUTHER KING JR", "SAINT PAUL" -> "ST PAUL"
    if len(name) == 1 and suffix is not None and name[0] in ORDINAL_WORDS:
        name = [ORDINAL_WORDS[name[0]]]  # "FIRST AVE" is written "1ST AVE" by the city
    if not name or (suffix is None and predir is None and len(name) == 1 and name[0] in usps_suffixes()):
        return None  # a bare suffix: "AVE"
    if all(t.isdigit() for t in name) and not (suffix or predir):
        return None  # a bare number is no street
    core = " ".join(name)
    return Street(
        name=_compose(predir, core, suffix, postdir),
        core=core,
        predir=predir,
        suffix=suffix,
        postdir=postdir,
        freeway=(suffix in FREEWAY_SUFFIXES - {"HWY"}) or service,
        service_road=service,
        ramp=ramp,
        direction=direction,
    )


def _parse_number(text: str | None) -> int | None:
    if text is None:
        return None
    m = re.match(r"^\s*-?\s*(\d{1,6})", text)
    return int(m.group(1)) if m else None


def _key(kind: LocationKind, number: int | None, streets: tuple[Street, ...], raw: str) -> str:
    if kind == "intersection":
        body = " / ".join(sorted(s.label for s in streets))
    elif kind == "address":
        body = f"{number} {streets[0].label}"
    elif kind == "street":
        body = streets[0].label
    else:
        body = _SPACES.sub(" ", raw.strip().upper()) or "?"
    return f"{body} | {CITY_SUFFIX}"


@lru_cache(maxsize=65536)
def normalize_location(block: str | None, location: str) -> NormalizedLocation:
    """Normalize one feed row's ``block`` + ``location`` (or a one-line address with ``block=None``).

    ``6100`` + ``N Central Serv Nb`` -> address 6100, N CENTRAL EXPY service road NB;
    ``Elm St / N Harwood St`` -> intersection (streets sorted, so "B / A" has the same key);
    ``- 4466 MARVIN D LOVE SERV NB`` -> address 4466 (the range glitch's dash dropped).
    """
    raw = location or ""
    notes: list[str] = []
    text = clean_text(raw)
    text = _CITY_TAIL.sub("", text).strip()
    text = _UNIT.sub("", " " + text).strip()
    if text.startswith("-"):
        notes.append("leading dash dropped")
        text = text.lstrip("- ").strip()
    number = _parse_number(block) if block and block.strip() else None
    m = _LEADING_NUMBER.match(text)
    if m and not _starts_with_numbered_route(text):
        if number is None:
            number = int(m.group(1))
        text = text[m.end() :]
    parts = [p for p in _SEPARATORS.split(text) if p.strip()]
    streets: list[Street] = []
    for part in parts:
        street = normalize_street(part)
        if street is None:
            notes.append(f"unusable part {part.strip()!r} dropped")
        elif street not in streets:
            streets.append(street)
    if len(streets) > 2:
        notes.append("more than two streets: first two kept")
        streets = streets[:2]
    kind: LocationKind
    if len(streets) == 2:
        kind = "intersection"
        ordered = tuple(sorted(streets, key=lambda s: s.label))
    elif len(streets) == 1:
        kind = "address" if number is not None and len(parts) == 1 else "street"
        if number is not None and len(parts) > 1:
            notes.append("block number of a partial intersection dropped")
        ordered = (streets[0],)
    else:
        kind = "none"
        ordered = ()
    number_out = number if kind in ("address", "intersection") else None
    return NormalizedLocation(
        kind=kind,
        number=number_out,
        streets=ordered,
        key=_key(kind, number_out, ordered, raw),
        raw=raw,
        notes=tuple(notes),
    )


def _starts_with_numbered_route(text: str) -> bool:
    """ "408 NB / ..." is Spur 408, not house number 408 of street "NB"."""
    first = text.split(" ", 2)
    return len(first) >= 2 and first[1] in TRAVEL_DIRECTIONS


def normalize_address(address: str) -> NormalizedLocation:
    """A one-line address as in the city's incident data: "4302 INDEPENDENCE DR"."""
    return normalize_location(None, address)
