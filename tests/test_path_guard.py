"""The suite reads nothing outside the repository: the guard that enforces it works."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from tests.path_guard import GUARD, REPO, is_allowed


def test_a_data_folder_beside_the_checkout_is_a_violation() -> None:
    beside = REPO.parent / "a-folder-beside-the-checkout" / "feed"  # never created: only opened
    with GUARD.capture() as seen:
        with contextlib.suppress(OSError):
            open(beside / "x.json").close()
        with contextlib.suppress(OSError):
            os.listdir(beside)
        with contextlib.suppress(OSError):
            list(Path(beside).glob("*.json"))
    assert str(beside / "x.json") in seen
    assert str(beside) in seen


def test_the_repository_and_temporary_folders_are_allowed() -> None:
    with GUARD.capture() as seen:
        (REPO / "README.md").read_text()
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "a").write_text("a")
    assert seen == []
    assert is_allowed(str(REPO / "tests" / "fixtures" / "real" / "feed"))
    assert not is_allowed(str(Path.home() / "somewhere-else.csv")) or str(Path.home()).startswith(
        tempfile.gettempdir()
    )
    assert not is_allowed("/somewhere-else/data/feed/2019.json")
