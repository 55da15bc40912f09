"""Other names of one street: spellings that are the same name, and other streets' names it carries.

Two shipped tables, read once:

- ``data/street_name_forms.csv``: forms of a street's name core that *are* one name ("MLK",
  "M L KING", "MARTIN LUTHER KING" -> "MARTIN LUTHER KING JR"; "BELTLINE" -> "BELT LINE"). Applied
  by the normalizer, so every form gives one location key. "SAINT" is written "ST" in a name core
  ("S SAINT PAUL ST" = "S ST PAUL ST"), as the feed writes it.
- ``data/street_alternates.csv``: a name that runs on another street's pavement (a numbered route on
  a named street, "SH-289" on Preston Rd; the Dallas North Tollway's frontage roads, Dallas Pkwy;
  Loop 12's named parts). Used by lookups as alternates (matched, at a lower score), never merged
  into the key: "SH-78" and "GARLAND RD" stay two keys.

Freeways of one route in the freeway alias table ("I-35E": N Stemmons Fwy, S R L Thornton Fwy) are
alternates of each other too.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

WORD_FORMS = {"SAINT": "ST"}


def _table(name: str) -> list[dict[str, str]]:
    text = resources.files("dallas_calls.geocoding").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@lru_cache(maxsize=1)
def name_forms() -> dict[str, str]:
    """Core form (space-separated tokens) -> the canonical core."""
    return {row["form"]: row["canonical"] for row in _table("street_name_forms.csv")}


def canonical_core(tokens: Sequence[str]) -> list[str]:
    """A street's core tokens in the one form the index and the keys use."""
    words = [WORD_FORMS.get(t, t) if i < len(tokens) - 1 else t for i, t in enumerate(tokens)]
    canonical = name_forms().get(" ".join(words))
    return canonical.split() if canonical else words


@lru_cache(maxsize=1)
def _alternates() -> dict[str, tuple[str, ...]]:
    pairs: dict[str, list[str]] = {}

    def link(a: str, b: str) -> None:
        if a != b and b not in pairs.setdefault(a, []):
            pairs[a].append(b)

    for row in _table("street_alternates.csv"):
        link(row["name"], row["alternate"])
        link(row["alternate"], row["name"])
    by_route: dict[str, list[str]] = {}
    for row in _table("freeway_aliases.csv"):
        for route in row["route"].split("/"):
            if row["canonical"] not in by_route.setdefault(route, []):
                by_route[route].append(row["canonical"])
    for names in by_route.values():
        for a in names:
            for b in names:
                link(a, b)
    return {name: tuple(others) for name, others in pairs.items()}


def alternate_names(name: str) -> tuple[str, ...]:
    """Canonical names of the streets that ``name`` (canonical) also runs on."""
    return _alternates().get(name, ())


def squashed(core: str) -> str:
    """A core without its spaces: "RED BIRD" and "REDBIRD", "TRAIL GLEN" and "TRAILGLEN" are one."""
    return core.replace(" ", "")
