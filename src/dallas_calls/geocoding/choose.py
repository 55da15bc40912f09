"""Choose, don't trust: judge every candidate against the call's own beat, division and the city.

A candidate outside Dallas is never published. With a known beat, a candidate must fall inside the
beat (or within ``NEAR_BEAT_M`` of it); when none does, the call goes to the centre of its reporting
area (precision ``"reporting_area"``) when the locator knows one that passes the same checks, else
to the beat's centroid with precision ``"beat"``. Among the acceptable candidates the best score wins: place (own beat > own
division > city) first, then match type, provider confidence and agreement between candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dallas_calls.geocoding.candidate import Candidate
from dallas_calls.geodata.beats import BeatAreas
from dallas_calls.geodata.distance import distance_m
from dallas_calls.geodata.samples import normalize_division
from dallas_calls.model import Geo

# Outside the beat's area but this close: still acceptable. Real polygons have exact edges; the
# approximate areas (derived from points) are off by several hundred metres in small downtown beats.
NEAR_BEAT_M = {"polygon": 300.0, "approx": 1000.0}
AGREEMENT_M = 150.0  # two candidates this close agree
PLACE_POINTS = {"beat": 100.0, "near_beat": 60.0, "division": 40.0, "city": 10.0}
PRECISION_POINTS = {"address": 30.0, "intersection": 25.0, "street": 10.0}
PROVIDER_POINTS = 20.0  # times the provider's own score (0..1)
AGREEMENT_POINTS = 5.0  # per agreeing candidate, at most three
BEAT_CENTROID_SOURCE = "beat_centroid"
AREA_CENTRE_SOURCE = "reporting_area_centre"


@dataclass(frozen=True, slots=True)
class Judged:
    candidate: Candidate
    in_city: bool
    in_beat: bool | None
    in_division: bool | None
    agreeing: int
    score: float
    accepted: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.candidate.to_dict(),
            "in_city": self.in_city,
            "in_beat": self.in_beat,
            "in_division": self.in_division,
            "agreeing": self.agreeing,
            "points": round(self.score, 1),
            "accepted": self.accepted,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Choice:
    geo: Geo
    judged: tuple[Judged, ...]
    beat_check: str  # "polygon" or "approx": which beat areas judged the candidates

    def to_dict(self) -> dict[str, Any]:
        return {
            "geo": self.geo.to_dict(),
            "beat_check": self.beat_check,
            "candidates": [j.to_dict() for j in self.judged],
        }


def judge(
    candidates: Sequence[Candidate], beat: str | None, division: str | None, areas: BeatAreas
) -> list[Judged]:
    """Every candidate with its place checks, points and verdict (in input order)."""
    division = normalize_division(division) or areas.division_of(beat)
    beat_known = areas.beat_area(beat) is not None
    inside = [areas.in_city(c.lat, c.lon) for c in candidates]
    out = []
    for i, c in enumerate(candidates):
        in_beat = areas.point_in_beat(c.lat, c.lon, beat)
        in_division = areas.point_in_division(c.lat, c.lon, division)
        agreeing = sum(
            1
            for j, o in enumerate(candidates)
            if j != i and inside[j] and distance_m(c.lat, c.lon, o.lat, o.lon) <= AGREEMENT_M
        )
        score = PRECISION_POINTS.get(c.precision, 0.0) + PROVIDER_POINTS * max(0.0, min(1.0, c.score))
        score += AGREEMENT_POINTS * min(agreeing, 3)
        accepted, reason = True, ""
        if not inside[i]:
            accepted, reason = False, "outside Dallas"
        elif beat_known:
            if in_beat:
                score += PLACE_POINTS["beat"]
                reason = "in its beat"
            else:
                gap = areas.distance_to_beat_m(c.lat, c.lon, beat) or 0.0
                if gap <= NEAR_BEAT_M[areas.check]:
                    score += PLACE_POINTS["near_beat"]
                    reason = f"{gap:.0f} m outside its beat"
                else:
                    accepted, reason = False, f"{gap:.0f} m outside its beat"
        elif in_division is not None:
            if in_division:
                score += PLACE_POINTS["division"]
                reason = "in its division (beat unknown)"
            else:
                accepted, reason = False, "outside its division"
        else:
            score += PLACE_POINTS["city"]
            reason = "in Dallas (beat and division unknown)"
        out.append(Judged(c, inside[i], in_beat, in_division, agreeing, score, accepted, reason))
    return out


def choose(
    candidates: Sequence[Candidate],
    beat: str | None,
    division: str | None,
    areas: BeatAreas,
    area_centre: Callable[[], tuple[float, float] | None] | None = None,
) -> Choice:
    """The best acceptable candidate as a :class:`Geo`; else the call's reporting area's centre
    (``area_centre()``, asked only then) if it is acceptable itself; else the beat's centroid; else
    no point."""
    judged = judge(candidates, beat, division, areas)
    n = len(candidates)
    accepted = [j for j in judged if j.accepted]
    if accepted:
        best = max(accepted, key=lambda j: j.score)  # first of equals: provider order breaks ties
        c = best.candidate
        geo = Geo(c.lat, c.lon, c.precision, c.source, best.in_beat, n)
        return Choice(geo, tuple(judged), areas.check)
    found = area_centre() if area_centre is not None else None
    if found is not None:
        centre = Candidate(found[0], found[1], "reporting_area", AREA_CENTRE_SOURCE)
        (checked,) = judge([centre], beat, division, areas)
        if checked.accepted:
            geo = Geo(centre.lat, centre.lon, "reporting_area", AREA_CENTRE_SOURCE, checked.in_beat, n)
            return Choice(geo, tuple(judged), areas.check)
    centroid = areas.beat_centroid(beat)
    if centroid is not None:
        geo = Geo(centroid[0], centroid[1], "beat", BEAT_CENTROID_SOURCE, True, n)
    else:
        geo = Geo(None, None, "none", "none", None, n)
    return Choice(geo, tuple(judged), areas.check)
