"""One data directory per instance: a held lock stops a second process with a clear message, the
kernel releases it when the holder dies (kill -9 included), and demos take separate slots."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dallas_calls.instances import InstanceBusy, claim_data_dir, claim_demo_dir

HOLD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from dallas_calls.instances import claim_data_dir, claim_demo_dir\n"
    "if sys.argv[1] == 'demo':\n"
    "    folder, lock = claim_demo_dir(Path(sys.argv[2]))\n"
    "    (folder / 'mine.txt').write_text('kept')\n"
    "else:\n"
    "    lock = claim_data_dir(Path(sys.argv[2]), 'serve')\n"
    "print('held', flush=True)\n"
    "time.sleep(60)\n"
)


def _holder(kind: str, folder: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, kind, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_data_dir_names_its_holder_and_frees_when_it_is_killed(tmp_path: Path) -> None:
    proc = _holder("live", tmp_path)
    try:
        with pytest.raises(InstanceBusy) as busy:
            claim_data_dir(tmp_path, "poll")
        assert f"dallas-calls serve (pid {proc.pid})" in str(busy.value)
        assert "--data-dir" in str(busy.value)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    lock = claim_data_dir(tmp_path, "poll")  # no stale lock after kill -9
    assert lock.held
    lock.release()


def test_demos_take_separate_slots_and_clear_only_their_own(tmp_path: Path) -> None:
    stale = tmp_path / "demo" / "2"
    stale.mkdir(parents=True)
    (stale / "old-run.txt").write_text("from an earlier demo")
    proc = _holder("demo", tmp_path)
    try:
        folder, lock = claim_demo_dir(tmp_path)
        assert folder == tmp_path / "demo" / "2"
        assert not (folder / "old-run.txt").exists(), "its own slot starts empty"
        assert (tmp_path / "demo" / "1" / "mine.txt").read_text() == "kept", "the other's files stay"
        lock.release()
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.05)
    folder, lock = claim_demo_dir(tmp_path)
    assert folder == tmp_path / "demo" / "1"
    lock.release()
