"""No row can fail a snapshot: whatever JSON a row holds, parsing and planning a poll return, every
unusable row is quarantined with a reason, and the usable rows apply."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dallas_calls.feed.body import decode_json
from dallas_calls.feed.schema import RowError, parse_row, parse_rows
from dallas_calls.feed.source import rebase_rows
from dallas_calls.model import INCIDENT_NUMBER_MAX_LENGTH
from dallas_calls.pipeline import plan_poll
from dallas_calls.tracking.state import CallsInMemory
from tests.fakes.data import load_feed_snapshot

REAL = load_feed_snapshot("2019-06-18T05-17-00Z")
FIELDS = sorted({key for row in REAL for key in row})

# Any JSON value, text including lone surrogates (what a "\ud800" escape decodes to).
json_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | json_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(json_text, inner, max_size=3),
    max_leaves=6,
)
# Text that looks right but is not: drawn often, so each kind is met in every run.
tricky_text = st.sampled_from(["", " ", "\ud800", "Elm\udfffSt", "9" * 65, "2", "0", "²", "1e3"])
# date/time pairs at and beyond the ends of the calendar.
edge_times = st.sampled_from(
    [
        ("9999-12-31T00:00:00.000", "23:59:59"),
        ("9999-12-31", "18:00"),
        ("0001-01-01T00:00:00.000", "00:00:00"),
        ("2019-03-10T00:00:00.000", "02:30:00"),
        ("2019-06-17T00:00:00.000", "24:00:00"),
    ]
)


@st.composite
def feed_rows(draw: st.DrawFn) -> Any:
    """A real row with any of its fields replaced by any JSON value (or removed), or any JSON value."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    row: dict[str, Any] = dict(draw(st.sampled_from(REAL)))
    if draw(st.integers(0, 4)) == 0:
        row["date"], row["time"] = draw(edge_times)
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        action = draw(st.integers(0, 2))
        if action == 0:
            row[key] = draw(json_values)
        elif action == 1:
            row[key] = draw(tricky_text)
        else:
            row.pop(key, None)
    return row


def utf8_json(value: Any) -> bytes:
    """What is stored must be valid Unicode: this fails on a lone surrogate."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


@settings(max_examples=300, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(feed_rows(), max_size=30))
def test_parsing_any_rows_never_raises_and_quarantines_exactly_the_bad_ones(raw: list[Any]) -> None:
    rows, quarantined = parse_rows(raw)

    accepted = []
    for item in raw:
        with contextlib.suppress(RowError):
            accepted.append(parse_row(item))
    assert rows == accepted  # the good rows, in feed order
    assert len(rows) + len(quarantined) == len(raw)
    for record in quarantined:
        assert record.reason
        utf8_json(record.raw)
        record.reason.encode("utf-8")
    for row in rows:
        assert len(row.incident_number) <= INCIDENT_NUMBER_MAX_LENGTH
        utf8_json([getattr(row, name) for name in row.__slots__])


@settings(max_examples=200, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(feed_rows(), max_size=30), st.lists(feed_rows(), max_size=30))
def test_planning_any_two_polls_never_raises_and_the_good_rows_apply(
    first: list[Any], second: list[Any]
) -> None:
    plan = plan_poll(CallsInMemory({}), first, "2019-06-18T05:17:00Z", False, lambda key: None)
    good, _ = parse_rows(first)
    assert {c.incident_number for c in plan.changes.opened} == {r.incident_number for r in good}
    assert len(plan.quarantined) == len(first) - len(good)

    calls = {c.incident_number: c for c in plan.changes.opened}
    later = plan_poll(
        CallsInMemory(calls), second, "2019-06-18T05:21:00Z", False, lambda key: None, close_after=1
    )
    present = {r.incident_number for r in parse_rows(second)[0]}
    assert {c.incident_number for c in later.changes.opened} == present - set(calls)
    if later.decision.outcome == "ok":
        assert {c.incident_number for c in later.changes.closed} == set(calls) - present
    for event_call in [*later.changes.opened, *(u.call for u in later.changes.updated)]:
        utf8_json(event_call.to_dict())


@pytest.mark.parametrize(
    ("date", "time"),
    [
        ("9999-12-31T00:00:00.000", "23:59:59"),  # past year 9999 once in UTC
        ("0001-01-01T00:00:00.000", "00:00:00"),
        ("0001-01-01", "00:00"),
    ],
)
def test_a_timestamp_at_the_end_of_the_calendar_is_a_quarantined_row(date: str, time: str) -> None:
    row = dict(REAL[0], date=date, time=time)
    rows, quarantined = parse_rows([row, REAL[1]])
    if quarantined:
        (record,) = quarantined
        assert "date" in record.reason
        assert rows == [parse_row(REAL[1])]
    else:  # an instant that exists (year 1, 06:00 UTC) is kept
        assert len(rows) == 2


def test_year_9999_at_midnight_end_is_rejected_with_the_reason() -> None:
    row = dict(REAL[0], date="9999-12-31T00:00:00.000", time="23:59:59")
    with pytest.raises(RowError, match="out of the representable range"):
        parse_row(row)


@pytest.mark.parametrize("field", ["incident_number", "nature_of_call", "location", "beat", "status", "date"])
def test_a_lone_surrogate_in_any_text_field_quarantines_only_its_row(field: str) -> None:
    bad = dict(REAL[0], **{field: "Major\ud800Dist"})
    rows, quarantined = parse_rows([bad, *REAL[1:]])
    assert rows == [parse_row(r) for r in REAL[1:]]
    (record,) = quarantined
    assert "surrogate" in record.reason or "ASCII" in record.reason
    assert record.raw[field] == "Major\ufffdDist"  # the stored copy is valid Unicode
    assert "U+FFFD" in record.reason or field == "date"
    utf8_json(record.raw)


def test_an_incident_number_longer_than_the_api_accepts_is_quarantined() -> None:
    longest = "9" * INCIDENT_NUMBER_MAX_LENGTH
    rows, quarantined = parse_rows(
        [dict(REAL[0], incident_number=longest), dict(REAL[1], incident_number=longest + "9")]
    )
    assert [r.incident_number for r in rows] == [longest]
    (record,) = quarantined
    assert f"longer than {INCIDENT_NUMBER_MAX_LENGTH}" in record.reason


def test_a_body_with_invalid_utf8_or_a_huge_integer_still_decodes() -> None:
    body = b'[{"incident_number": "19-\xff1", "location": "Elm St"}, {"priority": ' + b"9" * 5000 + b"}]"
    first, second = decode_json(body)
    _, quarantined = parse_rows([first, second])
    assert [q.reason for q in quarantined] == [
        "incident_number holds a lone surrogate (replaced with U+FFFD in the stored row)",
        "missing incident_number",
    ]
    assert quarantined[0].raw["incident_number"] == "19-\ufffd1"


def test_a_demo_replay_moves_the_rows_it_can_and_leaves_the_others_for_the_schema() -> None:
    bad = [dict(REAL[0], date="9999-12-31T00:00:00.000", time="23:59:59"), dict(REAL[0], time="25:00")]
    moved = rebase_rows([*bad, REAL[1]], timedelta(days=400))
    assert moved[:2] == bad
    assert moved[2]["date"] != REAL[1]["date"] and parse_row(moved[2]).received_at is not None
