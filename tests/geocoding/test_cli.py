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
