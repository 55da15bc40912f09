"""The fake Socrata server's own rules, which the tests of every layer rely on."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes.data import load_feed_snapshot
from tests.fakes.socrata import (
    DropHalf,
    EmptySnapshot,
    FakeSocrata,
    ReplaceSnapshot,
    drop_half_of_incidents,
)

A = load_feed_snapshot("2019-06-18T05-17-00Z")
B = load_feed_snapshot("2019-06-18T06-09-00Z")
C = load_feed_snapshot("2025-02-17T16-00-00Z")


def get(fake: FakeSocrata, **params: str | int) -> httpx.Response:
    return httpx.get(fake.url, params={"$order": ":id", **params})


def test_each_poll_serves_the_next_snapshot_then_stays_on_the_last() -> None:
    with FakeSocrata([A, B]) as fake:
        assert get(fake).json() == A
        assert get(fake).json() == B
        assert get(fake).json() == B
        assert fake.polls == 3


def test_pages_after_the_first_come_from_the_same_snapshot() -> None:
    with FakeSocrata([A, B]) as fake:
        first = get(fake, **{"$limit": 30, "$offset": 0}).json()
        rest = get(fake, **{"$limit": 30, "$offset": 30}).json()
        assert first + rest == A
        assert fake.snapshot_index == 0


def test_without_limit_a_page_holds_socratas_default_of_1000_rows() -> None:
    rows = [{"incident_number": str(n), "location": "Elm St"} for n in range(1500)]
    with FakeSocrata([rows]) as fake:
        assert len(httpx.get(fake.url).json()) == 1000


def test_manual_mode_moves_only_on_advance_and_push_adds_snapshots() -> None:
    with FakeSocrata([A], auto_advance=False) as fake:
        assert get(fake).json() == A
        assert get(fake).json() == A
        assert fake.push(C) == 1
        assert fake.advance() == 1
        assert get(fake).json() == C


def test_poll_faults_are_transient_and_do_not_consume_a_snapshot() -> None:
    with FakeSocrata([A, B, C]) as fake:
        assert get(fake).json() == A
        fake.inject(EmptySnapshot())
        assert get(fake).json() == []
        fake.inject(DropHalf())
        assert get(fake).json() == drop_half_of_incidents(B)
        assert get(fake).json() == B
        fake.inject(ReplaceSnapshot(rows=A[:3]))
        assert get(fake).json() == A[:3]
        assert get(fake).json() == C


def test_drop_half_removes_every_other_incident_with_all_its_units() -> None:
    kept = drop_half_of_incidents(B)
    incidents = list(dict.fromkeys(r["incident_number"] for r in B))
    assert {r["incident_number"] for r in kept} == set(incidents[::2])
    assert all(r in kept for r in B if r["incident_number"] in set(incidents[::2]))


@pytest.mark.parametrize(
    ("params", "status"),
    [({"$where": "x=1"}, 400), ({"$order": "priority"}, 400), ({"$limit": "ten"}, 400), ({"beat": "1"}, 400)],
)
def test_unsupported_queries_get_a_socrata_style_400(params: dict[str, str], status: int) -> None:
    with FakeSocrata([A]) as fake:
        response = httpx.get(fake.url, params=params)
        assert response.status_code == status
        assert json.loads(response.text)["error"] is True


def test_requests_are_recorded_with_query_and_headers() -> None:
    with FakeSocrata([A]) as fake:
        httpx.get(fake.url, params={"$limit": 5, "$offset": 0}, headers={"X-App-Token": "t"})
        (request,) = fake.requests
        assert request.path == "/resource/9fxf-t2tr.json"
        assert request.query == {"$limit": "5", "$offset": "0"}
        assert request.headers["x-app-token"] == "t"
        assert request.snapshot_index == 0
