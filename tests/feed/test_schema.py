"""Row validation on the real recorded feed rows, and on the ways a row can go wrong."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from dallas_calls.feed.schema import RowError, parse_row, parse_rows, received_at, reset_quarantine_log
from dallas_calls.model import Row
from tests.fakes.data import feed_snapshot_names, load_feed_snapshot


@pytest.fixture(autouse=True)
def fresh_quarantine_log() -> Iterator[None]:
    reset_quarantine_log()
    yield
    reset_quarantine_log()


def good_row(**changes: Any) -> dict[str, Any]:
    """A real row (2019-06-18T05-17-00Z, first record) with some fields changed or removed (None)."""
    row: dict[str, Any] = dict(load_feed_snapshot("2019-06-18T05-17-00Z")[0])
    for key, value in changes.items():
        if value is None:
            row.pop(key, None)
        else:
            row[key] = value
    return row


# --- the real feed ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", feed_snapshot_names())
def test_all_real_feed_rows_parse(name: str) -> None:
    raw = load_feed_snapshot(name)
    rows, quarantined = parse_rows(raw)
    assert quarantined == []
    assert len(rows) == len(raw)
    for row, source in zip(rows, raw, strict=True):
        assert row.incident_number == source["incident_number"]
        assert row.priority in (1, 2, 3, 4)
        assert row.received_at is not None
        moment = datetime.fromisoformat(row.received_at)
        assert moment.utcoffset() in (timedelta(hours=-5), timedelta(hours=-6))
        assert moment.strftime("%H:%M:%S") == source["time"]
        assert moment.date().isoformat() == source["date"][:10]


def test_a_real_row_maps_every_field() -> None:
    assert parse_row(load_feed_snapshot("2019-06-18T05-17-00Z")[0]) == Row(
        incident_number="19-1112328",
        unit_number="A431",
        division="Southwest",
        nature_of_call="6X - Major Dist (Violence)",
        priority=2,
        received_at="2019-06-17T23:46:00-05:00",
        block="3000",
        location="Groveview Dr",
        beat="445",
        reporting_area="4237",
        status="At Scene",
    )


def test_a_real_winter_row_gets_central_standard_time() -> None:
    row = parse_row(load_feed_snapshot("2015-12-18T20-10-00Z")[0])
    assert row.received_at == "2015-12-18T14:08:00-06:00"
    assert row.block is None  # intersections carry no block


@pytest.mark.parametrize(
    ("name", "value"),
    [("2018-01-09T15-30-00Z", "System.Xml.XmlElement"), ("2025-02-17T16-00-00Z", "4198,4225")],
)
def test_odd_but_harmless_reporting_areas_are_kept_verbatim(name: str, value: str) -> None:
    rows, quarantined = parse_rows(load_feed_snapshot(name))
    assert quarantined == []
    assert value in {row.reporting_area for row in rows}


# --- received_at ------------------------------------------------------------------------------


def test_received_at_across_the_spring_forward_boundary() -> None:
    before = received_at("2019-03-10T00:00:00.000", "01:30:00")
    after = received_at("2019-03-10T00:00:00.000", "03:30:00")
    assert before == "2019-03-10T01:30:00-06:00"
    assert after == "2019-03-10T03:30:00-05:00"
    assert before is not None and after is not None
    # Two wall-clock hours apart, one real hour apart: the clocks jumped.
    assert datetime.fromisoformat(after) - datetime.fromisoformat(before) == timedelta(hours=1)


def test_received_at_across_the_fall_back_boundary() -> None:
    assert received_at("2019-11-03T00:00:00.000", "00:30:00") == "2019-11-03T00:30:00-05:00"
    assert received_at("2019-11-03T00:00:00.000", "03:30:00") == "2019-11-03T03:30:00-06:00"


def test_an_ambiguous_fall_back_time_is_read_as_its_first_occurrence() -> None:
    assert received_at("2019-11-03T00:00:00.000", "01:30:00") == "2019-11-03T01:30:00-05:00"


def test_a_wall_time_skipped_by_spring_forward_becomes_the_real_instant() -> None:
    assert received_at("2019-03-10T00:00:00.000", "02:30:00") == "2019-03-10T03:30:00-05:00"


def test_received_at_accepts_a_plain_date_a_short_time_and_whitespace() -> None:
    assert received_at("2019-06-17", "23:46") == "2019-06-17T23:46:00-05:00"
    assert received_at(" 2019-06-17T00:00:00.000 ", " 23:46:00 ") == "2019-06-17T23:46:00-05:00"


def test_received_at_is_none_when_date_and_time_are_both_absent() -> None:
    assert received_at(None, None) is None
    assert received_at("", "  ") is None


@pytest.mark.parametrize(
    ("date", "time", "reason"),
    [
        ("2019-06-17T00:00:00.000", None, "time is missing"),
        (None, "23:46:00", "date is missing"),
        ("2019-13-45T00:00:00.000", "23:46:00", "date '2019-13-45T00:00:00.000' is not an ISO date"),
        ("yesterday", "23:46:00", "not an ISO date"),
        ("2019-06-17T00:00:00.000", "25:61:00", "time '25:61:00' is not a clock time"),
        ("2019-06-17T00:00:00+00:00", "23:46:00", "carries a time zone"),
    ],
)
def test_malformed_date_or_time_raises_row_error(date: str | None, time: str | None, reason: str) -> None:
    with pytest.raises(RowError, match=reason):
        received_at(date, time)


# --- quarantine -------------------------------------------------------------------------------


def test_bad_rows_are_quarantined_with_reasons_and_the_rest_is_used() -> None:
    real = load_feed_snapshot("2019-06-18T06-09-00Z")
    bad: list[Any] = [
        good_row(incident_number=None),
        good_row(incident_number="   "),
        good_row(location=""),
        good_row(priority="7"),
        good_row(priority="high"),
        good_row(priority="2.5"),
        good_row(date="not a date"),
        good_row(time="24:99"),
        good_row(beat={"nested": "object"}),
        ["a", "list"],
        "a string",
        None,
    ]
    snapshot = real[:40] + bad + real[40:]
    rows, quarantined = parse_rows(snapshot)

    assert rows == [parse_row(r) for r in real]  # every good row, in feed order
    assert [q.reason for q in quarantined] == [
        "missing incident_number",
        "missing incident_number",
        "missing location",
        "priority '7' is not an integer 1-4",
        "priority 'high' is not an integer 1-4",
        "priority '2.5' is not an integer 1-4",
        "date 'not a date' is not an ISO date",
        "time '24:99' is not a clock time",
        "beat is not text: {'nested': 'object'}",
        "row is a list, not an object",
        "row is a str, not an object",
        "row is a NoneType, not an object",
    ]
    assert quarantined[0].raw == bad[0]  # the raw record is kept as it was
    assert quarantined[-3].raw == {"value": ["a", "list"]}


def test_parse_row_raises_row_error_with_the_reason() -> None:
    with pytest.raises(RowError) as caught:
        parse_row(good_row(location="  "))
    assert caught.value.reason == "missing location"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("value", "expected"), [("", None), ("  ", None), ("3", 3), (" 4 ", 4), (1, 1)])
def test_priority_blank_is_none_and_digits_are_integers(value: Any, expected: int | None) -> None:
    assert parse_row(good_row(priority=value)).priority == expected


def test_absent_priority_is_none() -> None:
    assert parse_row(good_row(priority=None)).priority is None


@pytest.mark.parametrize("value", ["0", "5", 0, True, 2.0, "-1", "²"])
def test_priority_outside_1_to_4_or_not_an_integer_is_rejected(value: Any) -> None:
    with pytest.raises(RowError, match="is not an integer 1-4"):
        parse_row(good_row(priority=value))


def test_text_is_stripped_and_blank_text_becomes_none() -> None:
    row = parse_row(good_row(division="  Southwest ", block="", beat="   ", unit_number=" A431\t"))
    assert row.division == "Southwest"
    assert row.block is None
    assert row.beat is None
    assert row.unit_number == "A431"


def test_missing_optional_fields_become_none() -> None:
    row = parse_row({"incident_number": "19-1", "location": "Elm St / N Harwood St"})
    assert row == Row("19-1", None, None, None, None, None, None, "Elm St / N Harwood St", None, None, None)


def test_numbers_sent_as_numbers_are_kept_as_text() -> None:
    assert parse_row(good_row(beat=445, reporting_area=4237)).beat == "445"


def test_unknown_extra_keys_are_ignored() -> None:
    assert parse_row(good_row(geocoded_column={"type": "Point"}, new_field="x")) == parse_row(good_row())


def test_each_kind_of_quarantine_reason_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    snapshot = [
        good_row(location=None),
        good_row(location=None),
        good_row(location=None),
        good_row(priority="9"),
        good_row(priority="x"),
        good_row(),
    ]
    with caplog.at_level(logging.DEBUG, logger="dallas_calls.feed.schema"):
        parse_rows(snapshot)
        parse_rows(snapshot)  # the next poll, same bad rows
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "quarantined 3 feed row(s): missing location (e.g. missing location)",
        "quarantined 2 feed row(s): bad priority (e.g. priority '9' is not an integer 1-4)",
    ]
    assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) == 2
