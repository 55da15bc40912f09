"""Docs that match the code: every setting is in the README's configuration table."""

from __future__ import annotations

from dallas_calls.config import Settings
from tests.conftest import REPO


def test_readme_lists_every_setting() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`DALLAS_CALLS_{name.upper()}`" not in readme]
    assert missing == []


def test_readme_gives_the_two_setup_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    makefile = (REPO / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
