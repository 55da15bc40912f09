from __future__ import annotations

import json

import pytest

from dallas_calls.cli import main


def test_geocode_json_prints_one_object_with_the_choice_and_candidates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["geocode", "Independence Dr / W Camp Wisdom Rd", "--beat", "452", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["key"] == "INDEPENDENCE DR / W CAMP WISDOM RD | DALLAS TX"
    assert data["geo"]["precision"] == "intersection"
    assert data["candidates"][0]["accepted"] is True


def test_geocode_takes_the_reporting_area_a_street_the_table_lacks_falls_back_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["geocode", "No Such St", "--block", "4300", "--beat", "452", "--json"]
    assert main([*args, "--reporting-area", "4359"]) == 0
    with_area = json.loads(capsys.readouterr().out)["geo"]
    assert (with_area["precision"], with_area["source"]) == ("reporting_area", "reporting_area_centre")
    assert main(args) == 0
    without = json.loads(capsys.readouterr().out)["geo"]
    assert without["precision"] == "beat" and (without["lat"], without["lon"]) != (
        with_area["lat"],
        with_area["lon"],
    )
