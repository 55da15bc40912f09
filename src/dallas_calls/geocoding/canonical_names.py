"""Canonical street names: the one form the street index stores and looks names up by.

The index stores every name of an edge (TIGER primary and alternate names, or the city's centerline
names) in the canonical form of :func:`canonical_street`: uppercase, USPS Publication 28
abbreviations, single spaces ("N CENTRAL EXPY", "BELT LINE RD", "L B J FWY", "I-635", "US-75",
"SH-183", "SPUR 408"), the same form the location normalizer (:mod:`dallas_calls.geocoding.normalize`)
produces. Callers should pass the normalizer's ``Street.name``; the queries canonicalize again (cheap
and idempotent) and then fall back from the exact name to the name without its leading directional
(:func:`name_base`: "HARWOOD ST" finds both N and S HARWOOD ST) and, when no suffix was given
(:func:`has_suffix`), to the bare core (:func:`name_core`: "MIDWAY" finds MIDWAY RD).

Apart from the index because the writer (which stores these keys), the reader (which looks them up)
and the city's address points (:mod:`dallas_calls.geocoding.city_points`, keyed by ``name_base``)
all need the same rules, and none of them is about SQLite. Pure: strings in, strings out.
"""

from __future__ import annotations

import re

from dallas_calls.geocoding.normalize import DIRECTIONALS, ORDINAL_WORDS, usps_suffixes

# Directionals and street types: the normalizer's tables (USPS Pub 28), so both sides agree.
SUFFIXES = usps_suffixes()

ORDINALS = ORDINAL_WORDS
# Dallas freeway names as TIGER spells them -> as the city (and the normalizer) spell them.
NAME_ALIASES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("LYNDON", "B", "JOHNSON"), ("L", "B", "J")),
    (("LBJ",), ("L", "B", "J")),
    (("RL",), ("R", "L")),
    (("CF",), ("C", "F")),
    (("DALLAS", "N", "TOLLWAY"), ("DALLAS", "NORTH", "TOLLWAY")),
    (("DALLAS", "NORTH", "TLWY"), ("DALLAS", "NORTH", "TOLLWAY")),
)
_ROUTES = (
    (re.compile(r"^(?:I|IH|INTERSTATE|INTERSTATE HWY)\s*-?\s*(\d{1,3}[EW]?)\b"), "I-{}"),
    (re.compile(r"^(?:US|U S)\s*(?:HWY|HIGHWAY)?\s*-?\s*(\d{1,3})\b"), "US-{}"),
    (re.compile(r"^(?:SH|STHWY|STATE HWY|STATE HIGHWAY|TX|TEXAS|TX HWY)\s*-?\s*(\d{1,3})\b"), "SH-{}"),
    (re.compile(r"^(?:STATE\s+)?SPUR\s*-?\s*(\d{1,3})\b"), "SPUR {}"),
    (re.compile(r"^(?:STATE\s+)?LOOP\s*-?\s*(\d{1,3})\b"), "LOOP {}"),
)
_PUNCT = re.compile(r"[^A-Z0-9 -]")
_SPACES = re.compile(r"\s+")


def canonical_street(name: str) -> str:
    """``"N Central Expy"`` -> ``"N CENTRAL EXPY"``; ``"Lyndon B Johnson Fwy"`` -> ``"L B J FWY"``;
    ``"I- 635"`` -> ``"I-635"``; ``"North Harwood Street"`` -> ``"N HARWOOD ST"``. Idempotent."""
    text = _SPACES.sub(" ", _PUNCT.sub(" ", name.upper().replace(".", ""))).strip()
    for pattern, template in _ROUTES:
        m = pattern.match(text)
        if m:
            rest = text[m.end() :].strip()
            return f"{template.format(m.group(1))} {rest}".strip()
    tokens = [t for t in text.replace("-", " ").split(" ") if t]
    if not tokens:
        return ""
    tokens = [ORDINALS.get(t, t) for t in tokens]
    for old, new in NAME_ALIASES:
        tokens = _replace_run(tokens, old, new)
    # A directional is a prefix only when a name remains after it: "NORTHWEST HWY" is a name.
    if tokens[0] in DIRECTIONALS and len(tokens) > 1 and not (len(tokens) == 2 and tokens[1] in SUFFIXES):
        tokens[0] = DIRECTIONALS[tokens[0]]
    last = len(tokens) - 1
    if last >= 2 and tokens[last] in DIRECTIONALS:
        tokens[last] = DIRECTIONALS[tokens[last]]
        last -= 1
    first_core = 1 if _leading_directional(tokens) else 0
    if last > first_core and tokens[last] in SUFFIXES:
        tokens[last] = SUFFIXES[tokens[last]]
    return " ".join(tokens)


_ABBREVIATED_DIRECTIONALS = frozenset(DIRECTIONALS.values())
_STANDARD_SUFFIXES = frozenset(SUFFIXES.values())


def _leading_directional(tokens: list[str]) -> bool:
    """Is the first token a directional prefix (not the name itself, as in "SOUTH BLVD")?"""
    return (
        len(tokens) > 1
        and tokens[0] in _ABBREVIATED_DIRECTIONALS
        and not (len(tokens) == 2 and tokens[1] in _STANDARD_SUFFIXES)
    )


def _replace_run(tokens: list[str], old: tuple[str, ...], new: tuple[str, ...]) -> list[str]:
    n = len(old)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tuple(tokens[i : i + n]) == old:
            out.extend(new)
            i += n
        else:
            out.append(tokens[i])
            i += 1
    return out


def name_base(canonical: str) -> str:
    """The name without a leading directional: ``"N HARWOOD ST"`` -> ``"HARWOOD ST"``."""
    tokens = canonical.split(" ")
    return " ".join(tokens[1:]) if _leading_directional(tokens) else canonical


def name_core(canonical: str) -> str:
    """The name without directionals or street type: ``"N HARWOOD ST"`` -> ``"HARWOOD"``."""
    tokens = name_base(canonical).split(" ")
    if len(tokens) > 2 and tokens[-1] in _ABBREVIATED_DIRECTIONALS:
        tokens = tokens[:-1]
    if len(tokens) > 1 and tokens[-1] in _STANDARD_SUFFIXES:
        tokens = tokens[:-1]
    return " ".join(tokens)


def has_suffix(canonical: str) -> bool:
    """Does the name end in a street type (before any trailing directional)? Only a name without one
    may fall back to its core: "MIDWAY" finds MIDWAY RD, "MIDWAY LN" must not."""
    tokens = name_base(canonical).split(" ")
    if len(tokens) > 2 and tokens[-1] in _ABBREVIATED_DIRECTIONALS:
        tokens = tokens[:-1]
    return len(tokens) > 1 and tokens[-1] in _STANDARD_SUFFIXES
