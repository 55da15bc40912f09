"""One Lambda package per function: every dependency is placed in one group, and each function's
code imports nothing its package leaves out (checked by importing the handlers with the left-out
packages made unimportable). Building the zips themselves (and the size limits) is
``make package-lambda``: it needs the Lambda platform's wheels."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_lambda", REPO / "scripts" / "package_lambda.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_function_gets_only_its_groups() -> None:
    script = _script()
    names = {f: {script._name(r) for r in script.runtime_requirements(f)} for f in script.FUNCTIONS}
    assert names["tracker"] == names["downloader"] == names["publisher"] == script.GROUPS["core"]
    assert names["locator"] == script.GROUPS["core"] | script.GROUPS["geocoding"]
    for function in names:
        assert not names[function] & (script.GROUPS["api"] | script.GROUPS["lambda"])


def test_a_dependency_in_no_group_stops_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script()
    monkeypatch.setitem(script.GROUPS, "core", script.GROUPS["core"] - {"tzdata"})
    with pytest.raises(SystemExit, match="tzdata must be in exactly one"):
        script.runtime_requirements("tracker")


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not in this function's package")
sys.meta_path.insert(0, Block())
import dallas_calls.aws.handlers as h
from pathlib import Path
from dallas_calls.archive.store import decode_snapshot
from dallas_calls.pipeline import plan_poll
snapshot = sorted(Path("tests/fixtures/feed_sequence").rglob("*.json*"))[0]
from dallas_calls.tracking.state import CallsInMemory
plan = plan_poll(CallsInMemory({}), decode_snapshot(snapshot.read_bytes()), "2019-06-18T05:17:00Z", previous_held=False, geo_lookup=lambda k: None)
assert plan.changes.opened  # the tracker's stage runs too, not just the imports
"""


@pytest.mark.parametrize("function", ["tracker", "downloader", "publisher"])
def test_the_core_functions_run_without_the_geocoding_and_api_stacks(function: str) -> None:
    script = _script()
    blocked = {n.replace("-", "_") for n in script.GROUPS["geocoding"] | script.GROUPS["api"]}
    blocked |= {"shapefile", "numpy", "fastapi", "starlette"}
    code = f"BLOCKED = {sorted(blocked)!r}\n{BLOCKER}\nassert callable(h.{function})\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
